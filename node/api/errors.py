"""Typed API errors: every refusal is `{"error": {"type", "message", "details"}}` with a
status code chosen by what went wrong, never a bare 500 for bad input.

Clearing's own errors (dataclasses carrying the numbers) are passed through with
their class name as type and their fields as details.
"""

from __future__ import annotations

import dataclasses

from clearing.errors import (
    BadSignature,
    ClearingError,
    DuplicateCredit,
    DuplicateTrade,
    NonceReused,
    ObservationNotNewer,
    UnknownSigner,
)
from node.api.http import Response, json_response
from node.liveness import NotCommitting
from node.mempool import (
    CheckFailed,
    DuplicateTx,
    MempoolError,
    MempoolFull,
    NonceTaken,
    TxRejected,
    TxTooLarge,
)
from records.codec import DecodeError


class ApiError(Exception):
    """An error answered to the client as JSON with `status`."""

    def __init__(self, status: int, type_: str, message: str, **details: object) -> None:
        self.status = status
        self.type = type_
        self.message = message
        self.details = details
        super().__init__(message)


def error_response(status: int, type_: str, message: str, details: object = None) -> Response:
    return json_response(
        status, {"error": {"type": type_, "message": message, "details": details or {}}}
    )


def to_json_value(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int | str | bool) or value is None:
        return value
    return repr(value)


# the same transaction or what it spends again (a copy of a price update: its observations)
REPLAYS = (
    DuplicateTx,
    NonceTaken,
    NonceReused,
    DuplicateTrade,
    DuplicateCredit,
    ObservationNotNewer,
)


def status_for_clearing(error: ClearingError) -> int:
    if isinstance(error, BadSignature | UnknownSigner):
        return 401
    if isinstance(error, REPLAYS):
        return 409
    return 422


def api_error_from(exc: Exception) -> ApiError:
    """Map a mempool / clearing refusal to an ApiError with its numbers as details."""
    if isinstance(exc, TxRejected):
        return api_error_from(exc.cause)
    if isinstance(exc, DecodeError):
        return ApiError(400, exc.code, str(exc), what=exc.what, reason=exc.reason)
    if isinstance(exc, ClearingError):
        details: dict[str, object] = (
            {f.name: to_json_value(getattr(exc, f.name)) for f in dataclasses.fields(exc)}
            if dataclasses.is_dataclass(exc)
            else {}
        )
        return ApiError(status_for_clearing(exc), exc.code, str(exc), **details)
    if isinstance(exc, CheckFailed):  # the node's fault, not the sender's: logged as a bug
        return ApiError(500, "CheckFailed", str(exc))
    if isinstance(exc, TxTooLarge):
        return ApiError(413, "TxTooLarge", str(exc), size=exc.size, limit=exc.limit)
    if isinstance(exc, MempoolFull):
        return ApiError(503, "MempoolFull", str(exc), count=exc.count, bytes=exc.size)
    if isinstance(exc, NotCommitting):
        return ApiError(
            503,
            "NotCommitting",
            str(exc),
            last_height=exc.last_height,
            idle_ms=exc.idle_ms,
            limit_ms=exc.limit_ms,
        )
    if isinstance(exc, REPLAYS):
        return ApiError(409, type(exc).__name__, str(exc))
    if isinstance(exc, MempoolError):
        return ApiError(422, type(exc).__name__, str(exc))
    raise exc
