"""The reports service: build, sign, gossip, commit, store and serve each epoch's report.

Per epoch `e` (committed height `e * epoch_length_blocks`), on a validator:
1. the commit listener extracts the inputs from the just-committed state (fast,
   on the trio loop: the state moves on with the next block) and queues them;
2. the builder proves the accounts assigned to this validator (assignment.py,
   among the set in force at the epoch's block: a key not in it builds nothing) in a
   worker process and gossips the proofs (a ProofShare); it gathers the other
   validators' proofs (sharing.py) until it has every account's or `[reports]
   share_wait_s` has passed since its own were done; then a second worker
   completes the report (the proofs gathered, verified in one batch, every
   account without a verified proof proven there: a validator that is down, slow
   or wrong is covered), and the builder signs the report hash and gossips its
   signature share;
3. shares of validators with more than 2/3 of the power of the set in force
   (the committed state's: what clearing checks) over this node's own hash make a
   ReportCommitment, which this node puts first in its own proposals until a block
   records it (made again if the set changes meanwhile), and complete the report
   (stored on disk);
4. when the commitment is committed, each validator gossips the complete
   report, signed by the set that checked the commitment (unless it is above the
   gossip cap); full nodes keep it when its hash is the committed one and its
   signatures reach quorum of that set;
5. any node that still lacks a committed report (offline at the commit, its own
   build skipped, too big to gossip) fetches it from a peer (sync.py), under the
   same check; every node serves its stored reports to its peers.
A validator that cannot build (an insolvent account, a book that is not flat)
logs why and signs nothing for that epoch.

A builder slower than the epochs (a loaded machine, a huge book) falls behind
gracefully, and the validators' builders converge on one epoch however out of step they
came free: each keeps the inputs of the EPOCHS_TRACKED newest epochs it has not built
(and gathers the other validators' proofs of them), and a free builder takes the one
the most power is already on (its signers, and the validators whose newest proof share
is of it), the newest on a tie (`choose_epoch`). An epoch's shares and report are kept
until it or a newer epoch is committed, however many chain epochs the build took. A
builder does not wait for the proofs of a validator that has moved on to a newer epoch,
or that was silent for `share_wait_s` (down, or not building): it proves them at once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import is_quorum
from clearing.report_commitment import ReportCommitment
from clearing.state import ClearingState
from clearing.transition.tx import encode_tx
from clearing.validator_set import get_voting_powers
from node.committed import CommittedBlock
from node.config import NodeConfig
from node.reports.api import ReportsApi
from node.reports.assignment import assign_accounts
from node.reports.gossip import (
    MAX_ANNOUNCEMENT_BYTES,
    REPORTS,
    ProofShare,
    ReportAnnouncement,
    SignatureShare,
    encode_report_announcement,
    make_reports_topic,
    sign_proof_shares,
    sign_share,
)
from node.reports.inputs import (
    ReportInputs,
    extract_report_inputs,
    get_solvency_form,
)
from node.reports.seed import load_report_seed
from node.reports.sharing import EpochProofs, ProofShareRefused
from node.reports.store import CommitRecord, ReportStore
from node.reports.sync import (
    ReportFetcher,
    get_report_failures,
    get_report_signers,
    serve_report_sync,
)
from node.reports.worker import Prover, ProvingWorker, ReportBuildError, open_proving_worker
from node.retention import EPOCHS_TRACKED
from node.services import NodeContext, NodeContextInputs
from proofs.drafting import add_signatures
from proofs.report import Report, VotingPower
from proofs.statement import get_statement

log = logging.getLogger(__name__)

REGOSSIP_S = 5.0  # a share lost in gossip (or sent before a peer joined) goes out again
MAX_GOSSIPED_REPORT_BYTES = MAX_ANNOUNCEMENT_BYTES  # bigger complete reports are only fetched


class ReportsNode:
    """Every piece of per-epoch state lives here, touched only from the trio loop."""

    def __init__(
        self, ctx: NodeContext, store: ReportStore, seed: bytes | None, prover: Prover
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.seed = seed
        self.prover = prover
        self.key: Ed25519PrivateKey | None = ctx.validator_key if seed is not None else None
        self.chain_id = ctx.genesis.chain_id
        self.epoch_length = ctx.genesis.epoch_length_blocks
        self.validators_seen = ctx.state.validators  # the records the ready commitments met
        self.share_wait_s = ctx.config.reports.share_wait_s
        self.gathering: dict[int, EpochProofs] = {}  # the epochs being built and waiting
        self.built: dict[int, Report] = {}  # this node's unsigned reports
        self.shares: dict[int, dict[bytes, SignatureShare]] = {}  # epoch -> signer -> share
        self.ready: dict[int, bytes] = {}  # epoch -> encoded ReportCommitment
        self.unconfirmed: dict[int, ReportAnnouncement] = {}  # gossiped, hash not yet committed
        self.pending: dict[int, ReportInputs] = {}  # epochs ended, not built here yet
        self.newest_built = -1  # the newest epoch this node took to build
        self.working_on: dict[bytes, int] = {}  # validator -> epoch of its newest proof share
        self.heard_at: dict[bytes, float] = {}  # validator -> when its last share arrived
        self.first_build_at: float | None = None  # when every validator counts as heard
        self.proof_heard = trio.Event()  # set by each proof share that arrives
        self.job_queued = trio.Event()
        self.outbox_send, self.outbox_receive = trio.open_memory_channel[bytes](64)
        self.fetcher = ReportFetcher(
            ctx.p2p, store, lambda: self.ctx.state.report_hashes, self.get_signers_of,
            ctx.config.reports.sync_max_bytes,
        )  # fmt: skip

    # -- commits (synchronous: called by the driver right after a block is applied)

    def on_commit(self, block: CommittedBlock, root: bytes) -> None:
        for epoch, report_hash in self._committed_in(block):
            self.store.save_commit(CommitRecord(epoch, report_hash, block.height))
            self.ready.pop(epoch, None)
            self._publish_complete(epoch, report_hash)
            self._confirm(epoch)
        if self.ctx.state.validators is not self.validators_seen:
            self._recheck_ready()
        if self.key is not None and block.height % self.epoch_length == 0:
            inputs = extract_report_inputs(self.ctx.state, root)
            if inputs is not None and self._is_prover(inputs):
                self.queue_inputs(inputs)
        self._forget_superseded()
        self.fetcher.on_commit()

    def _is_prover(self, inputs: ReportInputs) -> bool:
        """This validator's key is in the epoch's set: a key governance has not added yet,
        or removed, or a jailed one, builds nothing (nobody would count its share)."""
        assert self.key is not None
        own = self.key.public_key().public_bytes_raw()
        if any(v.public_key == own for v in inputs.validators):
            return True
        log.info("report of epoch %d not built here: this validator's key has no power in "
                 "the set in force at height %d", inputs.epoch, inputs.height)  # fmt: skip
        return False

    def _recheck_ready(self) -> None:
        """The set changed: the commitments waiting for a block are made again over the
        set in force (clearing would refuse a removed signer's attestation)."""
        self.validators_seen = self.ctx.state.validators
        for epoch in list(self.ready):
            del self.ready[epoch]
            self._check_quorum(epoch)

    def get_powers(self) -> dict[bytes, int]:
        """The voting power of each validator in force that has some: the quorum clearing
        checks a ReportCommitment's attestations against."""
        return get_voting_powers(self.ctx.state.validators)

    def get_signers_of(self, epoch: int) -> list[VotingPower]:
        """The set a committed report of `epoch` is signed by (see `get_report_signers`)."""
        return get_report_signers(self.ctx.state, self.store.get_commit(epoch))

    def _committed_in(self, block: CommittedBlock) -> list[tuple[int, bytes]]:
        result = self.ctx.app.last_result
        if result is None or result.height != block.height:
            return []
        return [
            (int(e.get("epoch")), bytes(e.get("report_hash")))  # type: ignore[arg-type]
            for e in result.get_events()
            if e.kind == "report_committed"
        ]

    def queue_inputs(self, inputs: ReportInputs) -> None:
        """Keep the epoch for the builder, beside at most EPOCHS_TRACKED - 1 newer ones
        not built yet; the other validators' proofs of it are gathered from now on."""
        self.pending[inputs.epoch] = inputs
        provers = (v.public_key for v in inputs.validators)
        assignment = assign_accounts(inputs.accounts, provers, inputs.epoch)
        digest = get_statement(inputs).digest()
        self.gathering[inputs.epoch] = EpochProofs(inputs.epoch, digest, assignment)
        for old in sorted(self.pending, reverse=True)[EPOCHS_TRACKED:]:
            log.warning("report of epoch %d skipped: the builder was busy from its end to "
                        "epoch %d's", old, inputs.epoch)  # fmt: skip
            self._drop_pending(old)
        self.job_queued.set()

    def _drop_pending(self, epoch: int) -> None:
        del self.pending[epoch]
        del self.gathering[epoch]

    def get_support(self, epoch: int, powers: dict[bytes, int]) -> int:
        """The power already on `epoch`'s report: its signers' and that of the validators
        whose newest proof share is of it."""
        on_it = set(self.shares.get(epoch, {}))
        on_it.update(v for v, working in self.working_on.items() if working == epoch)
        return sum(powers.get(v, 0) for v in on_it)

    def choose_epoch(self) -> int | None:
        """The epoch to build next: of those waiting, the one the most power is already on,
        the newest on a tie; one older than this node's newest build only if someone is
        on it (nobody else needs it)."""
        powers = self.get_powers()
        supports = {e: self.get_support(e, powers) for e in self.pending}
        candidates = [e for e, support in supports.items()
                      if e > self.newest_built or support > 0]  # fmt: skip
        return max(candidates, key=lambda e: (supports[e], e), default=None)

    def get_last_committed_epoch(self) -> int:
        return max(self.ctx.state.report_hashes, default=-1)

    def _forget_superseded(self) -> None:
        """Drop every epoch at or before the newest committed one, then all but the
        EPOCHS_TRACKED newest: bounded memory, and a slow build is never dropped for
        the chain's progress alone."""
        tables: list[dict[int, Any]] = [self.built, self.shares, self.unconfirmed]
        epochs = sorted({e for table in tables for e in table}, reverse=True)
        last_committed = self.get_last_committed_epoch()
        kept = [e for e in epochs if e > last_committed][:EPOCHS_TRACKED]
        for table in tables:
            for old in [e for e in table if e not in kept]:
                del table[old]
        for old in [e for e in self.pending if e <= last_committed]:
            self._drop_pending(old)

    # -- building (validators)

    async def run_builder(self) -> None:
        while True:
            await self.job_queued.wait()
            self.job_queued = trio.Event()
            while await self.build_next():
                pass

    async def build_next(self) -> bool:
        """Build the chosen epoch (if any) with the other validators, sign it, gossip the
        signature share; whether there was one."""
        assert self.key is not None and self.seed is not None
        epoch = self.choose_epoch()
        if epoch is None:
            return False
        inputs = self.pending.pop(epoch)
        self.newest_built = max(self.newest_built, epoch)
        if self.first_build_at is None:
            self.first_build_at = trio.current_time()
        self.store.save_inputs(inputs)
        signer = self.key.public_key().public_bytes_raw()
        gathering = self.gathering[inputs.epoch]
        try:
            await self._gather(inputs, signer, gathering)
            built = await self.prover.complete(inputs, self.seed, gathering.proofs)
        except ReportBuildError as exc:
            log.warning("%s", exc)
            return True
        finally:
            del self.gathering[inputs.epoch]
        for key in built.refused:
            log.warning("proof of account 0x%s/%d for epoch %d from validator %s refused: it "
                        "does not verify; proven here", key[0].hex(), key[1], inputs.epoch,
                        gathering.provers[key].hex())  # fmt: skip
        report = built.report
        log.info("report of epoch %d built: %d accounts, %d proofs gathered, %d proven after "
                 "the wait, in %.2f s", inputs.epoch, len(report.accounts),
                 len(gathering.proofs) - len(built.refused),
                 len(report.accounts) - len(gathering.proofs) + len(built.refused),
                 built.seconds)  # fmt: skip
        self.built[inputs.epoch] = report
        share = sign_share(self.key, self.chain_id, inputs.epoch, report.get_hash())
        self.add_share(share)
        await self.ctx.p2p.publish(REPORTS, share.encode())
        return True

    async def _gather(self, inputs: ReportInputs, signer: bytes, gathering: EpochProofs) -> None:
        """Prove this validator's accounts, gossip them, and wait (at most `share_wait_s`)
        for the other validators' proofs."""
        assert self.key is not None and self.seed is not None
        mine = tuple(k for k, prover in gathering.assignment.items() if prover == signer)
        own = await self.prover.prove_share(inputs, self.seed, mine)
        log.info("proof share of epoch %d: %d accounts of %d proven in %.2f s", inputs.epoch,
                 len(own.proofs), len(own.proven), own.seconds)  # fmt: skip
        for share in sign_proof_shares(self.key, self.chain_id, inputs.epoch,
                                       gathering.statement_digest, own.proofs):  # fmt: skip
            gathering.add(share)
            await self.ctx.p2p.publish(REPORTS, share.encode())
        gathering.expect(own.proven)
        reasons = await self._wait_for_proofs(gathering)
        for prover, count in sorted(gathering.count_missing().items()):
            reason = reasons.get(prover)
            log.log(logging.WARNING if reason is None else logging.INFO,
                    "report of epoch %d: %d proofs of validator %s proven here: %s",
                    inputs.epoch, count, prover.hex(),
                    reason or f"not received within {self.share_wait_s} s")  # fmt: skip

    async def _wait_for_proofs(self, gathering: EpochProofs) -> dict[bytes, str]:
        """Wait (at most `share_wait_s`) for the other validators' proofs of the epoch,
        while one that lacks them may still send them; why each that did not was given
        up on before the wait ran out."""
        with trio.move_on_after(self.share_wait_s):
            while not gathering.complete.is_set():
                reasons = {p: self.get_why_not_waited(p, gathering.epoch)
                           for p in gathering.count_missing()}  # fmt: skip
                if None not in reasons.values():
                    return {p: reason for p, reason in reasons.items() if reason is not None}
                self.proof_heard = trio.Event()
                await self.proof_heard.wait()
        return {}

    def get_why_not_waited(self, validator: bytes, epoch: int) -> str | None:
        """Why `validator`'s proofs of `epoch` are not worth waiting for (None: they are):
        nothing heard from it for `share_wait_s` since this node began its first report
        (down, or not building), or its newest proof share is of a newer epoch (it chose
        that one)."""
        assert self.first_build_at is not None
        heard = self.heard_at.get(validator, self.first_build_at)
        if trio.current_time() - heard >= self.share_wait_s:
            return f"nothing heard from it for {self.share_wait_s} s"
        working_on = self.working_on.get(validator, epoch)
        if working_on > epoch:
            return f"it is building epoch {working_on}"
        return None

    def _hear(self, validator: bytes) -> None:
        self.heard_at[validator] = trio.current_time()

    def add_proof_share(self, share: ProofShare) -> None:
        """Keep a proof share (checked at the first hop: a validator's, for this chain)
        for an epoch being built or waiting; raises ProofShareRefused. Refused or not, it
        says its signer is building its epoch."""
        self._hear(share.signer)
        self.working_on[share.signer] = share.epoch
        self.proof_heard.set()
        gathering = self.gathering.get(share.epoch)
        if gathering is None:
            raise ProofShareRefused(share, f"this node is not building epoch {share.epoch}")
        gathering.add(share)

    def get_uncommitted_shares(self) -> list[SignatureShare]:
        """This validator's shares of reports whose hash no block has recorded yet."""
        if self.key is None:
            return []
        signer = self.key.public_key().public_bytes_raw()
        committed = self.ctx.state.report_hashes
        return [self.shares[e][signer] for e in sorted(self.built)
                if e not in committed and signer in self.shares.get(e, {})]  # fmt: skip

    async def run_regossip(self) -> None:
        while True:
            await trio.sleep(REGOSSIP_S)
            for share in self.get_uncommitted_shares():
                await self.ctx.p2p.publish(REPORTS, share.encode())

    # -- shares and quorum

    def add_share(self, share: SignatureShare) -> None:
        """Keep a share (checked at the first hop: a validator's, for this chain), the
        signer's first for its epoch."""
        self._hear(share.signer)
        newest = self.ctx.state.height // self.epoch_length
        if not self.get_last_committed_epoch() < share.epoch <= newest + 1:
            return
        self.shares.setdefault(share.epoch, {}).setdefault(share.signer, share)
        self._check_quorum(share.epoch)
        self._forget_superseded()

    def _check_quorum(self, epoch: int) -> None:
        report = self.built.get(epoch)
        if report is None or epoch in self.ready or epoch in self.ctx.state.report_hashes:
            return
        own = report.get_hash()
        powers = self.get_powers()
        agreeing = [s for s in self.shares.get(epoch, {}).values()
                    if s.report_hash == own and s.signer in powers]  # fmt: skip
        if not is_quorum(sum(powers[s.signer] for s in agreeing), sum(powers.values())):
            return
        agreeing.sort(key=lambda s: s.signer)
        attestations = tuple(s.get_attestation() for s in agreeing)
        self.ready[epoch] = encode_tx(ReportCommitment(epoch, own, attestations))
        self.store.save_report(epoch, self._complete(epoch, powers).encode())
        for s in self.shares[epoch].values():
            if s.report_hash != own:
                log.warning("validator %s signed another report hash for epoch %d",
                            s.signer.hex(), epoch)  # fmt: skip

    def _complete(self, epoch: int, signers: Collection[bytes]) -> Report:
        """This node's report of `epoch` with every agreeing signature received from
        `signers` (a report signed by anyone else fails its check)."""
        report = self.built[epoch]
        own = report.get_hash()
        signatures = [s.get_report_signature() for s in self.shares.get(epoch, {}).values()
                      if s.report_hash == own and s.signer in signers]  # fmt: skip
        return add_signatures(report, signatures)

    def get_proposal_txs(self, height: int, time_ms: int) -> list[bytes]:
        """The quorum-signed commitments not yet in a block (ProposalSource)."""
        committed = self.ctx.state.report_hashes
        return [tx for epoch, tx in sorted(self.ready.items()) if epoch not in committed]

    def _publish_complete(self, epoch: int, report_hash: bytes) -> None:
        """Once its hash is committed, store and gossip this node's complete report, if the
        signatures it holds reach the quorum a receiver checks: a build that ended while
        its epoch's commitment was being committed kept no share (`add_share`), and the
        report is then fetched like any this node lacks."""
        report = self.built.get(epoch)
        if report is None or report.get_hash() != report_hash:
            return
        signers = self.get_signers_of(epoch)
        complete = self._complete(epoch, {v.public_key for v in signers})
        failures = get_report_failures(complete, report_hash, signers)
        if failures:
            log.info("complete report of epoch %d not kept from this node's build: %s; "
                     "fetched from peers", epoch, "; ".join(failures))  # fmt: skip
            return
        encoded = complete.encode()
        self.store.save_report(epoch, encoded)
        announcement = encode_report_announcement(encoded)
        if len(announcement) > MAX_GOSSIPED_REPORT_BYTES:
            log.info("complete report of epoch %d not gossiped: %d bytes above the gossip cap "
                     "of %d; peers fetch it", epoch, len(announcement),
                     MAX_GOSSIPED_REPORT_BYTES)  # fmt: skip
            return
        try:
            self.outbox_send.send_nowait(announcement)
        except trio.WouldBlock:
            log.warning("complete report of epoch %d not gossiped: outbox full", epoch)

    # -- complete reports from gossip (full nodes, lagging validators)

    def add_announcement(self, announcement: ReportAnnouncement) -> None:
        epoch = announcement.report.epoch
        if self.store.get_report(epoch) is not None:
            return
        newest = self.ctx.state.height // self.epoch_length
        if epoch > newest:
            return
        self.unconfirmed[epoch] = announcement
        self._confirm(epoch)
        self._forget_superseded()

    def _confirm(self, epoch: int) -> None:
        """Store a gossiped report whose hash is committed and whose signatures reach quorum."""
        announcement = self.unconfirmed.get(epoch)
        committed = self.ctx.state.report_hashes.get(epoch)
        if announcement is None or committed is None:
            return
        del self.unconfirmed[epoch]
        failures = get_report_failures(announcement.report, committed, self.get_signers_of(epoch))
        if failures:
            log.warning("gossiped report of epoch %d refused: %s", epoch,
                        "; ".join(failures))  # fmt: skip
            return
        self.store.save_report(epoch, announcement.encoded)

    async def run_gossip(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._drain_outbox)
            async for delivery in self.ctx.p2p.messages(REPORTS):
                value = delivery.value
                if isinstance(value, SignatureShare):
                    self.fetcher.add_validator_peer(delivery.sender)
                    self.add_share(value)
                elif isinstance(value, ProofShare) and self.key is not None:  # full nodes relay
                    try:
                        self.add_proof_share(value)
                    except ProofShareRefused as exc:
                        log.info("%s", exc)
                elif isinstance(value, ReportAnnouncement):
                    self.add_announcement(value)

    async def _drain_outbox(self) -> None:
        async for data in self.outbox_receive:
            await self.ctx.p2p.publish(REPORTS, data)


class ReportsService:
    """Solvency reports wherever `[reports] enabled`: every node fetches, stores, serves and
    checks them; validators holding the report seed build, prove and commit them."""

    name = "reports"

    def __init__(self, config: NodeConfig, inputs: NodeContextInputs) -> None:
        self.topics = (make_reports_topic(inputs.genesis.chain_id, inputs.state),)

    @staticmethod
    def is_enabled(config: NodeConfig, _: NodeContextInputs) -> bool:
        return config.reports.enabled

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        config = ctx.config.reports
        seed = None
        if ctx.validator_key is not None:
            # a KeyFileError stops the node
            seed = load_report_seed(ctx.config.home / config.seed_file)
        async with open_proving_worker() as prover, trio.open_nursery() as nursery:
            store = ReportStore(ctx.config.home / config.path, config.keep)
            node = ReportsNode(ctx, store, seed, prover)
            ctx.on_commit(node.on_commit)
            ctx.api.add_routes(ReportsApi(ctx, node.store, seed).routes())
            serve_report_sync(ctx.p2p, node.store, config.sync_max_bytes)
            nursery.start_soon(node.run_gossip)
            nursery.start_soon(node.fetcher.run)
            if seed is not None:
                nursery.start_soon(warm_up, prover, ctx.state)
                ctx.app.add_proposal_source(node.get_proposal_txs)
                nursery.start_soon(node.run_builder)
                nursery.start_soon(node.run_regossip)
            task_status.started()


async def warm_up(prover: ProvingWorker, state: ClearingState) -> None:
    """Readies the proving worker for the statement `state` gives, so the first epoch's
    share does not pay for the native core's tables (a failure only costs the first
    share that time again)."""
    form = get_solvency_form(state)
    if form is None:
        return
    try:
        seconds = await prover.warm_up(get_statement(form))
    except ReportBuildError as exc:
        log.warning("proving worker not warmed up: %s", exc.reason)
        return
    log.info("proving worker ready in %.2f s", seconds)
