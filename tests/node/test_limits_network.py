"""On a real 4-validator network (libp2p on loopback, SQLite, WAL, HTTP API): the
largest transaction admission accepts commits, one byte more and one trade more are
refused at the edge naming their limit, the chain keeps committing through all three,
and a restarted node rejoins after it.

The four nodes share one trio loop here, so a height's wall time is four nodes' work
on one core: how long a height may take is measured with separate processes
(`python -m bench network`), not here."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from clearing.limits import MAX_TRADES_PER_BATCH, MAX_TX_BYTES
from clearing.sandbox import derive_ed25519_key
from clearing.trade import Trade, sign_trade_batch
from clearing.tx import encode_tx
from consensus.types import Block
from node.storage import NodeStore
from tests.clearing.test_limits import LONGEST_NAME
from tests.node.nodenet import NodeNetwork, open_node_network

pytestmark = pytest.mark.slow

CHAIN_ID = 4242  # configs/genesis.example.json
FIRST_TRADE_ID = 2**63  # any id >= 2**32 takes the 9 bytes of the largest


def build_largest_batch(count: int = MAX_TRADES_PER_BATCH) -> bytes:
    """A venue-signed batch of MAX_TRADES_PER_BATCH trades, each field at its largest
    encoding that admission accepts (clearing may still reject the trades)."""
    trades = tuple(
        Trade(FIRST_TRADE_ID + i, LONGEST_NAME, b"\xaa" * 20, 2**32 - 1, b"\xbb" * 20,
              2**32 - 1, 2**64 - 1, 2**64 - 1)
        for i in range(count)
    )  # fmt: skip
    return encode_tx(
        sign_trade_batch(derive_ed25519_key("venue-alpha"), CHAIN_ID, "alpha", 1, trades)
    )


async def post(net: NodeNetwork, index: int, tx: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"http://127.0.0.1:{net.homes[index].api_port}/v1/trade-batches",
            content=tx,
            headers={"content-type": "application/msgpack"},
        )


def find_committed(net: NodeNetwork, tx: bytes) -> set[int]:
    """The heights at which each running node committed `tx` (empty if none has)."""
    heights = set()
    for home in net.running():
        with NodeStore(home.db) as store:
            for stored in store.iter_blocks(0):
                if tx in Block.decode(stored.block).txs:
                    heights.add(stored.height)
                    break
            else:
                return set()
    return heights


async def test_largest_tx_commits_and_one_byte_or_trade_more_is_refused(tmp_path: Path) -> None:
    largest = build_largest_batch()
    assert len(largest) > 3 * 1024 * 1024
    too_many_trades = build_largest_batch(MAX_TRADES_PER_BATCH + 1)
    assert len(too_many_trades) <= MAX_TX_BYTES  # refused for its trades, not its size
    answers: dict[str, httpx.Response] = {}

    async def submit(name: str, index: int, tx: bytes) -> None:
        answers[name] = await post(net, index, tx)

    async with open_node_network(tmp_path) as net:
        await net.wait_for_height(1)
        await submit("largest", 0, largest)
        await submit("too many bytes", 2, b"\x00" * (MAX_TX_BYTES + 1))
        with trio.fail_after(60):
            while not (heights := find_committed(net, largest)):
                await trio.sleep(0.2)
        assert len(heights) == 1, f"committed at different heights {heights}"
        (height,) = heights
        await net.wait_for_height(height + 2)  # the chain goes on past the largest block
        await submit("too many trades", 1, too_many_trades)

        assert answers["largest"].status_code == 202, answers["largest"].text
        trades = answers["too many trades"]
        assert trades.status_code == 400, trades.text
        assert (
            f"{MAX_TRADES_PER_BATCH + 1} trades outside [1, {MAX_TRADES_PER_BATCH}]" in trades.text
        )
        size = answers["too many bytes"]
        assert size.status_code == 413, size.text
        assert str(MAX_TX_BYTES) in size.text

        roots = set()
        for home in net.running():
            with NodeStore(home.db) as store:
                stored = store.load_block(height + 2)
                assert stored is not None
                roots.add(stored.state_root)
        assert len(roots) == 1

        # a restarted node rebuilds its state through the largest block and rejoins
        await net.stop(net.homes[1])
        await net.start(net.homes[1])
        await net.wait_for_height(height + 4)
