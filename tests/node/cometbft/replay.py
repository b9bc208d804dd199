"""One engine's committed blocks through the other engine's application path, root by
root: what CometBFT committed (a node's store: the records the app applied, the signed
headers CometBFT served) through `ClearingApp.finalize_block` as our engine's driver
applies a consensus block, and what our engine committed through ABCI's FinalizeBlock
as CometBFT sends it (`ClearingAbci`)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from tendermint.abci import types_pb2 as abci

from clearing.genesis import Genesis, compute_genesis_hash, parse_genesis
from clearing.transition.tx import decode_tx
from consensus.types import Block, compute_txs_hash
from lightclient.anchor import get_consensus_chain_id
from lightclient.cometbft import get_address
from lightclient.header import ZERO_HASH, BlockHeader
from node.clearing_app import ClearingApp
from node.cometbft.abci import ClearingAbci, DecidedBlock
from node.cometbft.committed_block import compute_data_hash
from node.mempool import Mempool
from node.storage import StoredBlock
from node.storage.comet_block import CometBlockRecord, SignedHeader
from node.txcheck import make_clearing_check


def read_stored_blocks(db: Path) -> list[StoredBlock]:
    """Every block of a node's SQLite file (read-only: the node may still run), in order."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT height, block, cert, state_root FROM blocks ORDER BY height"
        ).fetchall()
    finally:
        connection.close()
    return [StoredBlock(*row) for row in rows]


def to_finalize_request(block: Block) -> abci.RequestFinalizeBlock:
    """Our engine's committed block as CometBFT would hand it to the app."""
    time_ms = block.header.time_ms
    return abci.RequestFinalizeBlock(
        height=block.height,
        time=Timestamp(seconds=time_ms // 1000, nanos=time_ms % 1000 * 1_000_000),
        txs=block.txs,
        hash=block.hash,
        proposer_address=get_address(block.header.proposer),
        misbehavior=[
            abci.Misbehavior(
                type=abci.DUPLICATE_VOTE,
                validator=abci.Validator(address=get_address(e.validator)),
                height=e.height,
            )
            for e in block.evidence
        ],
    )


def to_our_block(record: CometBlockRecord, chain: str) -> Block:
    """A block CometBFT committed as our engine's driver hands one to the app: its height,
    time and transactions (the app reads no parent hash or proposer: zero here). CometBFT's
    evidence names keys, not the two votes our block carries: none is expected."""
    assert not record.evidence, f"height {record.height}: evidence our block cannot carry"
    header = BlockHeader(
        chain, record.height, record.time_ms, ZERO_HASH, ZERO_HASH,
        compute_txs_hash(record.txs), ZERO_HASH,
    )  # fmt: skip
    return Block(header, record.txs, None)


def check_is_cometbft_block(record: CometBlockRecord, signed: SignedHeader) -> None:
    """The record the app stored is the block CometBFT's signed header commits to: its
    hash, time and transactions."""
    header = signed.header
    assert (header.height, header.hash) == (record.height, record.block_hash), record.height
    assert header.time_ms == record.time_ms, record.height
    assert header.data_hash == compute_data_hash(record.get_items()), record.height


def load_genesis(home: Path) -> tuple[Genesis, bytes]:
    raw = (home / "genesis.json").read_bytes()
    return parse_genesis(json.loads(raw)), raw


@dataclass
class Replayed:
    compared: int = 0
    """Heights whose root was compared with the one the committing engine committed."""
    kinds: Counter[str] = field(default_factory=Counter)
    """The transactions of those heights, by type."""
    validator_updates: dict[int, list[tuple[bytes, int]]] = field(default_factory=dict)
    """By height, the validator updates the app answered CometBFT's FinalizeBlock."""
    referenced: int = 0
    """Of those transactions, the ones CometBFT's block named by reference."""

    def add(self, txs: Iterable[bytes]) -> None:
        """One more height compared, holding `txs`."""
        self.compared += 1
        self.kinds.update(type(decode_tx(tx)).__name__ for tx in txs)


def replay_cometbft_blocks(home: Path) -> Replayed:
    """CometBFT's committed blocks of the node at `home` through our engine's application
    path: at every height the root is the one the node stored and, where CometBFT has
    committed the next block, the app hash its header carries."""
    genesis, raw = load_genesis(home)
    chain = get_consensus_chain_id(genesis.chain_id, compute_genesis_hash(raw))
    app = ClearingApp(genesis)
    stored = read_stored_blocks(home / "data" / "node.sqlite3")
    signed = {s.height: SignedHeader.decode(s.cert) for s in stored if s.cert}
    replayed = Replayed()
    for block in stored:
        record = CometBlockRecord.decode(block.block)
        if block.height in signed:
            check_is_cometbft_block(record, signed[block.height])
        root = app.finalize_block(to_our_block(record, chain))
        assert root == block.state_root, f"height {block.height}: another root"
        if block.height + 1 in signed:
            assert root == signed[block.height + 1].header.app_hash, f"height {block.height}"
            replayed.add(record.txs)
            replayed.referenced += len(record.ref_indices)
    return replayed


def replay_our_blocks(home: Path) -> Replayed:
    """Our engine's committed blocks of the node at `home` through ABCI's FinalizeBlock and
    Commit: at every height the app hash is the root the node stored."""
    genesis, raw = load_genesis(home)
    app = ClearingApp(genesis)
    committed: list[DecidedBlock] = []
    mempool = Mempool(make_clearing_check(lambda: app.state))
    path = ClearingAbci(app, compute_genesis_hash(raw), mempool, committed.append,
                        allowed_peers=lambda: None)  # fmt: skip
    replayed = Replayed()
    for stored in read_stored_blocks(home / "data" / "node.sqlite3"):
        block = Block.decode(stored.block)
        answer = path.handle(abci.Request(finalize_block=to_finalize_request(block)))
        assert answer.finalize_block.app_hash == stored.state_root, f"height {stored.height}"
        path.handle(abci.Request(commit=abci.RequestCommit()))
        assert committed[-1].record.height == stored.height
        replayed.add(block.txs)
        updates = answer.finalize_block.validator_updates
        if updates:
            replayed.validator_updates[stored.height] = [
                (u.pub_key.ed25519, u.power) for u in updates
            ]
    return replayed
