"""Committing an epoch's solvency report hash, so a report cannot be swapped later.

Validators build the report of epoch ``e`` from the state committed at height
``e * epoch_length_blocks`` (proofs/FORMAT.md) and each signs
``compute_report_signing_bytes(chain_id, e, report_hash)``: the attestation
bytes of domain ``solvency-report`` over ``[epoch, report_hash]`` on this chain,
so a signature for another chain or epoch is worthless here. It is the one
definition: a report's signatures are made over it (proofs/drafting.py) and checked
against it (proofs/checks.py), so the signatures a report publishes are the
attestations committed here.

A ``ReportCommitment`` carrying attestations of more than 2/3 of power records
``state.report_hashes[epoch] = report_hash``, once: the same hash again is
``ReportAlreadyCommitted``, a different one ``ConflictingReportHash``.

The state root holds ``report_hashes`` by one 32-byte digest, a hash chain over
the entries in epoch order (``compute_report_hashes_digest``), which a
``ReportHashChain`` keeps up to date in O(1) per new epoch instead of
re-hashing the whole history every block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, ClassVar

from clearing.attestation import Attestations, compute_signing_bytes, verify_quorum_attestations
from clearing.context import BlockContext
from clearing.errors import InvalidTransaction
from clearing.events import Event, make_event
from clearing.state import ClearingState
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from records.declared import Bytes, Declared, Int, declare_record

REPORT_DOMAIN = "solvency-report"
REPORT_HASH_BYTES = 32
REPORT_CHAIN_DOMAIN = b"clearnode/report-hashes/v1"
REPORT_CHAIN_START = hashlib.sha256(REPORT_CHAIN_DOMAIN).digest()


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


@declare_record
@dataclass(frozen=True, slots=True)
class ReportCommitment(Declared):
    KIND: ClassVar[int] = 8
    epoch: Annotated[int, Int(1)]
    report_hash: Annotated[bytes, Bytes(REPORT_HASH_BYTES)]
    attestations: Attestations


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


def compute_report_chain_link(previous: bytes, epoch: int, report_hash: bytes) -> bytes:
    """The digest after appending ``(epoch, report_hash)`` to the chain ending in ``previous``."""
    return hashlib.sha256(
        REPORT_CHAIN_DOMAIN + previous + epoch.to_bytes(8, "big") + report_hash
    ).digest()


def compute_report_hashes_digest(report_hashes: Mapping[int, bytes]) -> bytes:
    """From scratch: the chain from ``REPORT_CHAIN_START`` over every entry by epoch."""
    digest = REPORT_CHAIN_START
    for epoch, report_hash in sorted(report_hashes.items()):
        digest = compute_report_chain_link(digest, epoch, report_hash)
    return digest


@dataclass(slots=True)
class ReportHashChain:
    """``compute_report_hashes_digest(source)``, kept up to date incrementally.

    Clearing only ever adds entries (a committed epoch's hash never changes), and a
    dict iterates in insertion order, so the entries added since the last call are
    its last ``len - count``: one link each when their epochs follow every epoch
    already chained (the usual case), a rebuild when an older epoch's report
    is committed late or ``source`` is not the dict it tracked.
    """

    source: dict[int, bytes]
    count: int = 0
    last_epoch: int = 0
    digest: bytes = REPORT_CHAIN_START

    def get_digest(self, report_hashes: dict[int, bytes]) -> bytes:
        added = len(report_hashes) - self.count
        if report_hashes is not self.source or added < 0:
            self._rebuild(report_hashes)
        elif added:
            new = sorted(islice(reversed(report_hashes.items()), added))
            if new[0][0] <= self.last_epoch:
                self._rebuild(report_hashes)
            else:
                for epoch, report_hash in new:
                    self.digest = compute_report_chain_link(self.digest, epoch, report_hash)
                self.count, self.last_epoch = len(report_hashes), new[-1][0]
        return self.digest

    def _rebuild(self, report_hashes: dict[int, bytes]) -> None:
        self.source = report_hashes
        self.count = len(report_hashes)
        self.last_epoch = max(report_hashes, default=0)
        self.digest = compute_report_hashes_digest(report_hashes)


def admit_report_commitment(
    state: ClearingState, ctx: BlockContext, tx: ReportCommitment, _raw: bytes
) -> Sender:
    """A quorum signed the epoch's report and none is committed for it yet; unique by its
    epoch and hash."""
    check_report_commitment(state, ctx.chain_id, tx)
    return Sender(b"report:%d:" % tx.epoch + tx.report_hash)


REPORT_COMMITMENT = TxKind(
    ReportCommitment, admit_report_commitment, process_report_commitment, Priority.SYSTEM,
    Submitter.VALIDATOR,
)  # fmt: skip
