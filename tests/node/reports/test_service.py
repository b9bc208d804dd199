"""The reports service's epoch cycle with the transport replaced by direct delivery:
four validators prove their shares of the same committed state's accounts,
exchange proofs and signature shares, the quorum commitment goes into a block
through the proposal source, and every node (a full node from the gossiped
complete report) serves a report that `clearnode verify` accepts; a member gets
its openings, nobody else. A validator that stays silent, or sends proofs that do
not verify, is covered by the others after the wait."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing

from clearing.context import Equivocation
from clearing.genesis import compute_genesis_hash
from clearing.report_commitment import ReportCommitment
from clearing.transition.block import BlockResult
from clearing.transition.reported_accounts import AccountKey
from clearing.transition.root import compute_state_root
from clearing.transition.tx import decode_tx
from clearing.validator_set import install_validators
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from node.reports import service as service_module
from node.reports.api import ReportsApi
from node.reports.assignment import assign_accounts
from node.reports.gossip import (
    ReportAnnouncement,
    ReportsMessageError,
    decode_reports_message,
    encode_report_announcement,
    sign_proof_shares,
    sign_share,
)
from node.reports.inputs import ReportInputs, extract_report_inputs
from node.reports.service import MAX_GOSSIPED_REPORT_BYTES, ReportsNode
from node.reports.sharing import ProofShareRefused
from node.reports.worker import (
    BuiltReport,
    ProvenShare,
)
from node.retention import EPOCHS_TRACKED
from proofs import verify
from proofs.report import decode_report
from tests.lightclient.support import make_anchor
from tests.node.reports.service_harness import (
    EPOCH_LENGTH,
    QUERY_MAX_AGE_MS,
    InProcessWorkers,
    build_cached,
    call,
    deliver,
    end_first_epoch,
    get_signature_shares,
    gossip_proofs,
    make_node,
    openings_body,
)
from tests.node.reports.support import (
    MEMBERS,
    run_verify,
    small_epoch_genesis,
    store_chain_to_anchor,
    trading_sandbox,
)

DAY_MS = 86_400_000


async def test_an_epoch_report_is_built_signed_committed_and_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    workers = InProcessWorkers(monkeypatch)
    validators = [make_node(box, tmp_path / f"v{i}", i, prover=workers) for i in range(4)]
    refused = gossip_proofs(validators, box)
    full, full_ctx = make_node(box, tmp_path / "full", None)
    nodes = [v for v, _ in validators] + [full]
    root = compute_state_root(box.state)

    # the boundary's commit queues the inputs; each builder proves its share of the
    # accounts, gathers the others' proofs, completes the report and signs it
    for node in nodes:
        node.on_commit(SimpleNamespace(height=EPOCH_LENGTH), root)  # type: ignore[arg-type]
    assert full.pending == {}  # full nodes never build
    inputs = validators[0][0].pending[1]
    async with trio.open_nursery() as nursery:
        for node, _ in validators:
            nursery.start_soon(node.build_next)
    # each validator proved its own accounts, and nothing more: one proof per account
    assert sorted(k for keys in workers.shares for k in keys) == sorted(inputs.accounts)
    assert workers.proofs_made == len(inputs.accounts) and workers.completed == [0] * 4
    assert refused == []
    # the same bytes as the report one node proves alone
    alone = build_cached(inputs).encode()
    assert all(node.built[1].encode() == alone for node, _ in validators)
    shares = [data for _, ctx in validators for data in get_signature_shares(ctx.p2p, box)]
    assert len(shares) == 4
    assert [s.encode() for s in validators[0][0].get_uncommitted_shares()] == shares[:1]
    epoch = 1

    # two shares (a node's own and one more) are not a quorum of four equal powers
    deliver(shares[0], nodes, box)
    assert all(node.get_proposal_txs(7, 0) == [] for node, _ in validators)
    for data in shares[1:3]:
        deliver(data, nodes, box)
    proposals = [node.get_proposal_txs(7, 0) for node, _ in validators]
    assert all(len(p) == 1 for p in proposals)

    # a proposer's commitment lands in a block: every node records it
    result = box.apply([proposals[0][0]])
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail
    report_hash = validators[0][0].built[epoch].get_hash()
    assert box.state.report_hashes == {epoch: report_hash}
    for node, ctx in [*validators, (full, full_ctx)]:
        ctx.app.last_result = result
        node.on_commit(SimpleNamespace(height=box.state.height), result.state_root)  # type: ignore[arg-type]
    assert all(node.get_proposal_txs(8, 0) == [] for node, _ in validators)
    assert all(node.get_uncommitted_shares() == [] for node, _ in validators)
    announcement = validators[0][0].outbox_receive.receive_nowait()
    deliver(announcement, nodes, box)

    # every node serves the same committed report with its own anchor of the state root
    # (block H+1's header and certificate, on the chain of the genesis file below);
    # clearnode verify accepts it
    genesis_file = json.dumps(small_epoch_genesis(EPOCH_LENGTH)).encode()
    anchor = make_anchor(
        box.chain_id, EPOCH_LENGTH, root, box.validator_keys[1:], set_keys=box.validator_keys,
        genesis_hash=compute_genesis_hash(genesis_file),
    )  # fmt: skip
    views = []
    for node, ctx in [*validators, (full, full_ctx)]:
        store_chain_to_anchor(ctx.store, anchor)
        api = ReportsApi(ctx, node.store, node.seed)  # type: ignore[arg-type]
        status, view = await call(api.get_report, {"epoch": str(epoch)})
        assert status == 200, view
        views.append(view)
        assert (await call(api.get_latest, {}))[1] == view
    # the same report body (each node has the signatures it received)
    assert len({(v["reportHash"], v["committedHash"], v["commitHeight"]) for v in views}) == 1
    assert views[0]["committedHash"] == views[0]["reportHash"] == "0x" + report_hash.hex()
    assert views[0]["commitHeight"] == box.state.height
    assert views[0]["chainId"] == box.chain_id
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(views[-1]))
    # the full check: the root followed to the chain, and the statement the service built
    # is the one the genesis and its market give (the clock: the genesis's next day)
    full_genesis = tmp_path / "full-genesis.json"
    full_genesis.write_bytes(genesis_file)
    given = ["--genesis", str(full_genesis), "--now", str(box.genesis.genesis_time_ms + DAY_MS)]
    code, text = run_verify([str(report_file), *given])
    assert code == verify.EXIT_VALID, text
    assert f"ok    state root is the chain's after block {EPOCH_LENGTH}: " in text
    assert "precommits of 30 of 40 voting power (3 validators)" in text
    assert f"ok    market of height {EPOCH_LENGTH} " in text and "equal to the report's" in text
    # one signature per validator: the committed attestations are the report's signatures
    served = decode_report(bytes.fromhex(views[0]["report"]))
    committed = decode_tx(proposals[0][0])
    assert isinstance(committed, ReportCommitment)
    attested = {(a.signer, a.signature) for a in committed.attestations}
    assert attested <= {(s.public_key, s.signature) for s in served.signatures}

    # openings: the member's own signature, fresh; validators only
    node, ctx = validators[1]
    api = ReportsApi(ctx, node.store, node.seed)  # type: ignore[arg-type]
    now = int(time.time() * 1000)
    status, openings = await call(api.post_openings, {"epoch": str(epoch)},
                                  openings_body(box, epoch, MEMBERS[0], now))  # fmt: skip
    assert status == 200, openings
    openings_file = tmp_path / "openings.json"
    openings_file.write_text(json.dumps(openings))
    code, text = run_verify([str(report_file), "--member", "0x" + MEMBERS[0].address.hex(),
                             "--openings", str(openings_file), *given])  # fmt: skip
    assert code == verify.EXIT_VALID, text
    assert "your account record is under the report's state root at height 5" in text
    assert "/0: the opened values are the account's holdings" in text
    refused = [
        (api, openings_body(box, epoch, MEMBERS[1], now), (401, "BadSignature")),
        (api, openings_body(box, epoch, MEMBERS[0], now - 2 * QUERY_MAX_AGE_MS),
         (401, "StaleQuery")),
        (api, {**openings_body(box, epoch, MEMBERS[0], now), "chainId": 1},
         (400, "WrongChainId")),
        (ReportsApi(full_ctx, full.store, None), openings_body(box, epoch, MEMBERS[0], now),  # type: ignore[arg-type]
         (404, "OpeningsUnavailable")),
    ]  # fmt: skip
    for handler_api, body, expected in refused:
        assert await call(handler_api.post_openings, {"epoch": str(epoch)}, body) == expected
    assert await call(api.get_report, {"epoch": "9"}) == (404, "ReportNotFound")
    assert await call(api.get_report, {"epoch": "x"}) == (400, "InvalidField")


class HeldCompletion:
    """A slow validator's workers: its report is completed once `release` is set."""

    def __init__(self, workers: InProcessWorkers, release: trio.Event) -> None:
        self.workers = workers
        self.release = release

    async def prove_share(self, *args: Any) -> ProvenShare:
        return await self.workers.prove_share(*args)

    async def complete(self, *args: Any) -> BuiltReport:
        await self.release.wait()
        return await self.workers.complete(*args)


async def test_a_build_that_ends_as_its_epoch_is_committed_stores_no_unsigned_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CometBFT applies a block (FinalizeBlock) before it commits it (Commit): a slow
    validator whose build ends between the two finds its epoch committed and keeps no
    share of its own; at the commit it stores no report its signatures cannot make
    complete, and fetches it instead (a KeyError here failed the ABCI Commit: CometBFT
    stopped with CONSENSUS FAILURE)."""
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    workers, release = InProcessWorkers(monkeypatch), trio.Event()
    nodes = [make_node(box, tmp_path / f"v{i}", i,
                       prover=HeldCompletion(workers, release) if i == 3 else workers)
             for i in range(4)]  # fmt: skip
    validators = end_first_epoch(nodes, box)
    async with trio.open_nursery() as nursery:
        for node in validators:
            nursery.start_soon(node.build_next)
        await trio.testing.wait_all_tasks_blocked()
        assert all(1 in node.built for node in validators[:3]) and not validators[3].built
        for _, ctx in nodes[:3]:
            for data in get_signature_shares(ctx.p2p, box):
                deliver(data, validators[:3], box)  # the slow one's are still on their way
        result = box.apply(validators[0].get_proposal_txs(0, 0))  # FinalizeBlock
        assert result.tx_results[0].is_ok(), result.tx_results[0].detail
        release.set()
    assert 1 in validators[3].built and 1 not in validators[3].shares
    commit_block(box, validators, result)  # Commit
    assert validators[3].store.get_report(1) is None
    assert all(node.store.get_report(1) is not None for node in validators[:3])


async def test_a_silent_validator_and_one_sending_bad_proofs_are_covered_after_the_wait(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One validator is down; another gossips proofs that do not verify. The other two
    wait `share_wait_s` for the missing proofs, then prove the silent one's accounts
    and, refusing the bad proofs in the batch check, the forger's: their reports are
    still the one a node builds alone. At the next epoch neither is waited for."""
    caplog.set_level(logging.INFO, logger="node.reports.service")
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    root = compute_state_root(box.state)
    inputs = extract_report_inputs(box.state, root)
    assert inputs is not None
    keys = {derive_ed25519_key(f"validator-{i}").public_key().public_bytes_raw(): i
            for i in range(4)}  # fmt: skip
    assignment = assign_accounts(inputs.accounts, keys, inputs.epoch)
    silent, forger = sorted({keys[p] for p in assignment.values()})[:2]
    workers = InProcessWorkers(monkeypatch)
    honest = [make_node(box, tmp_path / f"v{i}", i, share_wait_s=30, prover=workers)
              for i in range(4) if i not in (silent, forger)]  # fmt: skip
    refused = gossip_proofs(honest, box)
    for node, _ in honest:
        node.on_commit(SimpleNamespace(height=EPOCH_LENGTH), root)  # type: ignore[arg-type]
    alone = build_cached(inputs)
    forger_key = derive_ed25519_key(f"validator-{forger}")
    forged_keys = [k for k, p in assignment.items() if keys[p] == forger]
    # a proof of another account of the same report: it decodes, it does not verify
    other = next(a.proof for a in alone.accounts if a.key not in forged_keys)
    forged = sign_proof_shares(forger_key, box.chain_id, inputs.epoch, alone.statement.digest(),
                               dict.fromkeys(forged_keys, other))  # fmt: skip
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for node, _ in honest:
            nursery.start_soon(node.build_next)
        await trio.testing.wait_all_tasks_blocked()
        for share in forged:
            for node, _ in honest:
                node.add_proof_share(share)
    assert trio.current_time() - started >= 30  # the wait ran out: the silent one never sent
    assert all(node.built[inputs.epoch].encode() == alone.encode() for node, _ in honest)
    covered = sum(1 for p in assignment.values() if keys[p] in (silent, forger))
    assert workers.completed == [covered, covered] and refused == []
    forger_hex = forger_key.public_key().public_bytes_raw().hex()
    assert sum(f"from validator {forger_hex} refused: it does not verify" in r.message
               for r in caplog.records) == 2 * len(forged_keys)  # fmt: skip
    silent_hex = derive_ed25519_key(f"validator-{silent}").public_key().public_bytes_raw().hex()
    assert sum(f"of validator {silent_hex} proven here: not received within 30 s" in r.message
               for r in caplog.records) == 2  # fmt: skip

    # the next epoch: neither has sent anything for `share_wait_s`, nobody waits again
    while box.state.height < 2 * EPOCH_LENGTH:
        result = box.apply([])
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for node, _ in honest:
            node.on_commit(SimpleNamespace(height=box.state.height), result.state_root)  # type: ignore[arg-type]
            nursery.start_soon(node.build_next)
    assert trio.current_time() - started < 30
    assert all(2 in node.built for node, _ in honest)
    assert sum(f"of validator {silent_hex} proven here: nothing heard from it for 30 s"
               in r.message for r in caplog.records) == 2  # fmt: skip

    # a share for an epoch this node is not building changes nothing
    with pytest.raises(ProofShareRefused, match="not building epoch 1"):
        honest[0][0].add_proof_share(forged[0])


async def test_a_full_node_refuses_a_report_whose_hash_is_not_committed(tmp_path: Path) -> None:
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    inputs = service_module.extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    report = build_cached(inputs)
    full, _ = make_node(box, tmp_path, None)
    full.add_announcement(ReportAnnouncement(report, report.encode()))
    assert full.store.get_report(inputs.epoch) is None  # nothing committed: kept pending
    box.state.report_hashes[inputs.epoch] = bytes(32)  # another hash is committed
    full.on_commit(SimpleNamespace(height=box.state.height), bytes(32))  # type: ignore[arg-type]
    full._confirm(inputs.epoch)
    assert full.store.get_report(inputs.epoch) is None


async def test_a_report_built_epochs_late_still_gathers_its_quorum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A builder slower than the epochs (a loaded machine): ten epochs commit while
    epoch 1 is proved. Its report and shares are kept until they make a commitment,
    and only the newest epochs wait for the builder (EPOCHS_TRACKED), not every one."""
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    proved = trio.Event()
    workers = InProcessWorkers(monkeypatch)
    prove_share = workers.prove_share

    async def slow_share(
        inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
    ) -> ProvenShare:
        await proved.wait()
        return await prove_share(inputs, seed, keys)

    monkeypatch.setattr(workers, "prove_share", slow_share)
    nodes = [make_node(box, tmp_path / f"v{i}", i, prover=workers) for i in range(4)]
    validators = end_first_epoch(nodes, box)
    async with trio.open_nursery() as nursery:
        for node in validators:
            nursery.start_soon(node.build_next)
        await trio.testing.wait_all_tasks_blocked()
        while box.state.height < 11 * EPOCH_LENGTH:
            result = box.apply([])
            for node in validators:
                node.on_commit(SimpleNamespace(height=box.state.height), result.state_root)  # type: ignore[arg-type]
        newest = list(range(12 - EPOCHS_TRACKED, 12))
        assert [sorted(node.pending) for node in validators] == [newest] * 4
        proved.set()
    for node in validators:
        for share in node.get_uncommitted_shares():
            assert share.epoch == 1
            for other in validators:
                other.add_share(share)
    commitments = [decode_tx(node.get_proposal_txs(0, 0)[0]) for node in validators]
    assert all(isinstance(c, ReportCommitment) and c.epoch == 1 for c in commitments)


async def test_validators_out_of_step_join_the_epoch_already_being_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    """Validator 0 restarted through epoch 1's end and builds epoch 2 alone, while the
    others' builders stay busy with epoch 1 until epoch 4 has ended. They do not wait for
    proofs of epoch 1 from validator 0 (it moved on), and once free they join epoch 2,
    not the newest: every report is done long before `share_wait_s` and epoch 2 gets all
    four signatures (a free builder taking the newest epoch left each report one
    validator short of four, and each waited `share_wait_s` for the others' proofs)."""
    box = trading_sandbox(EPOCH_LENGTH)
    workers = InProcessWorkers(monkeypatch)
    prove_share, busy = workers.prove_share, trio.Event()

    async def slow_first_epoch(
        inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
    ) -> ProvenShare:
        if inputs.epoch == 1:
            await busy.wait()
        return await prove_share(inputs, seed, keys)

    monkeypatch.setattr(workers, "prove_share", slow_first_epoch)
    nodes = [make_node(box, tmp_path / f"v{i}", i, share_wait_s=600, prover=workers)
             for i in range(4)]  # fmt: skip
    gossip_proofs(nodes, box)
    validators = [node for node, _ in nodes]

    def commit_epoch(at: list[ReportsNode]) -> None:
        result = box.apply([])
        while box.state.height % EPOCH_LENGTH:
            result = box.apply([])
        for node in at:
            node.on_commit(SimpleNamespace(height=box.state.height), result.state_root)  # type: ignore[arg-type]

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for node in validators:
            nursery.start_soon(node.run_builder)
        commit_epoch(validators[1:])  # epoch 1: validator 0 is down
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(3):  # epochs 2 to 4
            commit_epoch(validators)
            await trio.testing.wait_all_tasks_blocked()
        assert validators[0].working_on == {}  # validator 0 waits for their proofs of 2
        busy.set()
        while not all(2 in node.built for node in validators):
            await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert trio.current_time() - started < 600
    assert all(1 in node.built for node in validators[1:])
    assert all(3 not in node.built for node in validators)  # then all went on to 4
    assert len({node.built[2].get_hash() for node in validators}) == 1
    for _, ctx in nodes:
        for data in get_signature_shares(ctx.p2p, box):
            deliver(data, validators, box)
    assert len(validators[0].shares[2]) == 4
    commitments = [decode_tx(tx) for tx in validators[0].get_proposal_txs(0, 0)]
    assert commitments[0].epoch == 2  # validator 0 built no report of epoch 1


def public(index: int) -> bytes:
    return derive_ed25519_key(f"validator-{index}").public_key().public_bytes_raw()


def commit_block(box: Sandbox, nodes: list[ReportsNode], result: BlockResult) -> None:
    for node in nodes:
        node.ctx.app.last_result = result
        node.on_commit(SimpleNamespace(height=result.height), result.state_root)  # type: ignore[arg-type]


async def test_the_set_in_force_at_the_epoch_proves_signs_and_checks_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Governance added validator-4 and removed validator-3 before the epoch's block:
    validator-4 is assigned accounts and signs, validator-3 builds nothing; the
    commitment's quorum, the complete report's signatures and a full node's check of
    them are the new set's."""
    box = trading_sandbox(EPOCH_LENGTH)
    validators = dict(box.state.validators)
    added = replace(validators[public(0)], name="validator-4", pubkey=public(4))
    del validators[public(3)]
    install_validators(box.state, {**validators, added.pubkey: added}, {})
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    workers = InProcessWorkers(monkeypatch)
    nodes = [make_node(box, tmp_path / f"v{i}", i, prover=workers) for i in (0, 1, 2, 3, 4)]
    gossip_proofs([nodes[i] for i in (0, 1, 2, 4)], box)
    full, _ = make_node(box, tmp_path / "full", None)
    services = [node for node, _ in nodes]
    for node in [*services, full]:
        node.on_commit(SimpleNamespace(height=EPOCH_LENGTH), compute_state_root(box.state))  # type: ignore[arg-type]
    assert services[3].pending == {}  # removed: not a prover any more
    inputs = services[4].pending[1]
    assert {public(4), public(0)} <= set(services[4].gathering[1].assignment.values())
    assert public(3) not in services[0].gathering[1].assignment.values()
    async with trio.open_nursery() as nursery:
        for i in (0, 1, 2, 4):
            nursery.start_soon(services[i].build_next)
    assert sorted(k for keys in workers.shares for k in keys) == sorted(inputs.accounts)
    # the removed validator's signature counts for nothing: 0 and 4 are half of 40
    removed = sign_share(derive_ed25519_key("validator-3"), box.chain_id, 1,
                         services[0].built[1].get_hash())  # fmt: skip
    services[0].add_share(removed)
    shares = {i: get_signature_shares(nodes[i][1].p2p, box)[0] for i in (1, 2, 4)}
    deliver(shares[4], [services[0], full], box)
    assert services[0].get_proposal_txs(0, 0) == []
    deliver(shares[1], [services[0], full], box)
    proposal = services[0].get_proposal_txs(0, 0)
    assert len(proposal) == 1
    result = box.apply(proposal)
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail
    commit_block(box, [services[0], full], result)
    announcement = services[0].outbox_receive.receive_nowait()
    report = decode_report(services[0].store.get_report(1) or b"")
    assert {s.public_key for s in report.signatures} == {public(0), public(1), public(4)}
    deliver(announcement, [full], box)
    assert full.store.get_report(1) == services[0].store.get_report(1)  # checked, kept


async def test_a_ready_commitment_is_made_again_when_the_set_changes(
    tmp_path: Path,
) -> None:
    """A signer jailed before the commitment lands: the commitment waiting for a block is
    made again over the new set (clearing would refuse it), from the shares at hand."""
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    node, _ = make_node(box, tmp_path / "v0", 0)
    node.built[1] = build_cached(inputs)
    report_hash = node.built[1].get_hash()
    for i in (0, 1, 2):
        node.add_share(sign_share(derive_ed25519_key(f"validator-{i}"), box.chain_id, 1,
                                  report_hash))  # fmt: skip
    assert len(node.get_proposal_txs(0, 0)) == 1
    commit_block(box, [node], box.apply([], (Equivocation(public(2), box.state.height),)))
    assert node.get_proposal_txs(0, 0) == []  # 20 of 30 is no quorum
    node.add_share(sign_share(derive_ed25519_key("validator-3"), box.chain_id, 1, report_hash))
    proposal = node.get_proposal_txs(0, 0)
    commitment = decode_tx(proposal[0])
    assert isinstance(commitment, ReportCommitment)
    assert {a.signer for a in commitment.attestations} == {public(0), public(1), public(3)}
    result = box.apply(proposal)
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail


async def test_uncommitted_epochs_kept_are_the_newest_few_after_the_last_commitment(
    tmp_path: Path,
) -> None:
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < 20 * EPOCH_LENGTH:
        box.apply([])
    node, _ = make_node(box, tmp_path / "v0", 0)
    box.state.report_hashes[3] = bytes(32)  # as if epoch 3's commitment were in a block
    signer = derive_ed25519_key("validator-1")
    for epoch in range(1, 21):
        node.add_share(sign_share(signer, box.chain_id, epoch, bytes([epoch]) * 32))
    assert sorted(node.shares) == list(range(21 - EPOCHS_TRACKED, 21))
    late = sign_share(signer, box.chain_id, 2, bytes(32))  # at or before a committed epoch
    node.add_share(late)
    assert 2 not in node.shares


# -- report sync: fetching a committed report this node lacks


def test_no_complete_report_is_gossiped_that_the_first_hop_would_refuse() -> None:
    """Bigger announcements fail `unpack`'s cap at every receiver (and score the sender
    down): the service keeps them for report sync."""
    envelope = len(encode_report_announcement(bytes(1 << 17))) - (1 << 17)  # bin 32
    for size, refused_for_size in ((MAX_GOSSIPED_REPORT_BYTES, False),
                                   (MAX_GOSSIPED_REPORT_BYTES + 1, True)):  # fmt: skip
        announcement = encode_report_announcement(bytes(size - envelope))
        assert len(announcement) == size
        with pytest.raises(ReportsMessageError) as refused:
            decode_reports_message(announcement, 1, set())  # zeros are no report either
        assert ("exceeds" in str(refused.value)) is refused_for_size
