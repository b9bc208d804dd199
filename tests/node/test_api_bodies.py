"""Request-body parsing at the edge: the nesting bound is exact on JSON, an upper bound on
anything else, and linear; text that cannot be encoded is refused naming its field."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.transition.member_requests import MEMBER_REQUESTS
from clearing.transition.tx import decode_tx, encode_tx
from node.api.bodies import (
    MAX_JSON_DEPTH,
    compute_json_depth,
    parse_json_object,
    parse_member_request,
)
from node.api.errors import ApiError
from tests.node.hostile import CHAIN_ID, QUADRATIC


def lex_json_depth(body: bytes) -> tuple[int, bool]:
    """The nesting depth a JSON decoder reaches, one byte at a time (the reference), and
    whether it stopped early: at a backslash outside a string, where the decoder fails."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord("\\"):
            return deepest, True
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest, False


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\u00e9'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a'), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(JSON_VALUES, st.sampled_from([None, 2]))
def test_the_depth_of_json_is_its_nesting(value: Any, indent: int | None) -> None:
    body = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    assert compute_json_depth(body) == nesting(value)


JSONISH = bytes.maketrans(bytes(range(6)), b'[]{}"\\')


@given(st.binary().map(lambda b: b.translate(JSONISH)))
def test_the_depth_of_any_bytes_bounds_what_a_json_decoder_reaches(body: bytes) -> None:
    depth, stopped = lex_json_depth(body)
    if stopped:  # past the decoder's error the bound may count more, never less
        assert compute_json_depth(body) >= depth
    else:
        assert compute_json_depth(body) == depth


@pytest.mark.parametrize(
    "body",
    [
        QUADRATIC * 4,  # a backtracking string regex took seconds on 16 KiB of it
        b"[]" * 8192,  # a per-byte Python loop
        b'"["' * 5461,
        b"[" * 16384,
    ],
)
def test_the_depth_bound_is_linear_on_worst_case_bodies(body: bytes) -> None:
    started = time.perf_counter()
    compute_json_depth(body)
    assert time.perf_counter() - started < 0.5  # milliseconds in fact; seconds before


def test_a_body_is_read_as_utf8_only() -> None:
    # json.loads would decode UTF-16, whose bytes can hide the nesting from the bound:
    # U+2200 is the bytes 00 22, a quote to a byte-wise lexer.
    deep: Any = 0
    for _ in range(MAX_JSON_DEPTH * 2):
        deep = [deep]
    hidden = json.dumps({"tx": ["\u2200", deep]}, ensure_ascii=False).encode("utf-16-le")
    assert compute_json_depth(hidden) < MAX_JSON_DEPTH < nesting(json.loads(hidden))
    with pytest.raises(ApiError) as refused:  # read as UTF-8, its NULs are not JSON
        parse_json_object(hidden)
    assert (refused.value.status, refused.value.type) == (400, "MalformedJson")


SIGNATURE = "0x" + "00" * 65
STRING_FIELDS = [
    (kind, field["name"])
    for kind, request in MEMBER_REQUESTS.items()
    for field in request.SCHEMA.eip712_fields
    if field["type"] == "string"
]


def valid_message(kind: str) -> dict[str, object]:
    values = {"address": "0x" + "11" * 20, "bool": True, "string": "alpha"}
    fields = MEMBER_REQUESTS[kind].SCHEMA.eip712_fields
    return {f["name"]: values.get(f["type"], 1) for f in fields}


@pytest.mark.parametrize(("kind", "field"), STRING_FIELDS)
@pytest.mark.parametrize("text", ["\ud800", "venue\udfff", "\udbff\udc00\ud800"])
def test_a_lone_surrogate_in_any_string_field_is_refused_naming_it(
    kind: str, field: str, text: str
) -> None:
    message = {**valid_message(kind), field: text}
    body = {"type": kind, "chainId": CHAIN_ID, "message": message, "signature": SIGNATURE}
    with pytest.raises(ApiError, match=f"{field}: a lone surrogate") as refused:
        parse_member_request(json.dumps(body).encode(), CHAIN_ID)
    assert (refused.value.status, refused.value.type) == (400, "InvalidField")
    assert refused.value.details["field"] == field


def test_text_that_encodes_is_taken() -> None:
    assert STRING_FIELDS  # the test above checks something
    for kind, field in STRING_FIELDS:
        message = {**valid_message(kind), field: "caf\u00e9 \U0001f600"}
        body = {"type": kind, "chainId": CHAIN_ID, "message": message, "signature": SIGNATURE}
        record = parse_member_request(json.dumps(body).encode(), CHAIN_ID)
        assert decode_tx(encode_tx(record)) == record
