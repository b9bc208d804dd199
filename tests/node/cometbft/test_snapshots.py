"""CometBFT's state sync, the app's side (node/cometbft/snapshots.py): one node's stored
snapshot, listed and loaded chunk by chunk through ABCI, restores an empty node whose
app and store then hold the state and block of its height; a chunk, a state or a block
that is not the chain's changes nothing and says whose it was. A snapshot carries the
blocks that changed the validator set before it, which the restored node's reports'
anchors walk, and the first block of each recent report epoch, which they show."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tendermint.abci import types_pb2 as abci

from clearing.genesis import Validator, compute_genesis_hash, parse_genesis
from clearing.state import ClearingState
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.validator_set import get_active_set_at, install_validators
from clearnode.client.sandbox_keys import derive_seed
from lightclient.anchor import COMETBFT, follow_set_changes, get_consensus_chain_id
from lightclient.cometbft import (
    FLAG_COMMIT,
    BlockId,
    CometCommit,
    CometHeader,
    CometValidatorPowers,
    CommitSignature,
    Timestamp,
    compute_merkle_root,
    get_address,
)
from lightclient.crypto import PrivateKey
from node.clearing_app import ClearingApp
from node.cometbft.abci import ClearingAbci
from node.cometbft.snapshots import (
    SNAPSHOT_FORMAT,
    AppSnapshots,
    SnapshotMetadata,
    hash_chunk,
)
from node.mempool import Mempool
from node.reports.anchor import get_set_changes, get_state_anchor
from node.restore import restore_state
from node.served_snapshots import ServedSnapshots
from node.storage import NodeStore
from node.storage.comet_block import CometBlockRecord, SignedHeader
from node.txcheck import make_clearing_check
from tests.clearing.support import genesis_doc
from tests.node.test_app import blocks, make_block

GENESIS_BYTES = json.dumps({**genesis_doc(), "engine": COMETBFT, "epoch_length_blocks": 2}).encode()
"""Epochs of 2 blocks: a snapshot of height 4 carries block 3, the first of epoch 1,
whose report may still come (the snapshots of heights 2 and 3 carry no such block)."""
GENESIS = parse_genesis(json.loads(GENESIS_BYTES))
CHAIN = get_consensus_chain_id(GENESIS.chain_id, compute_genesis_hash(GENESIS_BYTES))
KEYS = [PrivateKey(derive_seed(f"validator-{i}")) for i in range(len(GENESIS.validators))]
HEIGHT = 2
"""The snapshot's height: its block holds a trade batch."""
CHANGED = 1
"""In the chain whose set changes (served with `change_set`): validator-0's power doubles
in the set recorded after block 1, so block 2 names that set next and block 3 is the
first it signs; its snapshot is of height 3."""
ANCHORED = 4
"""The snapshot whose older blocks include a report's anchor (served with `up_to`)."""
PEER = "376f19bb1995513d6bf449035678f51b88ecf424"


def get_powers(validators: tuple[Validator, ...]) -> CometValidatorPowers:
    return CometValidatorPowers.of((v.pubkey, v.power) for v in validators)


def sign_block(
    height: int,
    txs: tuple[bytes, ...],
    state: ClearingState,
    signers: int = 4,
    previous: tuple[bytes, bytes] = (bytes(32), bytes(32)),
) -> SignedHeader:
    """Block `height`'s header naming `txs`, the block before and the state root after it
    (`previous`) and, as `state` (after it) records, the set that signs it and the next;
    committed by the first `signers` of that set."""
    signing, following = get_active_set_at(state, height - 1), get_active_set_at(state, height)
    last_block, app_hash = previous
    header = CometHeader(
        11, 1, CHAIN, height, Timestamp(1_795_219_200 + height, 0), BlockId(last_block, 1,
        bytes(32)), bytes(32), compute_merkle_root([hash_chunk(tx) for tx in txs]),
        get_powers(signing).hash, get_powers(following).hash, bytes(32), app_hash, bytes(32),
        bytes(32), get_address(KEYS[0].public_key),
    )  # fmt: skip
    ordered = get_powers(signing).ordered
    by_key = {k.public_key: k for k in KEYS}
    unsigned = tuple(
        CommitSignature(FLAG_COMMIT, get_address(key), header.time, b"") for key, _ in ordered
    )
    commit = CometCommit(height, 0, BlockId(header.hash, 1, bytes(32)), unsigned)
    signed = tuple(
        dataclasses.replace(s, signature=by_key[key].sign(commit.get_vote_sign_bytes(CHAIN, i)))
        for i, (s, (key, _)) in enumerate(zip(unsigned, ordered, strict=True))
    )
    kept = tuple(s if i < signers else dataclasses.replace(s, flag=1, signature=b"",
                 validator_address=b"") for i, s in enumerate(signed))  # fmt: skip
    return SignedHeader(header, dataclasses.replace(commit, signatures=kept))


@dataclasses.dataclass
class Served:
    """A node that committed blocks() up to HEIGHT and snapshotted its state there."""

    app: ClearingApp
    store: NodeStore
    snapshots: AppSnapshots


def serve(
    path: Path,
    record_txs: tuple[bytes, ...] | None = None,
    signers: int = 4,
    change_set: bool = False,
    change_signers: int = 4,
    up_to: int | None = None,
    snapshot_shift_ms: int = 0,
) -> Served:
    """The serving node; its last block (`up_to`; if None HEIGHT, or with `change_set`
    the one after the change's block) is stored with `record_txs` (its own if None) and a
    signed header `signers` validators committed, the change's with `change_signers`; its
    snapshot's block time `snapshot_shift_ms` off the block's (the root cannot tell)."""
    app = ClearingApp(GENESIS)
    store = NodeStore(path)
    last = up_to or (CHANGED + 2 if change_set else HEIGHT)
    bodies = [*blocks(), *([] for _ in range(last))][:last]
    previous = (bytes(32), app.last_root)
    for height, txs in enumerate(bodies, start=1):
        app.finalize_block(make_block(height, txs))
        if change_set and height == CHANGED:
            first, *others = sorted(app.state.validators.values(), key=lambda v: v.name)
            doubled = [dataclasses.replace(first, power=2 * first.power), *others]
            install_validators(app.state, {v.pubkey: v for v in doubled}, app.state.jailed)
        committed_by = change_signers if change_set and height == CHANGED + 1 else signers
        signed = sign_block(height, tuple(txs), app.state, committed_by, previous)
        previous = (signed.header.hash, app.last_root)
        kept = record_txs if record_txs is not None and height == last else tuple(txs)
        record = CometBlockRecord(height, signed.header.time_ms, signed.header.hash,
                                  signed.header.proposer_address, kept)  # fmt: skip
        snapshot = encode_snapshot(app.state) if height == last else None
        if snapshot is not None and snapshot_shift_ms:
            shifted = decode_snapshot(GENESIS, snapshot)
            shifted.time_ms += snapshot_shift_ms
            snapshot = encode_snapshot(shifted)
        store.save_block(height, record.encode(), signed.encode(), app.last_root, snapshot)
    return Served(app, store, AppSnapshots(app, store, CHAIN, ServedSnapshots()))


def empty_node(path: Path) -> tuple[ClearingAbci, NodeStore]:
    app = ClearingApp(GENESIS)
    store = NodeStore(path)
    return make_node(AppSnapshots(app, store, CHAIN, ServedSnapshots())), store


def make_node(snapshots: AppSnapshots) -> ClearingAbci:
    """The ABCI app over `snapshots`' app and store."""
    app = snapshots.app
    return ClearingAbci(
        app, compute_genesis_hash(GENESIS_BYTES), Mempool(make_clearing_check(lambda: app.state)),
        lambda block: None, allowed_peers=lambda: None, snapshots=snapshots,
    )  # fmt: skip


def ask(node: ClearingAbci, **request: object) -> abci.Response:
    return node.handle(abci.Request(**request))  # type: ignore[arg-type]


def offer(node: ClearingAbci, snapshot: abci.Snapshot, app_hash: bytes) -> int:
    request = abci.RequestOfferSnapshot(snapshot=snapshot, app_hash=app_hash)
    return ask(node, offer_snapshot=request).offer_snapshot.result


def load(served: Served, snapshot: abci.Snapshot, index: int) -> bytes:
    return served.snapshots.load_chunk(snapshot.height, snapshot.format, index)


def apply(node: ClearingAbci, index: int, chunk: bytes) -> abci.ResponseApplySnapshotChunk:
    request = abci.RequestApplySnapshotChunk(index=index, chunk=chunk, sender=PEER)
    return ask(node, apply_snapshot_chunk=request).apply_snapshot_chunk


def restore(node: ClearingAbci, served: Served, app_hash: bytes | None = None) -> int:
    """Offers `served`'s snapshot and applies its chunks in order: the last result."""
    (snapshot,) = served.snapshots.list_snapshots()
    assert offer(node, snapshot, served.app.last_root if app_hash is None else app_hash) == (
        abci.ResponseOfferSnapshot.ACCEPT
    )
    result = abci.ResponseApplySnapshotChunk.ACCEPT
    for index in range(snapshot.chunks):
        result = apply(node, index, load(served, snapshot, index)).result
    return result


def test_a_snapshot_restores_an_empty_node_which_then_applies_the_next_block(
    tmp_path: Path,
) -> None:
    served = serve(tmp_path / "a.sqlite3")
    listed = ask(make_node(served.snapshots), list_snapshots=abci.RequestListSnapshots())
    (snapshot,) = listed.list_snapshots.snapshots
    metadata = SnapshotMetadata.decode(snapshot.metadata)
    assert (snapshot.height, snapshot.format, snapshot.chunks) == (HEIGHT, SNAPSHOT_FORMAT, 2)
    assert snapshot.hash == hash_chunk(snapshot.metadata)
    assert metadata.state_size == served.store.get_snapshot_size(HEIGHT)

    node, store = empty_node(tmp_path / "b.sqlite3")
    assert served.snapshots.served.get_held() == frozenset()
    assert restore(node, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    assert served.snapshots.served.get_held() == {HEIGHT}  # spared by pruning meanwhile
    assert (node.app.height, node.app.last_root) == (HEIGHT, served.app.last_root)
    assert node.snapshots is not None and node.snapshots.restored.is_set()
    info = ask(node, info=abci.RequestInfo()).info
    assert (info.last_block_height, info.last_block_app_hash) == (HEIGHT, served.app.last_root)
    assert store.latest_height() == HEIGHT and store.first_height() == HEIGHT
    assert store.load_block(HEIGHT) == served.store.load_block(HEIGHT)

    # a restart rebuilds the state from the restored snapshot, and both apply block 3 alike
    again = ClearingApp(GENESIS)
    assert restore_state(again, store).height == HEIGHT
    following = make_block(HEIGHT + 1, [])
    assert again.finalize_block(following) == served.app.finalize_block(following)


def test_a_snapshot_carries_the_blocks_that_changed_the_set_which_anchors_then_walk(
    tmp_path: Path,
) -> None:
    served = serve(tmp_path / "a.sqlite3", change_set=True)
    (snapshot,) = served.snapshots.list_snapshots()
    metadata = SnapshotMetadata.decode(snapshot.metadata)
    assert (snapshot.height, snapshot.chunks) == (CHANGED + 2, 3)
    assert metadata.pinned_heights == (CHANGED + 1,)

    node, store = empty_node(tmp_path / "b.sqlite3")
    assert restore(node, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    restored, held = store.load_block(CHANGED + 1), served.store.load_block(CHANGED + 1)
    assert restored is not None and held is not None
    assert (restored.block, restored.cert) == (held.block, held.cert)
    assert store.first_height() == CHANGED + 2
    # a report's anchor from the restored node walks the change from the genesis's set
    changes = get_set_changes(store, node.app.state, node.app.height)
    assert [c.header.height for c in changes] == [CHANGED + 1]
    history = follow_set_changes(changes, CHAIN, get_powers(GENESIS.validators))
    assert history.get_set_at(CHANGED + 2) == get_powers(get_active_set_at(node.app.state, 2))
    assert history.get_set_at(CHANGED + 2) != get_powers(GENESIS.validators)


def test_a_snapshot_carries_the_first_block_of_a_recent_report_epoch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The restored node serves epoch 1's report with its anchor (block 3's header and
    commit); a snapshot that leaves block 3 out is rejected."""
    served = serve(tmp_path / "a.sqlite3", up_to=ANCHORED)
    (snapshot,) = served.snapshots.list_snapshots()
    assert SnapshotMetadata.decode(snapshot.metadata).pinned_heights == (3,)
    assert snapshot.chunks == 3

    node, store = empty_node(tmp_path / "b.sqlite3")
    assert restore(node, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    restored, held = store.load_block(3), served.store.load_block(3)
    assert restored is not None and held is not None
    assert (restored.block, restored.cert) == (held.block, held.cert)
    anchor = get_state_anchor(store, node.app.state, 2, None)
    assert anchor is not None and anchor.header.height == 3

    without, chunks = leave_out_carried(served)
    other, other_store = empty_node(tmp_path / "c.sqlite3")
    assert offer(other, without, served.app.last_root) == abci.ResponseOfferSnapshot.ACCEPT
    results = [apply(other, i, chunk).result for i, chunk in enumerate(chunks)]
    assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    assert other_store.latest_height() == 0
    assert "it carries blocks (), not (3,)" in caplog.text


def test_a_restore_cometbft_never_took_up_is_replaced_by_the_next_one_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped between the app's restore and CometBFT's own stores, a node started again
    is offered snapshots afresh (CometBFT state-syncs only with its own state empty): the
    store holding just that restore accepts, keeps it while a refused one is tried, and is
    replaced by the next one checked. A node that applied a block after its restore
    aborts, as one that never restored."""
    served = serve(tmp_path / "a.sqlite3")
    node, store = empty_node(tmp_path / "b.sqlite3")
    assert restore(node, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    before = store.load_block(HEIGHT)

    again = ClearingApp(GENESIS)
    restore_state(again, store)
    restarted = make_node(AppSnapshots(again, store, CHAIN, ServedSnapshots()))
    assert restore(restarted, served, app_hash=bytes(32)) == (
        abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    )
    assert (store.get_restored_height(), store.load_block(HEIGHT)) == (HEIGHT, before)
    assert restore(restarted, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    assert "did not take up this node's restore of height 2" in caplog.text
    assert (again.height, store.get_restored_height()) == (HEIGHT, HEIGHT)
    assert store.get_snapshot_heights() == [HEIGHT]

    following = make_block(HEIGHT + 1, [])
    again.finalize_block(following)
    store.save_block(HEIGHT + 1, b"record", b"", again.last_root)
    (snapshot,) = served.snapshots.list_snapshots()
    assert offer(restarted, snapshot, served.app.last_root) == abci.ResponseOfferSnapshot.ABORT


def leave_out_carried(served: Served) -> tuple[abci.Snapshot, list[bytes]]:
    """`served`'s snapshot with the older blocks taken out, consistent in itself."""
    (snapshot,) = served.snapshots.list_snapshots()
    metadata = SnapshotMetadata.decode(snapshot.metadata)
    chunks = [load(served, snapshot, i) for i in range(snapshot.chunks)]
    kept = [c for i, c in enumerate(chunks) if i not in metadata.pinned_chunks]
    forged = dataclasses.replace(
        metadata, pinned_heights=(), chunk_hashes=tuple(hash_chunk(c) for c in kept)
    ).encode()
    return abci.Snapshot(
        height=snapshot.height, format=snapshot.format, chunks=len(kept),
        hash=hash_chunk(forged), metadata=forged,
    ), kept  # fmt: skip


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("its set change committed by half the power", "its block 2: its commit does not verify"),
        ("without its set change", "it carries blocks (), not (2,): the set changes"),
        (
            "with its set change's block for block 3",
            "its block 2: its record and header are of heights 3",
        ),
    ],
)
def test_a_snapshot_without_the_chains_set_changes_is_rejected_and_changes_nothing(
    tmp_path: Path, case: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(tmp_path / "a.sqlite3", change_set=True,
                   change_signers=2 if "half" in case else 4)  # fmt: skip
    (snapshot,) = served.snapshots.list_snapshots()
    chunks = [load(served, snapshot, i) for i in range(snapshot.chunks)]
    if case == "without its set change":
        snapshot, chunks = leave_out_carried(served)
    if case == "with its set change's block for block 3":
        # a peer's own set-change chunk hashes match its own metadata; the block is not 2
        chunks[1] = chunks[2]
        metadata = SnapshotMetadata.decode(snapshot.metadata)
        forged = dataclasses.replace(metadata, chunk_hashes=tuple(hash_chunk(c) for c in chunks))
        snapshot.metadata = forged.encode()
        snapshot.hash = hash_chunk(snapshot.metadata)
    node, store = empty_node(tmp_path / "b.sqlite3")
    assert offer(node, snapshot, served.app.last_root) == abci.ResponseOfferSnapshot.ACCEPT
    results = [apply(node, i, chunk).result for i, chunk in enumerate(chunks)]
    assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    assert (node.app.height, store.latest_height(), store.get_snapshot_heights()) == (0, 0, [])
    assert store.load_block(CHANGED + 1) is None
    assert reason in caplog.text


def test_a_chunk_that_is_not_the_snapshots_is_fetched_again_and_its_sender_rejected(
    tmp_path: Path,
) -> None:
    served = serve(tmp_path / "a.sqlite3")
    node, _ = empty_node(tmp_path / "b.sqlite3")
    (snapshot,) = served.snapshots.list_snapshots()
    assert offer(node, snapshot, served.app.last_root) == abci.ResponseOfferSnapshot.ACCEPT
    chunk = load(served, snapshot, 0)
    answer = apply(node, 0, bytes([chunk[0] ^ 1]) + chunk[1:])
    assert answer.result == abci.ResponseApplySnapshotChunk.RETRY
    assert (list(answer.refetch_chunks), list(answer.reject_senders)) == ([0], [PEER])
    assert apply(node, 0, chunk).result == abci.ResponseApplySnapshotChunk.ACCEPT
    assert apply(node, 1, load(served, snapshot, 1)).result == (
        abci.ResponseApplySnapshotChunk.ACCEPT
    )
    assert node.app.height == HEIGHT


@pytest.mark.parametrize(
    ("case", "served_as"),
    [
        ("another app hash", {}),
        ("a block with a transaction its header does not name", {"record_txs": (b"\x90",)}),
        ("a block half the power committed", {"signers": 2}),
        ("a state at another block time", {"snapshot_shift_ms": 1_000}),
    ],
)
def test_a_snapshot_that_is_not_the_chains_is_rejected_and_changes_nothing(
    tmp_path: Path, case: str, served_as: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(tmp_path / "a.sqlite3", **served_as)  # type: ignore[arg-type]
    node, store = empty_node(tmp_path / "b.sqlite3")
    app_hash = bytes(32) if case == "another app hash" else None
    assert restore(node, served, app_hash) == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    assert (node.app.height, store.latest_height(), store.get_snapshot_heights()) == (0, 0, [])
    assert "the snapshot of height 2 is refused" in caplog.text
    # a chunk after the rejection belongs to no accepted offer
    assert apply(node, 0, b"x").result == abci.ResponseApplySnapshotChunk.ABORT


def test_offers_the_app_cannot_restore_from_are_refused(tmp_path: Path) -> None:
    served = serve(tmp_path / "a.sqlite3")
    (snapshot,) = served.snapshots.list_snapshots()
    node, _ = empty_node(tmp_path / "b.sqlite3")
    root = served.app.last_root
    result = abci.ResponseOfferSnapshot
    other_format = abci.Snapshot()
    other_format.CopyFrom(snapshot)
    other_format.format = SNAPSHOT_FORMAT + 1
    assert offer(node, other_format, root) == result.REJECT_FORMAT
    for changes in ({"hash": bytes(32)}, {"chunks": 3}, {"metadata": b"\x90"}):
        bad = abci.Snapshot()
        bad.CopyFrom(snapshot)
        for name, value in changes.items():
            setattr(bad, name, value)
        assert offer(node, bad, root) == result.REJECT, changes
    # a node that holds blocks restores from nothing
    assert offer(make_node(served.snapshots), snapshot, root) == result.ABORT


def test_only_snapshots_whose_block_has_its_signed_header_are_listed(tmp_path: Path) -> None:
    served = serve(tmp_path / "a.sqlite3")
    served.store.save_block(HEIGHT + 1, b"record", b"", bytes(32), encode_snapshot(
        served.app.state))  # fmt: skip
    assert [s.height for s in served.snapshots.list_snapshots()] == [HEIGHT]
    assert served.snapshots.load_chunk(HEIGHT + 1, SNAPSHOT_FORMAT, 0) == b""
    assert served.snapshots.load_chunk(HEIGHT, SNAPSHOT_FORMAT + 1, 0) == b""
    assert served.snapshots.load_chunk(HEIGHT, SNAPSHOT_FORMAT, 2) == b""
