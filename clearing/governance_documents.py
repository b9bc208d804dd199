"""Genesis-format JSON objects inside governance records (a listed instrument, a risk
section): carried as text, so a change is validated exactly as the genesis validates
the same entry, and encoded canonically (sorted keys, no spaces) for the state root.
Any JSON the genesis loader reads is accepted here too (a number where an integer is
due is the genesis parsers' refusal, as for the genesis file)."""

from __future__ import annotations

import json
from typing import Any

from records.codec import DecodeError

MAX_DOCUMENT_CHARS = 256 * 1024
MAX_DOCUMENT_DEPTH = 16
"""A genesis risk section nests 4 deep. The bound is checked before parsing: how deep
the JSON parser can go depends on the interpreter's stack, which must never decide
whether a transaction is valid."""


def get_nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside
    strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def encode_document(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def expect_document_text(obj: object, what: str) -> str:
    """The JSON text of a document, kept as the text it was (its bytes are signed)."""
    decode_document(obj, what)
    return obj  # type: ignore[return-value]  # decode_document checked it is a str


def decode_document(obj: object, what: str) -> dict[str, Any]:
    """A JSON object with string keys; ``DecodeError`` for anything else."""
    if not isinstance(obj, str):
        raise DecodeError(what, "expected JSON text")
    if len(obj) > MAX_DOCUMENT_CHARS:
        raise DecodeError(what, f"{len(obj)} characters exceed {MAX_DOCUMENT_CHARS}")
    depth = get_nesting_depth(obj)
    if depth > MAX_DOCUMENT_DEPTH:
        raise DecodeError(what, f"nested {depth} deep, more than {MAX_DOCUMENT_DEPTH}")
    try:
        doc = json.loads(obj)
    except ValueError as error:
        raise DecodeError(what, f"not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise DecodeError(what, "expected a JSON object")
    return doc
