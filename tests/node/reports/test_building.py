"""Report inputs from the clearing state, the worker process, signature shares, storage."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace

import msgpack
import pytest
import trio
import trio.testing

from clearing.attestation import verify_quorum_attestations
from clearing.context import Equivocation
from clearing.report_commitment import compute_report_signing_bytes
from clearing.risk.engine import get_solvency_market
from clearing.transition.root import compute_state_root
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.keys import KeyFileError
from node.reports.gossip import (
    ReportAnnouncement,
    ReportsMessageError,
    ShareSignerWithoutPower,
    decode_reports_message,
    encode_report_announcement,
    make_reports_topic,
    sign_share,
)
from node.reports.inputs import ReportInputs, extract_report_inputs
from node.reports.seed import create_report_seed, load_report_seed, save_report_seed
from node.reports.store import CommitRecord, ReportStore
from node.reports.worker import (
    ProvingWorker,
    ReportBuildError,
    build_unsigned_report,
    open_proving_worker,
)
from proofs.checks import check_signatures, get_powers, verify_report
from proofs.drafting import add_signatures
from proofs.native_group import FAST
from proofs.openings import get_member_openings, verify_member_openings
from proofs.pedersen import get_generators
from proofs.report import Report, VotingPower
from proofs.statement import get_statement
from tests.node.reports.support import MEMBERS, SEED, trading_sandbox

CHAIN = 4242


@pytest.fixture(scope="module")
def box_and_inputs():  # type: ignore[no-untyped-def]
    box = trading_sandbox()
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    return box, inputs


@pytest.fixture(scope="module")
def unsigned(box_and_inputs) -> Report:  # type: ignore[no-untyped-def]
    """The unsigned report of the inputs, proven here (a second of proving, built once)."""
    return build_unsigned_report(box_and_inputs[1], SEED)


def test_inputs_cover_every_non_empty_account_and_the_book_is_flat(box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    box, inputs = box_and_inputs
    assert {owner for owner, _ in inputs.accounts} >= {m.address for m in MEMBERS}
    position = inputs.input_labels.index("position:BTC-PERP")
    assert sum(v[position] for v in inputs.accounts.values()) == 0
    assert inputs.get_member_values(MEMBERS[0].address)[0][position] == 2
    assert inputs.epoch == box.state.height // box.genesis.epoch_length_blocks
    assert inputs.chain_id == box.chain_id == CHAIN
    assert inputs.market == get_solvency_market(box.state)
    assert inputs.height == box.state.height


def test_a_built_report_verifies_and_opens_for_its_member(box_and_inputs, unsigned) -> None:  # type: ignore[no-untyped-def]
    box, inputs = box_and_inputs
    gens = get_generators(FAST)
    report = build_unsigned_report(inputs, SEED)
    assert report.encode() == unsigned.encode()  # deterministic
    assert report.market == inputs.market  # what a verifier recomputes the statement from
    keys = [derive_ed25519_key(f"validator-{i}") for i in range(4)]
    shares = [sign_share(k, CHAIN, inputs.epoch, report.get_hash()) for k in keys[:3]]
    signed = add_signatures(report, [s.get_report_signature() for s in shares])
    validators = [VotingPower(k.public_key().public_bytes_raw(), 10) for k in keys]
    assert verify_report(gens, signed, validators, CHAIN).ok
    message = compute_report_signing_bytes(CHAIN, inputs.epoch, report.get_hash())
    assert report.get_signing_bytes() == message
    attestations = [s.get_attestation() for s in shares]
    assert verify_quorum_attestations(box.state.validators, 40, attestations, message) == 30
    # one signature per validator: the report carries exactly the attestations' bytes
    assert [(s.public_key, s.signature) for s in signed.signatures] == sorted(
        (a.signer, a.signature) for a in attestations
    )
    member = MEMBERS[0].address
    openings = get_member_openings(
        SEED, inputs.epoch, member, inputs.input_labels, inputs.get_member_values(member)
    )
    assert verify_member_openings(gens, signed, member, openings).ok


@pytest.mark.slow
async def test_one_worker_proves_a_share_and_completes_the_same_bytes(
    box_and_inputs, unsigned
) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    keys = tuple(sorted(inputs.accounts))
    async with open_proving_worker() as worker:
        share = await worker.prove_share(inputs, SEED, keys[:1])
        assert share.proven == keys and list(share.proofs) == [keys[0]] and share.seconds > 0
        built = await worker.complete(inputs, SEED, {**share.proofs, keys[1]: b"forged"})
        assert worker.started == 1  # both tasks in one process
    assert built.report.encode() == unsigned.encode()
    assert built.refused == [keys[1]] and built.seconds > 0


@pytest.mark.slow
async def test_a_warmed_worker_proves_the_first_share_in_the_same_process(box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    keys = tuple(sorted(inputs.accounts))
    async with open_proving_worker() as worker:
        assert await worker.warm_up(get_statement(inputs)) > 0
        share = await worker.prove_share(inputs, SEED, keys[:1])
        assert worker.started == 1 and list(share.proofs) == [keys[0]]


def break_the_book(inputs):  # type: ignore[no-untyped-def]
    """`inputs` with one position too many: the book is not flat."""
    key = next(iter(inputs.accounts))
    position = inputs.input_labels.index("position:BTC-PERP")
    values = list(inputs.accounts[key])
    values[position] += 1
    return replace(inputs, accounts={**inputs.accounts, key: tuple(values)})


async def test_the_worker_refuses_a_book_not_flat_and_serves_the_next(box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    broken = break_the_book(inputs)
    async with open_proving_worker() as worker:
        with pytest.raises(ReportBuildError, match="AggregateError"):
            await worker.prove_share(broken, SEED, ())
        with pytest.raises(ReportBuildError, match="AggregateError"):
            await worker.complete(broken, SEED, {})
        share = await worker.prove_share(inputs, SEED, ())
        assert share.proven == tuple(sorted(inputs.accounts)) and worker.started == 1


async def get_started_process(worker: ProvingWorker, inputs: ReportInputs) -> trio.Process:
    """The worker's process, started by a first task."""
    await worker.prove_share(inputs, SEED, ())
    assert worker._process is not None
    return worker._process


async def test_a_worker_that_died_is_started_again_for_the_next_task(box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    async with open_proving_worker() as worker:
        process = await get_started_process(worker, inputs)
        process.kill()  # an operator's kill, the OOM killer
        await process.wait()
        share = await worker.prove_share(inputs, SEED, ())
        assert share.proven == tuple(sorted(inputs.accounts)) and worker.started == 2


async def test_a_worker_dying_mid_task_fails_that_task_only(box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    async with open_proving_worker() as worker:
        process = await get_started_process(worker, inputs)
        process.send_signal(signal.SIGSTOP)  # it takes the task and answers nothing
        async with trio.open_nursery() as nursery:
            failed: list[ReportBuildError] = []

            async def ask() -> None:
                with pytest.raises(ReportBuildError, match="the proving worker exited") as info:
                    await worker.prove_share(inputs, SEED, ())
                failed.append(info.value)

            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()  # the task sent, awaiting the answer
            process.kill()
        assert failed and failed[0].epoch == inputs.epoch
        await worker.prove_share(inputs, SEED, ())
        assert worker.started == 2


def test_shares_are_checked_at_the_first_hop() -> None:
    key = derive_ed25519_key("validator-0")
    signer = key.public_key().public_bytes_raw()
    share = sign_share(key, CHAIN, 3, b"\x07" * 32)
    assert decode_reports_message(share.encode(), CHAIN, {signer}) == share
    with pytest.raises(ReportsMessageError, match=f"not chain {CHAIN + 1}"):
        decode_reports_message(share.encode(), CHAIN + 1, {signer})
    # a good signature by a key without power here: maybe a validator a block away
    with pytest.raises(ShareSignerWithoutPower) as ignored:
        decode_reports_message(share.encode(), CHAIN, set())
    assert (ignored.value.signer, ignored.value.epoch) == (signer, 3)
    for other in (
        replace(share, epoch=4),
        replace(share, report_hash=b"\x08" * 32),
        replace(
            share, signature=key.sign(compute_report_signing_bytes(CHAIN + 1, 3, b"\x07" * 32))
        ),
    ):
        with pytest.raises(ReportsMessageError, match="does not verify"):
            decode_reports_message(other.encode(), CHAIN, {signer})
    old = msgpack.packb([1, *msgpack.unpackb(share.encode())[1:], share.signature])
    for bad in (b"\xc1", msgpack.packb([3, 1]), msgpack.packb([2, 9]), share.encode()[:-3], old):
        with pytest.raises(ReportsMessageError):
            decode_reports_message(bad, CHAIN, {signer})


def test_a_complete_report_travels_as_its_canonical_bytes(unsigned) -> None:  # type: ignore[no-untyped-def]
    encoded = unsigned.encode()
    message = decode_reports_message(encode_report_announcement(encoded), CHAIN, set())
    assert isinstance(message, ReportAnnouncement) and message.encoded == encoded
    assert check_signatures(message.report, get_powers([]))  # unsigned: no quorum
    with pytest.raises(ReportsMessageError):
        decode_reports_message(encode_report_announcement(encoded + b"\x00"), CHAIN, set())


def test_the_store_keeps_the_newest_epochs_atomically(tmp_path, box_and_inputs) -> None:  # type: ignore[no-untyped-def]
    _, inputs = box_and_inputs
    store = ReportStore(tmp_path / "reports", keep=2)
    for epoch in (1, 2, 3):
        store.save_report(epoch, b"report-%d" % epoch)
        store.save_commit(CommitRecord(epoch, bytes([epoch]) * 32, epoch * 5 + 1))
    inputs = replace(inputs, epoch=3)
    store.save_inputs(inputs)
    assert store.get_report(1) is None and store.get_report(3) == b"report-3"
    assert (store.get_first_epoch(), store.get_latest_epoch()) == (2, 3)
    assert store.get_commit(3) == CommitRecord(3, b"\x03" * 32, 16)
    assert store.get_inputs(inputs.epoch) == replace(inputs, validators=())  # openings need none
    path = tmp_path / "reports" / f"epoch-{inputs.epoch}.inputs.json"
    assert os.stat(path).st_mode & 0o077 == 0
    body = json.loads(path.read_text())
    assert body["epoch"] == inputs.epoch and body["chainId"] == CHAIN
    path.write_text(json.dumps({**body, "version": 1}))  # before reports named their chain
    assert store.get_inputs(inputs.epoch) is None
    assert not list((tmp_path / "reports").glob("*.tmp"))


def test_the_seed_file_is_a_private_key_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed = create_report_seed()
    save_report_seed(tmp_path / "a.json", seed)
    assert load_report_seed(tmp_path / "a.json") == seed and len(seed) == 32
    os.chmod(tmp_path / "a.json", 0o644)
    with pytest.raises(KeyFileError, match="too open"):
        load_report_seed(tmp_path / "a.json")
    with pytest.raises(KeyFileError, match="already exists"):
        save_report_seed(tmp_path / "a.json", seed)


def test_the_inputs_carry_the_active_set_in_force_at_the_epochs_block() -> None:
    box = trading_sandbox()
    genesis = [VotingPower(v.pubkey, v.power) for v in box.genesis.validators]
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and list(inputs.validators) == genesis
    box.apply([], (Equivocation(genesis[1].public_key, box.state.height),))
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and list(inputs.validators) == [genesis[0], *genesis[2:]]


def test_the_topic_takes_shares_of_the_set_in_force_and_ignores_others() -> None:
    """A key governance added counts from the block adding it; a jailed one is ignored,
    nobody penalised (the forwarder may be a block ahead or behind)."""
    box = trading_sandbox()
    topic = make_reports_topic(box.chain_id, lambda: box.state)
    assert topic.ignores == (ShareSignerWithoutPower,)
    added = derive_ed25519_key("validator-4")
    share = sign_share(added, box.chain_id, 3, b"\x07" * 32)
    with pytest.raises(ShareSignerWithoutPower):
        topic.decode(share.encode())
    record = replace(box.state.validators[box.genesis.validators[0].pubkey], name="validator-4",
                     pubkey=share.signer)  # fmt: skip
    box.state.validators = {**box.state.validators, share.signer: record}
    assert topic.decode(share.encode()) == share
    box.apply([], (Equivocation(share.signer, box.state.height),))
    with pytest.raises(ShareSignerWithoutPower):
        topic.decode(share.encode())
