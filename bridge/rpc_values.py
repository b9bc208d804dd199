"""JSON-RPC's hex quantities and data read with their shape checked, and a value quoted
short: how the node's watcher (bridge/chain_answers.py) and the SDK's verifier
(clearnode/client/jsonrpc.py) both read what a chain node answers. Each reader wraps the
ValueError in its own typed error, which names the node and the field."""

from __future__ import annotations

from typing import Any

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
SHOWN_CHARS = 80
"""The most of a malformed value an error message quotes (a node may answer megabytes)."""


def show(value: Any) -> str:
    """`value` as an error message quotes it: its repr, cut to `SHOWN_CHARS`."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def parse_quantity(value: Any) -> int:
    """`value`, a JSON-RPC hex quantity ("0x1a"), as an int; ValueError saying what it is
    instead."""
    digits = value[2:] if isinstance(value, str) and value.startswith("0x") else ""
    if not digits or not all(c in HEX_DIGITS for c in digits):
        raise ValueError(f"{show(value)} is not a hex number")
    return int(digits, 16)


def parse_data(value: Any, length: int | None = None) -> bytes:
    """`value`, JSON-RPC hex data ("0x00ff"), of `length` bytes if given, as bytes;
    ValueError saying what it is instead."""
    if not (isinstance(value, str) and value.startswith("0x")):
        raise ValueError(f"{show(value)} is not hex data")
    try:
        found = bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"{show(value)} is not hex data") from None
    if length is not None and len(found) != length:
        raise ValueError(f"{show(value)} is {len(found)} bytes, not {length}")
    return found
