"""Request bodies → clearing transactions, validating every field before use.

Member requests arrive as the EIP-712 typed data the member's wallet signed:
`{"type", "chainId", "message", "signature"}`; the message's field names and types
are clearing's own EIP-712 definitions, so what is parsed is exactly what was signed.
Venue batches and bridge events arrive already encoded (`{"tx": "0x..."}` or a raw
`application/msgpack` body): their signatures are over clearing's bytes.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from clearing.limits import MAX_TX_BYTES
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS, MEMBER_REQUESTS
from clearing.tx_kind import TxRecord
from node.api.errors import ApiError
from node.api.http import Request
from node.decoded_txs import decode_once
from records.codec import DecodeError

MAX_JSON_DEPTH = 16
"""Deepest nesting of objects and arrays a request body may have; ours need 3. The bound is
checked before decoding: `py_ecc` raises Python's recursion limit to 100,000, so the C JSON
decoder would overflow the process's stack (SIGSEGV) on a deeply nested body first."""
MAX_JSON_INT_DIGITS = 78
"""Digits of the longest integer a request carries (a uint256 has 78)."""
_JSON_STEPS = bytes.maketrans(b'"[{]}', b"\x00\x01\x01\xff\xff")
"""A quote as 0, an opening bracket as +1 and a closing one as -1 (int8)."""
_NOT_A_JSON_STEP = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def compute_json_depth(body: bytes) -> int:
    """Deepest nesting of `[` and `{` outside strings of a UTF-8 body.

    Whole-buffer passes in C (bytes methods and numpy), no per-byte Python loop and no
    backtracking regex, so the bound costs milliseconds on the largest body the API reads,
    whatever its shape. An upper bound for malformed text: the decoder stops at its first
    error, and up to there it lexes strings exactly as here."""
    # Drop escaped backslashes, then escaped quotes: every quote left opens or closes a string.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    steps = np.frombuffer(unescaped.translate(_JSON_STEPS, _NOT_A_JSON_STEP), dtype=np.int8)
    in_string = np.bitwise_xor.accumulate(steps == 0)
    outside = np.where(in_string, np.int8(0), steps)
    return int(np.cumsum(outside, dtype=np.int32).max(initial=0))


def _parse_bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits exceeds {MAX_JSON_INT_DIGITS}")
    return int(text)


def require_json(request: Request) -> None:
    """Refuse a body that is not declared JSON (none declared is JSON)."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip() != "application/json":
        raise ApiError(
            415, "UnsupportedMediaType", f"expected application/json, got {content_type}"
        )


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        # UTF-8 only (RFC 8259): json.loads would also take UTF-16 and UTF-32, whose
        # bytes compute_json_depth cannot lex, so nesting could hide from the bound.
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "MalformedJson", f"body is not UTF-8: {exc.reason} at byte {exc.start}",
            position=exc.start,
        ) from None  # fmt: skip
    depth = compute_json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(
            400, "MalformedJson", f"body nests {depth} levels deep, at most {MAX_JSON_DEPTH}",
            depth=depth, limit=MAX_JSON_DEPTH,
        )  # fmt: skip
    try:
        value = json.loads(text, parse_int=_parse_bounded_int)
    except ValueError as exc:  # JSONDecodeError and the integer bound
        raise ApiError(400, "MalformedJson", f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "MalformedJson", "body must be a JSON object")
    return value


def get_field(obj: dict[str, Any], name: str, where: str = "") -> Any:
    if name not in obj:
        raise ApiError(400, "MissingField", f"missing field {where}{name}", field=where + name)
    return obj[name]


def hex0x(data: bytes) -> str:
    """Bytes as the API writes them: lowercase hex with a 0x prefix (read by parse_hex)."""
    return "0x" + data.hex()


def parse_hex(value: object, field: str, length: int | None = None) -> bytes:
    try:
        assert isinstance(value, str) and value[:2] in ("0x", "0X")
        data = bytes.fromhex(value[2:])
        assert length is None or len(data) == length
    except (AssertionError, ValueError):
        size = "" if length is None else f" of {length} bytes"
        raise ApiError(
            400, "InvalidField", f"{field}: expected 0x-hex{size}", field=field
        ) from None
    return data


def parse_uint(value: object, field: str, bits: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise ApiError(
            400, "InvalidField", f"{field}: expected an integer in [0, 2^{bits})", field=field
        )
    return value


def parse_int(value: object, field: str, bits: int) -> int:
    bound = 2 ** (bits - 1)
    if not isinstance(value, int) or isinstance(value, bool) or not -bound <= value < bound:
        raise ApiError(
            400, "InvalidField", f"{field}: expected an integer in [-2^{bits - 1}, 2^{bits - 1})",
            field=field,
        )  # fmt: skip
    return value


def parse_typed_value(value: object, eip712_type: str, field: str) -> object:
    """One EIP-712 message value as clearing stores it (addresses as 20 raw bytes)."""
    if eip712_type == "address":
        return parse_hex(value, field, 20)
    if eip712_type.startswith("uint"):
        return parse_uint(value, field, int(eip712_type[4:]))
    if eip712_type.startswith("int"):
        return parse_int(value, field, int(eip712_type[3:]))
    if eip712_type == "bool" and isinstance(value, bool):
        return value
    if eip712_type == "string" and isinstance(value, str):
        return parse_text(value, field)
    raise ApiError(400, "InvalidField", f"{field}: expected {eip712_type}", field=field)


def parse_text(value: str, field: str) -> str:
    """A string that UTF-8 can encode, as the signature and the ledger's codec must: JSON's
    `\\ud800` escape decodes to a lone surrogate, which no encoder takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = f"U+{ord(value[exc.start]):04X}"
        raise ApiError(
            400, "InvalidField", f"{field}: a lone surrogate {code} at index {exc.start} "
            "is not text", field=field, index=exc.start,
        ) from None  # fmt: skip
    return value


def parse_message(message: object, fields: list[dict[str, str]]) -> list[object]:
    """The message values in EIP-712 field order; no missing or extra fields."""
    if not isinstance(message, dict):
        raise ApiError(400, "InvalidField", "message: expected an object", field="message")
    names = [f["name"] for f in fields]
    extra = sorted(set(message) - set(names))
    if extra:
        raise ApiError(400, "UnknownField", f"message.{extra[0]} is not a field", field=extra[0])
    return [
        parse_typed_value(get_field(message, f["name"], "message."), f["type"], f["name"])
        for f in fields
    ]


def check_chain_id(obj: dict[str, Any], chain_id: int) -> None:
    got = get_field(obj, "chainId")
    if got != chain_id:
        raise ApiError(
            400, "WrongChainId", f"signed for chain {got!r}, this is chain {chain_id}",
            expected=chain_id, got=got if isinstance(got, int) else repr(got),
        )  # fmt: skip


def parse_member_request(body: bytes, chain_id: int) -> TxRecord:
    obj = parse_json_object(body)
    kind = get_field(obj, "type")
    if not isinstance(kind, str) or kind not in MEMBER_REQUESTS:
        raise ApiError(
            400, "InvalidField", f"type: expected one of {sorted(MEMBER_REQUESTS)}", field="type"
        )
    check_chain_id(obj, chain_id)
    record_type = MEMBER_REQUESTS[kind]
    values = parse_message(get_field(obj, "message"), record_type.SCHEMA.eip712_fields)
    signature = parse_hex(get_field(obj, "signature"), "signature", 65)
    record: TxRecord = record_type(*values, signature)
    return record


def parse_encoded_tx(body: bytes, content_type: str, allowed: tuple[type, ...]) -> bytes:
    """Raw tx bytes from a msgpack body or `{"tx": "0x..."}`, of an allowed kind."""
    if content_type.split(";")[0].strip() == "application/msgpack":
        raw = body
    else:
        raw = parse_hex(get_field(parse_json_object(body), "tx"), "tx")
    if len(raw) > MAX_TX_BYTES:
        raise ApiError(
            413, "TxTooLarge", f"transaction of {len(raw)} bytes exceeds {MAX_TX_BYTES}",
            size=len(raw), limit=MAX_TX_BYTES,
        )  # fmt: skip
    try:
        tx = decode_once(raw)
    except DecodeError as exc:
        raise ApiError(400, "DecodeError", str(exc), what=exc.what, reason=exc.reason) from None
    if not isinstance(tx, allowed):
        names = [t.__name__ for t in allowed]
        raise ApiError(
            400, "WrongTxKind", f"{type(tx).__name__} is not accepted here; expected {names}"
        )
    return raw


def parse_account_query(
    body: bytes, chain_id: int, fields: list[dict[str, str]] = ACCOUNT_QUERY_FIELDS
) -> tuple[bytes, int, int, bytes]:
    """(member, the middle field, issued_at_ms, signature) of a signed query of one's own
    account (`fields`: ACCOUNT_QUERY_FIELDS, its sub-account; ACCOUNT_EVENTS_FIELDS, the
    height its events start at)."""
    obj = parse_json_object(body)
    check_chain_id(obj, chain_id)
    member, middle, issued = parse_message(get_field(obj, "message"), fields)
    signature = parse_hex(get_field(obj, "signature"), "signature", 65)
    assert isinstance(member, bytes) and isinstance(middle, int) and isinstance(issued, int)
    return member, middle, issued, signature
