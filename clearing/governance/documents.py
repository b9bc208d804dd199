"""Genesis-format JSON objects inside governance records (a listed instrument, a risk
section): carried as text, so a change is validated exactly as the genesis validates
the same entry, and encoded canonically (sorted keys, no spaces) for the state root."""

from __future__ import annotations

import json
from typing import Any

from clearing.errors import DecodeError
from clearing.limits import MAX_TX_BYTES


def encode_document(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode_document(obj: object, what: str) -> dict[str, Any]:
    """A JSON object with string keys; ``DecodeError`` for anything else."""
    if not isinstance(obj, str) or len(obj) > MAX_TX_BYTES:
        raise DecodeError(what, "expected JSON text")
    try:
        doc = json.loads(obj, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise DecodeError(what, f"not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise DecodeError(what, "expected a JSON object")
    return doc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
