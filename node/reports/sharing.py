"""One epoch's proofs, as a validator gathers them from the validators that share the work.

Proofs are deterministic (blindings from the validators' shared seed, nonces from
the transcript), so an account's proof is the same bytes whoever proves it, and
the report is the same bytes whoever proved which account. Each validator proves
the accounts `assign_accounts` gives it and gossips them (`ProofShare`); the
others keep each proof from the account's assigned prover only, first copy
(bounded by the epoch's accounts), and use it only once the report's worker has
verified it (`proofs.drafting.complete_report`). Commitments never travel: each
validator recomputes them from the seed.

Shares travel by gossip, not by request/response (sync.py): every validator
needs every share at once, as soon as it is proven, with no round trip and no
knowing who holds what; split into messages of at most 512 proofs (about 740 KB
at m = 32), a share of any size stays far below the topic's 8 MiB decoding cap.
Nothing is gossiped again: a validator that missed a share (it restarted, or
joined late) proves those accounts itself after the wait.

A share this node cannot use (a late one, one for an epoch it is not building,
one for another statement) is refused with `ProofShareRefused` and changes
nothing; it is nobody's offence, since honest validators send such shares
whenever they run ahead of or behind this node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import trio

from clearing.transition.reported_accounts import AccountKey
from node.reports.gossip import ProofShare


class ProofShareRefused(ValueError):
    """A proof share this node does not keep, and why."""

    def __init__(self, share: ProofShare, reason: str) -> None:
        super().__init__(f"proof share of epoch {share.epoch} by 0x{share.signer.hex()} "
                         f"({len(share.proofs)} proofs) not kept: {reason}")  # fmt: skip
        self.share = share
        self.reason = reason


class EpochProofs:
    """The proofs at hand for the report of `epoch`: this validator's and its peers'."""

    def __init__(
        self, epoch: int, statement_digest: bytes, assignment: Mapping[AccountKey, bytes]
    ) -> None:
        self.epoch = epoch
        self.statement_digest = statement_digest
        self.assignment = assignment
        self.proofs: dict[AccountKey, bytes] = {}
        self.provers: dict[AccountKey, bytes] = {}  # who sent each proof kept
        self.proven: frozenset[AccountKey] | None = None  # once this node's worker says
        self.complete = trio.Event()  # every proven account has a proof

    def add(self, share: ProofShare) -> int:
        """Keep the share's proofs not yet at hand; how many. Raises ProofShareRefused."""
        if share.epoch != self.epoch:
            raise ProofShareRefused(share, f"this node is building epoch {self.epoch}")
        if share.statement_digest != self.statement_digest:
            raise ProofShareRefused(share, "proven against another statement")
        foreign = [key for key, _ in share.proofs if self.assignment.get(key) != share.signer]
        if foreign:
            raise ProofShareRefused(share, f"{len(foreign)} of its accounts are not its to prove")
        new = [(key, proof) for key, proof in share.proofs if key not in self.proofs]
        for key, proof in new:
            self.proofs[key] = proof
            self.provers[key] = share.signer
        self._check_complete()
        return len(new)

    def expect(self, proven: Iterable[AccountKey]) -> None:
        """The accounts the report proves (those in default have no proof)."""
        self.proven = frozenset(proven)
        self._check_complete()

    def count_missing(self) -> Counter[bytes]:
        """How many proofs are missing, by assigned prover."""
        proven = self.proven if self.proven is not None else self.assignment.keys()
        return Counter(self.assignment[k] for k in proven if k not in self.proofs)

    def _check_complete(self) -> None:
        if self.proven is not None and self.proven <= self.proofs.keys():
            self.complete.set()
