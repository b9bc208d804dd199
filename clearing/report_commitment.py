"""Committing an epoch's solvency report hash, so a report cannot be swapped later.

Validators build the report of epoch ``e`` from the state committed at height
``e * epoch_length_blocks`` (proofs/FORMAT.md) and each signs
``compute_report_signing_bytes(chain_id, e, report_hash)``: the attestation
bytes of domain ``solvency-report`` over ``[epoch, report_hash]`` on this chain,
so a signature for another chain or epoch is worthless here. The node signs
exactly these bytes (it imports this function); there is no other definition.

A ``ReportCommitment`` carrying attestations of more than 2/3 of power records
``state.report_hashes[epoch] = report_hash``, once: the same hash again is
``ReportAlreadyCommitted``, a different one ``ConflictingReportHash``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from clearing.attestation import (
    Attestation,
    compute_signing_bytes,
    decode_attestations,
    verify_quorum_attestations,
)
from clearing.codec import expect_bytes, expect_int, expect_list
from clearing.context import BlockContext
from clearing.errors import InvalidTransaction
from clearing.events import Event, make_event
from clearing.state import ClearingState
from clearing.units import MAX_UINT64

REPORT_DOMAIN = "solvency-report"
REPORT_HASH_BYTES = 32


@dataclass(eq=False)
class ReportEpochNotReached(InvalidTransaction):
    """Epoch ``epoch`` ends at height ``epoch * epoch_length``, after ``height``."""

    epoch: int
    epoch_length: int
    height: int


@dataclass(eq=False)
class ReportAlreadyCommitted(InvalidTransaction):
    epoch: int
    report_hash: bytes


@dataclass(eq=False)
class ConflictingReportHash(InvalidTransaction):
    """Epoch ``epoch`` already has ``committed``; ``proposed`` is refused."""

    epoch: int
    committed: bytes
    proposed: bytes


def compute_report_signing_bytes(chain_id: int, epoch: int, report_hash: bytes) -> bytes:
    """The exact bytes a validator signs to commit ``report_hash`` for ``epoch``."""
    return compute_signing_bytes(REPORT_DOMAIN, chain_id, [epoch, report_hash])


@dataclass(frozen=True, slots=True)
class ReportCommitment:
    KIND: ClassVar[int] = 8
    epoch: int
    report_hash: bytes
    attestations: tuple[Attestation, ...]

    def to_fields(self) -> list[object]:
        return [self.epoch, self.report_hash, [a.to_fields() for a in self.attestations]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> ReportCommitment:
        epoch, report_hash, attestations = expect_list(fields, "ReportCommitment", 3)
        return cls(
            expect_int(epoch, "epoch", 1, MAX_UINT64),
            expect_bytes(report_hash, "report_hash", REPORT_HASH_BYTES),
            decode_attestations(attestations),
        )


def check_report_commitment(state: ClearingState, chain_id: int, tx: ReportCommitment) -> None:
    """Raise the typed reason ``tx`` cannot be recorded now; changes nothing."""
    length = state.genesis.epoch_length_blocks
    if tx.epoch * length > state.height:
        raise ReportEpochNotReached(tx.epoch, length, state.height)
    committed = state.report_hashes.get(tx.epoch)
    if committed == tx.report_hash:
        raise ReportAlreadyCommitted(tx.epoch, committed)
    if committed is not None:
        raise ConflictingReportHash(tx.epoch, committed, tx.report_hash)
    verify_quorum_attestations(
        state.validators,
        state.total_power,
        tx.attestations,
        compute_report_signing_bytes(chain_id, tx.epoch, tx.report_hash),
    )


def process_report_commitment(
    state: ClearingState, ctx: BlockContext, tx: ReportCommitment
) -> list[Event]:
    """Record the quorum-signed hash of epoch ``tx.epoch``'s report, once."""
    check_report_commitment(state, ctx.chain_id, tx)
    state.report_hashes[tx.epoch] = tx.report_hash
    return [
        make_event(
            "report_committed",
            epoch=tx.epoch,
            report_hash=tx.report_hash,
            signers=len(tx.attestations),
        )
    ]
