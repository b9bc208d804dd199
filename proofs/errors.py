"""Typed errors of the proofs package."""

from __future__ import annotations

from records.codec import DecodeError


class ProofsError(Exception):
    """Base of every error raised by proofs/."""


class ReportDecodeError(DecodeError, ProofsError):
    """A report, or a part of one, that does not decode (wrong length, not on the curve, bad
    field): the codec's `DecodeError` of the record "report", whose message is its reason
    alone. That message is the failure line `clearnode verify` prints, the browser verifier
    prints alike (web/verifier) and the report vectors hold (tests/vectors/reports), so it
    is not reworded as "cannot decode report: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__("report", reason)
        self.args = (reason,)

    def __str__(self) -> str:
        return self.reason


class ProverError(ProofsError):
    """The honest prover refuses: a value is outside the range it would have to prove."""

    def __init__(self, message: str, *, index: int, value: int) -> None:
        super().__init__(f"{message}: value #{index} = {value} is not in [0, 2^64)")
        self.index = index
        self.value = value


class StatementError(ProofsError):
    """A solvency form or input vector of the wrong shape."""
