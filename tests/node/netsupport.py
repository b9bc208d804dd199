"""In-process pieces for network tests: a mempool in memory, the example genesis and keys,
and a trading chain written to a node's SQLite store (restart tests and benchmark)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clearing.genesis import Genesis, parse_genesis
from clearing.replay_protection import DEFAULT_MAX_REQUEST_LIFETIME_MS
from clearing.transition.snapshot import encode_snapshot
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import (
    MemberKey,
    derive_ed25519_key,
    derive_member_key,
    derive_seed,
)
from consensus.types import Block, BlockHeader, CommitCertificate, compute_txs_hash
from devnet.sandbox import Sandbox
from lightclient.anchor import get_consensus_chain_id
from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.storage import NodeStore
from tests.clearing.support import USDC, genesis_doc, new_sandbox
from tests.lightclient.support import GENESIS_HASH


@dataclass
class ListMempool:
    """Arrival order, dedup by hash; enough for driving blocks in tests."""

    txs: dict[bytes, bytes] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.txs)

    def add(self, tx: bytes) -> None:
        self.txs.setdefault(hashlib.sha256(tx).digest(), tx)

    def reap(self, max_bytes: int) -> Sequence[bytes]:
        chosen, size = [], 0
        for tx in self.txs.values():
            if size + len(tx) <= max_bytes:
                chosen.append(tx)
                size += len(tx)
        return chosen

    def update(self, included: Sequence[bytes]) -> None:
        for tx in included:
            self.txs.pop(hashlib.sha256(tx).digest(), None)

    def get_tx(self, tx_hash: bytes) -> bytes | None:
        return self.txs.get(tx_hash)


def get_wall_times() -> tuple[int, int]:
    """``(issued_at_ms, expires_ms)`` for requests sent to running nodes, whose blocks take
    the wall clock's time: issued now, expiring half the longest lifetime later, so a
    module's requests signed at import stay live through a long test run."""
    now = wall_clock_ms()
    return now, now + DEFAULT_MAX_REQUEST_LIFETIME_MS // 2


def example_genesis() -> Genesis:
    """configs/genesis.example.json: four validators with devnet keys validator-0..3."""
    return parse_genesis(genesis_doc())


def validator_seed(index: int) -> bytes:
    return derive_seed(f"validator-{index}")


def iter_trading_blocks() -> Iterator[list[bytes]]:
    """Block bodies: set-up (credits, venue authorisations), then one trade batch each
    (12 trades among four members)."""
    box = new_sandbox()
    people = [derive_member_key(f"m{i}") for i in range(4)]
    yield [encode_tx(box.credit(m.address, USDC, 10**12)) for m in people] + [
        encode_tx(box.authorise(m, "alpha")) for m in people
    ]
    venue = derive_ed25519_key("venue-alpha")
    trade_ids = itertools.count(1)
    for batch_id in itertools.count(1):
        trades = tuple(  # both directions of every pair: positions stay flat
            Trade(next(trade_ids), "BTC-PERP", a.address, 0, b.address, 0, 60_000_000, 1)
            for a, b in itertools.permutations(people, 2)
        )
        yield [
            encode_tx(
                sign_trade_batch(venue, box.chain_id, "alpha", batch_id, trades, *box.get_times())
            )
        ]


def make_block(genesis: Genesis, height: int, txs: list[bytes]) -> Block:
    header = BlockHeader(
        get_consensus_chain_id(genesis.chain_id, GENESIS_HASH),
        height,
        genesis.genesis_time_ms + 1000 * height,
        bytes(32),
        b"",
        compute_txs_hash(tuple(txs)),
        bytes(32),
    )
    return Block(header, tuple(txs), None)


def write_trading_chain(
    path: Path, blocks: int, snapshot_interval: int | None, snapshots_kept: int = 3
) -> list[bytes]:
    """Commits `blocks` trading blocks into the SQLite store at `path` the way a node does
    (app, then `SqliteBlockStore`, snapshots on schedule); returns the root per height."""
    app = ClearingApp(example_genesis())
    schedule = (
        None
        if snapshot_interval is None
        else SnapshotSchedule(snapshot_interval, snapshots_kept, lambda: encode_snapshot(app.state))
    )
    roots = []
    with NodeStore(path) as store:
        chain = SqliteBlockStore(store, app.last_root, schedule)
        for height, txs in zip(range(1, blocks + 1), iter_trading_blocks(), strict=False):
            block = make_block(app.genesis, height, txs)
            root = app.finalize_block(block)
            chain.save_block(block, CommitCertificate(height, 0, block.hash, ()), root)
            roots.append(root)
    return roots


MSGPACK = {"content-type": "application/msgpack"}


async def fund_and_authorise(
    client: httpx.AsyncClient, url: str, box: Sandbox, members: Sequence[MemberKey]
) -> list[str]:
    """Over a node's HTTP API at `url`, as a bridge and the members would: a deposit of
    10^12 USDC quanta credited to each member, then each authorises venue alpha; the
    hashes of the authorisations."""
    hashes = []
    for member in members:
        credit = encode_tx(box.credit(member.address, USDC, 10**12))
        response = await client.post(
            url + "/v1/bridge/collateral-events", content=credit, headers=MSGPACK
        )
        assert response.status_code == 202, response.text
        record = box.authorise(member, "alpha")
        request = {"type": "AuthoriseVenue", "chainId": box.chain_id,
                   "message": record.get_message(),
                   "signature": "0x" + record.signature.hex()}  # fmt: skip
        response = await client.post(url + "/v1/member-requests", json=request)
        assert response.status_code == 202, response.text
        hashes.append(response.json()["tx_hash"])
    return hashes
