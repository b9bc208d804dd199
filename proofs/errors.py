"""Typed errors of the proofs package."""

from __future__ import annotations


class ProofsError(Exception):
    """Base of every error raised by proofs/."""


class ReportDecodeError(ProofsError):
    """Bytes that are not a valid encoding (wrong length, not on the curve, bad field)."""


class ProverError(ProofsError):
    """The honest prover refuses: a value is outside the range it would have to prove."""

    def __init__(self, message: str, *, index: int, value: int) -> None:
        super().__init__(f"{message}: value #{index} = {value} is not in [0, 2^64)")
        self.index = index
        self.value = value


class StatementError(ProofsError):
    """A solvency form or input vector of the wrong shape."""
