"""What bounding a JSON body's nesting costs on the worst bodies the API reads.

`compute_json_depth` runs on the event loop before any signature check, so it must
stay linear and fast whatever a stranger sends. Each shape fills `--bytes` (default:
the transaction routes' cap, MAX_API_BODY_BYTES); figures are the best of `--runs`
in ms, for the bound alone (`depth_ms_*`) and the whole parse (`parse_ms_*`).
A backtracking string regex took days on `quote_backslash` at 8 MiB, and a per-byte
Python loop seconds on `brackets`.

    python -m bench api_bodies [--bytes 8389632] [--runs 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from node.api.bodies import compute_json_depth, parse_json_object
from node.api.errors import ApiError
from node.limits import MAX_API_BODY_BYTES


def get_shapes(size: int) -> dict[str, bytes]:
    half, quarter = size // 2, size // 4
    return {
        "quote_backslash": b'"\\' * half,  # an unterminated string of escaped quotes
        "brackets": b"[]" * half,
        "open": b"[" * size,
        "empty_strings": b'""' * half,
        "strings_in_brackets": b'"["[' * quarter,
        "escaped_backslashes": b'"' + b"\\\\" * (half - 1) + b'"',
        "hex_tx": b'{"tx": "0x' + b"ab" * ((size - 12) // 2) + b'"}',  # the legitimate shape
    }


def get_best_ms(action: Callable[[bytes], object], body: bytes, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        try:
            action(body)
        except ApiError:
            pass  # the hostile shapes are refused: the time to refuse is the figure
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench api_bodies")
    parser.add_argument("--bytes", type=int, default=MAX_API_BODY_BYTES)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"bytes": args.bytes}
    for name, body in get_shapes(args.bytes).items():
        figures[f"depth_ms_{name}"] = get_best_ms(compute_json_depth, body, args.runs)
        figures[f"parse_ms_{name}"] = get_best_ms(parse_json_object, body, args.runs)
    return figures
