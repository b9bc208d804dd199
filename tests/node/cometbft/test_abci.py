"""The clearing app's answers to ABCI requests, without a CometBFT process."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import base58
import pytest
import trio
import trio.testing
from google.protobuf.timestamp_pb2 import Timestamp
from tendermint.abci import types_pb2 as abci
from tendermint.crypto import keys_pb2

from clearing.context import Equivocation
from clearing.genesis import Validator, compute_genesis_hash, parse_genesis
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from consensus.compact import compute_tx_hash
from lightclient.cometbft import get_address
from node.clearing_app import ClearingApp
from node.cometbft.abci import (
    CODE_NOT_ALLOWED,
    CODE_OK,
    CODE_REFUSED,
    CODESPACE,
    ClearingAbci,
    DecidedBlock,
    InitChainError,
    fit_proposal,
    get_validator_updates,
)
from node.cometbft.bodies import BlockBodies
from node.cometbft.committed_block import compute_data_hash
from node.cometbft.home import build_genesis_doc
from node.committed import decode_stored_block, from_comet_record
from node.config import load_config
from node.genesis_file import load_genesis
from node.keys import NODE_KEY, SHA256_MULTIHASH, KeyFile, compute_peer_id, get_node_id
from node.mempool import Mempool
from node.p2p.allowed_peers import get_allowed_peers
from node.storage import NodeStore, StoredBlock
from node.storage.comet_block import CometBlockRecord
from node.storage.comet_compact import make_ref
from node.txcheck import make_clearing_check
from records.codec import DecodeError
from tests.clearing.support import USDC, genesis_doc, new_sandbox
from tests.node.cometbft.replay import to_finalize_request, to_our_block
from tests.node.netproc import GENESIS_DOC, NodeHome
from tests.node.test_app import blocks, make_block
from tests.node.test_network_peers import genesis_naming_peers

GENESIS_BYTES = json.dumps(genesis_doc()).encode()


def make_abci(
    allowed_peers: Callable[[], frozenset[str] | None] = lambda: None,
    retain_height: Callable[[], int] = lambda: 1,
    **more: Any,
) -> tuple[ClearingAbci, list[DecidedBlock]]:
    """The app of the test genesis (which names no peer id: everyone may connect, unless
    `allowed_peers` says otherwise), over a store holding blocks from `retain_height()`;
    `more`: ClearingAbci's other keywords."""
    committed: list[DecidedBlock] = []
    app = ClearingApp(parse_genesis(json.loads(GENESIS_BYTES)))
    mempool = Mempool(make_clearing_check(lambda: app.state))
    genesis_hash = compute_genesis_hash(GENESIS_BYTES)
    abci_app = ClearingAbci(
        app, genesis_hash, mempool, committed.append,
        allowed_peers=allowed_peers, retain_height=retain_height, **more,
    )  # fmt: skip
    return abci_app, committed


def init_request(**changes: object) -> abci.RequestInitChain:
    """What CometBFT sends from the genesis.json node/cometbft/home.py writes."""
    genesis = parse_genesis(json.loads(GENESIS_BYTES))
    doc = build_genesis_doc(genesis, compute_genesis_hash(GENESIS_BYTES))
    request = abci.RequestInitChain(
        chain_id=str(doc["chain_id"]),
        initial_height=1,
        app_state_bytes=json.dumps(doc["app_state"]).encode(),
        validators=[
            abci.ValidatorUpdate(pub_key=keys_pb2.PublicKey(ed25519=v.pubkey), power=v.power)
            for v in genesis.validators
        ],
    )
    for name, value in changes.items():
        if name == "validators":
            del request.validators[:]
            request.validators.extend(value)  # type: ignore[arg-type]
        else:
            setattr(request, name, value)
    return request


def finalize(
    abci_app: ClearingAbci, height: int, txs: list[bytes], **more: object
) -> abci.ResponseFinalizeBlock:
    time = Timestamp(seconds=1_795_219_200 + height)
    request = abci.RequestFinalizeBlock(height=height, time=time, txs=txs, hash=bytes(32), **more)  # type: ignore[arg-type]
    return abci_app.handle(abci.Request(finalize_block=request)).finalize_block


def test_init_chain_answers_the_genesis_root_and_refuses_another_network() -> None:
    app, _ = make_abci()
    answer = app.handle(abci.Request(init_chain=init_request())).init_chain
    assert answer.app_hash == app.app.last_root and not answer.validators
    for what, change in [
        ("chain id", {"chain_id": "clearnode-1"}),
        ("initial height", {"initial_height": 5}),
        ("app state", {"app_state_bytes": b'{"genesis_hash": "0x00"}'}),
        ("validators", {"validators": init_request().validators[:3]}),
    ]:
        with pytest.raises(InitChainError) as refused:
            app.handle(abci.Request(init_chain=init_request(**change)))
        assert refused.value.what == what


def test_check_tx_is_refused_and_changes_nothing() -> None:
    """CometBFT runs without a mempool, so never asks; were it to, nothing is admitted."""
    app, _ = make_abci()
    tx = encode_tx(new_sandbox().credit(derive_member_key("alice").address, USDC, 1_000))
    answer = app.handle(abci.Request(check_tx=abci.RequestCheckTx(tx=tx))).check_tx
    assert (answer.code, answer.codespace) == (CODE_REFUSED, CODESPACE)
    assert len(app.mempool) == 0 and app.app.height == 0


def test_finalize_block_results_and_commit_hand_over_the_block() -> None:
    app, committed = make_abci()
    box = new_sandbox()
    alice = derive_member_key("alice")
    good = encode_tx(box.credit(alice.address, USDC, 1_000))
    answer = finalize(app, 1, [good, good])
    assert [(r.code, r.data) for r in answer.tx_results] == [
        (0, b"ok"),
        (CODE_REFUSED, b"DuplicateCredit"),
    ]
    assert answer.app_hash == app.app.last_root and not answer.validator_updates
    assert committed == []
    commit = app.handle(abci.Request(commit=abci.RequestCommit())).commit
    assert commit.retain_height == 0  # a store holding every block: CometBFT keeps all
    assert [(b.record.height, b.record.txs, b.result.state_root) for b in committed] == [
        (1, (good, good), answer.app_hash)
    ]
    info = app.handle(abci.Request(info=abci.RequestInfo())).info
    assert (info.last_block_height, info.last_block_app_hash) == (1, answer.app_hash)


def test_commit_lets_cometbft_prune_below_the_store_s_first_height() -> None:
    first = [1]
    app, _ = make_abci(retain_height=lambda: first[0])
    for height, first[0] in ((1, 1), (2, 2)):
        finalize(app, height, [])
        commit = app.handle(abci.Request(commit=abci.RequestCommit())).commit
        assert commit.retain_height == (0 if first[0] == 1 else first[0])


def test_evidence_jails_the_key_behind_the_address() -> None:
    app, _ = make_abci()
    key = app.app.genesis.validators[1].pubkey
    evidence = abci.Misbehavior(
        type=abci.DUPLICATE_VOTE,
        validator=abci.Validator(address=get_address(key), power=10),
        height=1,
    )
    answer = finalize(app, 1, [], misbehavior=[evidence])
    assert app.app.state.validators[key].power == 0
    assert [(u.pub_key.ed25519, u.power) for u in answer.validator_updates] == [(key, 0)]


def test_validator_updates_are_the_change_in_key_order() -> None:
    a, b, c = (Validator(n, bytes([i]) * 32, 10, bytes(20)) for i, n in enumerate("abc"))
    updates = get_validator_updates([a, b], [Validator("b", b.pubkey, 20, bytes(20)), c])
    assert [(u.pub_key.ed25519, u.power) for u in updates] == [
        (a.pubkey, 0),
        (b.pubkey, 20),
        (c.pubkey, 10),
    ]
    assert get_validator_updates([a, b], [b, a]) == []


def test_a_proposal_fits_cometbft_budget_and_a_bad_one_is_rejected() -> None:
    assert fit_proposal([b"x" * 10, b"y" * 10], 32) == [b"x" * 10, b"y" * 10]
    assert fit_proposal([b"x" * 10, b"y" * 10], 31) == [b"x" * 10]
    app, _ = make_abci()
    bad = abci.RequestProcessProposal(height=1, txs=[b"\x93\x01"], hash=bytes(32))
    assert (
        app.handle(abci.Request(process_proposal=bad)).process_proposal.status
        == abci.ResponseProcessProposal.REJECT
    )


def process(app: ClearingAbci, height: int, items: Sequence[bytes]) -> bool:
    request = abci.RequestProcessProposal(height=height, txs=items, hash=bytes(32))
    status = app.handle(abci.Request(process_proposal=request)).process_proposal.status
    return bool(status == abci.ResponseProcessProposal.ACCEPT)


def test_a_proposal_names_what_the_mempools_hold_and_validators_resolve_it(
    tmp_path: Path,
) -> None:
    box = new_sandbox()
    admitted, attested = (
        encode_tx(box.credit(derive_member_key(name).address, USDC, 1_000))
        for name in ("alice", "bob")
    )
    proposer, _ = make_abci()
    proposer.app.add_proposal_source(lambda height, time_ms: [attested])
    proposer.mempool.add(admitted)
    prepare = abci.RequestPrepareProposal(height=1, max_tx_bytes=1 << 20)  # CometBFT's: none
    items = list(proposer.handle(abci.Request(prepare_proposal=prepare)).prepare_proposal.txs)
    assert items == [attested, make_ref(admitted)]  # a source's transaction in full
    with NodeStore(tmp_path / "node.sqlite3") as store:
        validator, committed = make_abci(store=store)
        assert not process(validator, 1, items)  # the gossip has not brought it (no gather)
        validator.mempool.add(admitted)
        assert process(validator, 1, items)
        assert BlockBodies({}.get, store).get(compute_tx_hash(admitted)) == admitted  # voted
        answer = finalize(validator, 1, items)
        assert [r.code for r in answer.tx_results] == [CODE_OK, CODE_OK]
        validator.handle(abci.Request(commit=abci.RequestCommit()))
    (decided,) = committed
    assert decided.record.txs == (attested, admitted) and decided.record.ref_indices == (1,)
    assert compute_data_hash(decided.record.get_items()) == compute_data_hash(items)
    assert validator.bodies.accepted == {}
    assert validator.bodies.get(compute_tx_hash(admitted)) == admitted  # for late peers


def test_a_decided_block_says_when_this_node_accepted_its_proposal() -> None:
    """Where its commit latency starts on the status page (a CometBFT block's time is the
    height before's commit): the first acceptance of the block decided, none for a block
    this node did not see proposed."""
    now = [5_000]
    app, committed = make_abci(clock=lambda: now[0])
    assert process(app, 1, [])
    now[0] = 5_400
    assert process(app, 1, [])  # the same proposal again (a later round re-proposes it)
    finalize(app, 1, [])
    app.handle(abci.Request(commit=abci.RequestCommit()))
    finalize(app, 2, [])  # replayed, or decided while catching up: never proposed here
    app.handle(abci.Request(commit=abci.RequestCommit()))
    assert [d.proposal_accepted_ms for d in committed] == [5_000, None]
    assert app.proposals_accepted == {}
    assert from_comet_record(committed[0].record, 5_000).get_proposed_ms() == 5_000
    assert from_comet_record(committed[1].record).get_proposed_ms() == committed[1].record.time_ms


async def test_a_proposer_waits_for_a_transaction_even_after_the_root_moved(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """As our engine's proposer: an idle network makes an empty block once per the wait
    after a commit, also after a block that moved the state root (CometBFT's own wait
    would propose its proof at once), and a later round's proposer proposes at once."""
    app, _ = make_abci(empty_block_wait_ms=1_000)
    prepare = abci.Request(prepare_proposal=abci.RequestPrepareProposal(height=1))
    box = new_sandbox()
    tx, later = (
        encode_tx(box.credit(derive_member_key(name).address, USDC, 1_000))
        for name in ("alice", "bob")
    )

    async def commit(height: int, txs: list[bytes]) -> None:
        finalize(app, height, txs)
        request = abci.Request(commit=abci.RequestCommit())
        await app.gather(request)
        app.handle(request)

    async def waited_s() -> float:
        start = trio.current_time()
        await app.gather(prepare)
        return trio.current_time() - start

    assert await waited_s() == 0  # a node just started: nothing says its root is proved
    root = app.app.last_root
    await commit(1, [tx])
    assert app.app.last_root != root
    assert await waited_s() == 1  # its proof waits for a transaction, as on ours
    await commit(2, [])
    await trio.sleep(0.25)
    assert await waited_s() == 0.75  # idle: the wait, from the commit
    assert await waited_s() == 0  # the next round's proposer: past the wait
    await commit(3, [])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(app.gather, prepare)
        await trio.sleep(0.25)
        app.mempool.add(later)
        app.notice_txs()
        start = trio.current_time()
    assert trio.current_time() == start  # it proposes as the transaction comes
    assert await waited_s() == 0  # and at once while one waits


async def test_a_block_naming_bodies_this_node_lacks_waits_for_the_peers_to_give_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box = new_sandbox()
    tx = encode_tx(box.credit(derive_member_key("alice").address, USDC, 1_000))
    asked: list[tuple[int, list[bytes]]] = []

    async def fetch(
        height: int, wanted: Sequence[bytes], committed: bool, proposer: str | None = None
    ) -> dict[int, list[bytes]]:
        asked.append((height, list(wanted)))
        return {height: [tx]} if len(asked) > 1 else {}

    app, _ = make_abci(fetch_bodies=fetch)
    time = Timestamp(seconds=1_795_219_201)
    block = abci.RequestFinalizeBlock(height=1, time=time, txs=[make_ref(tx)], hash=bytes(32))
    request = abci.Request(finalize_block=block)
    await app.gather(request)
    assert asked == [(1, [compute_tx_hash(tx)])] * 2
    assert [r.code for r in app.handle(request).finalize_block.tx_results] == [CODE_OK]
    await app.gather(abci.Request(commit=abci.RequestCommit()))  # nothing to seek
    assert len(asked) == 2


def test_bodies_are_asked_of_the_proposer_s_node_first() -> None:
    """A block's proposer holds what it named: the validator's peer id the genesis gives."""
    doc = genesis_naming_peers()
    app = ClearingApp(parse_genesis(doc))
    abci_app = ClearingAbci(
        app, compute_genesis_hash(json.dumps(doc).encode()),
        Mempool(make_clearing_check(lambda: app.state)), lambda block: None,
        allowed_peers=lambda: None,
    )  # fmt: skip
    for validator in app.genesis.validators:
        assert abci_app.get_peer_of(get_address(validator.pubkey)) == validator.peer_id != ""
    assert abci_app.get_peer_of(bytes(20)) is None


def test_a_committed_block_is_stored_and_read_back_as_applied() -> None:
    app, committed = make_abci()
    box = new_sandbox()
    key = app.app.genesis.validators[1].pubkey
    evidence = abci.Misbehavior(validator=abci.Validator(address=get_address(key)), height=1)
    tx = encode_tx(box.credit(derive_member_key("alice").address, USDC, 1_000))
    finalize(app, 1, [tx], misbehavior=[evidence], proposer_address=get_address(key))
    app.handle(abci.Request(commit=abci.RequestCommit()))
    (decided,) = committed
    record = decided.record
    stored = StoredBlock(1, record.encode(), b"", decided.result.state_root)
    block = decode_stored_block("cometbft", stored)
    assert (block.height, block.txs, block.proposer) == (1, (tx,), get_address(key))
    assert block.evidence == (Equivocation(key, 1),) and block.round is None
    replayed = ClearingApp(app.app.genesis)
    assert (
        replayed.apply_block(block.get_context(4242), block.txs).state_root
        == decided.result.state_root
    )
    with pytest.raises(DecodeError):
        CometBlockRecord.decode(record.encode()[:-1])


def test_one_sequence_of_blocks_gives_the_same_roots_on_both_engines() -> None:
    """Our engine's blocks through the ABCI path, and the records that path stored through
    our engine's (the process tests replay real networks' blocks each way: replay.py)."""
    ours = ClearingApp(parse_genesis(genesis_doc()))
    theirs, committed = make_abci()
    for height, txs in enumerate(blocks(), start=1):
        block = make_block(height, txs)
        root = ours.finalize_block(block)
        request = abci.Request(finalize_block=to_finalize_request(block))
        assert theirs.handle(request).finalize_block.app_hash == root
        theirs.handle(abci.Request(commit=abci.RequestCommit()))
    again = ClearingApp(ours.genesis)
    replayed = [again.finalize_block(to_our_block(d.record, ours.genesis.chain_id))
                for d in committed]  # fmt: skip
    assert replayed == [d.result.state_root for d in committed] and len(replayed) == 3


def test_every_request_kind_has_an_answer() -> None:
    """CometBFT halts on an exception response: no request of ABCI 2.0 may meet none."""
    kinds = abci.Request.DESCRIPTOR.oneofs_by_name["value"].fields
    assert [k.name for k in kinds if not hasattr(ClearingAbci, f"answer_{k.name}")] == []


def test_an_app_without_snapshots_offers_none_and_refuses_every_offer() -> None:
    """No store (a replay harness): nothing listed, every offer and chunk refused, the
    state unchanged (the node's app serves its store's: test_snapshots.py)."""
    app, _ = make_abci()
    state = app.app.state

    def ask(**request: object) -> abci.Response:
        return app.handle(abci.Request(**request))  # type: ignore[arg-type]

    assert ask(list_snapshots=abci.RequestListSnapshots()).list_snapshots.snapshots == []
    snapshot = abci.Snapshot(height=40, format=1, chunks=1, hash=b"h")
    offered = ask(offer_snapshot=abci.RequestOfferSnapshot(snapshot=snapshot))
    assert offered.offer_snapshot.result == abci.ResponseOfferSnapshot.ABORT
    chunk = ask(load_snapshot_chunk=abci.RequestLoadSnapshotChunk(height=40))
    assert chunk.load_snapshot_chunk.chunk == b""
    applied = ask(apply_snapshot_chunk=abci.RequestApplySnapshotChunk(chunk=b"x"))
    assert applied.apply_snapshot_chunk.result == abci.ResponseApplySnapshotChunk.ABORT
    assert app.app.state is state and app.app.height == 0


def get_peer_id(name: str) -> str:
    """The libp2p peer id of the node key derived from `name`, as py-libp2p computes it."""
    return compute_peer_id(KeyFile(NODE_KEY, derive_ed25519_key(name).private_bytes_raw()))


def ask_filter(app: ClearingAbci, path: str) -> abci.ResponseQuery:
    return app.handle(abci.Request(query=abci.RequestQuery(path=path))).query


def get_home_node_id(home: NodeHome) -> str:
    return get_node_id(home.node_key.ed25519())


def test_the_peer_filter_lets_in_the_nodes_of_the_allowed_set_in_force(tmp_path: Path) -> None:
    """CometBFT's filter_peers, answered from the set get_allowed_peers makes of a genesis
    naming the validators' nodes and of the observers: their nodes pass, a stranger's is
    refused by its id (any address passes), the set is read at each ask (it follows the
    validator set), other paths are refused."""
    observer, stranger = NodeHome(tmp_path, "full", None), NodeHome(tmp_path, "stranger", None)
    home = NodeHome(tmp_path / "v0", "v0", 0, observers=(observer.peer_id,))
    home.write(genesis_naming_peers(), [])
    config = load_config(home.path)
    genesis = load_genesis(config)
    allowed = get_allowed_peers(config, genesis, genesis.validators)
    app, _ = make_abci(lambda: allowed)
    v1 = get_home_node_id(NodeHome(tmp_path, "v1", 1))
    for node_id in (v1, get_home_node_id(observer)):
        assert ask_filter(app, f"/p2p/filter/id/{node_id}").code == CODE_OK
    refused = ask_filter(app, f"/p2p/filter/id/{get_home_node_id(stranger)}")
    assert (refused.code, refused.codespace) == (CODE_NOT_ALLOWED, CODESPACE)
    expected = f"node {get_home_node_id(stranger)} is not the node of a validator or observer"
    assert refused.log == expected + ": refused"
    assert ask_filter(app, "/p2p/filter/addr/203.0.113.7:26666").code == CODE_OK
    assert ask_filter(app, "/p2p/filter/addr/127.0.0.1:40312").code == CODE_OK
    for path in ("/store/acc/key", "/p2p/filter/other", "", "/app/version"):
        other = ask_filter(app, path)
        assert (other.code, other.log) == (CODE_REFUSED, "no queries"), path
    # governance removed v1 (its grace over): AllowedPeers replaces the set on commit
    allowed = get_allowed_peers(config, genesis, genesis.validators[:1] + genesis.validators[2:])
    assert ask_filter(app, f"/p2p/filter/id/{v1}").code == CODE_NOT_ALLOWED
    assert ask_filter(app, f"/p2p/filter/id/{get_home_node_id(observer)}").code == CODE_OK


def test_a_genesis_naming_no_peer_id_lets_every_node_in(tmp_path: Path) -> None:
    """get_allowed_peers gives None then (said), and our engine lets everyone in as well."""
    home = NodeHome(tmp_path, "v0", 0)
    home.write(json.loads(GENESIS_DOC.read_text()), [])
    config = load_config(home.path)
    allowed = get_allowed_peers(config, load_genesis(config), [])
    assert allowed is None
    app, _ = make_abci(lambda: allowed)
    for node_id in ("ab" * 20, get_home_node_id(NodeHome(tmp_path, "anyone", None))):
        assert ask_filter(app, f"/p2p/filter/id/{node_id}").code == CODE_OK


def test_an_allowed_peer_id_holding_no_ed25519_key_lets_no_node_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hashed peer id (an RSA or secp256k1 libp2p key) is no CometBFT node: left out,
    said, and the other allowed peers still pass."""
    hashed = base58.b58encode(bytes([SHA256_MULTIHASH, 32]) + bytes(range(32))).decode()
    app, _ = make_abci(lambda: frozenset({hashed, get_peer_id("validator-node")}))
    with caplog.at_level(logging.WARNING, logger="node.cometbft.abci"):
        member = get_node_id(derive_ed25519_key("validator-node"))
        assert ask_filter(app, f"/p2p/filter/id/{member}").code == CODE_OK
    assert f"allowed peer {hashed} cannot connect to CometBFT" in caplog.text
