"""Four validator processes on loopback (started as operators start them): the largest
transaction admission accepts commits, one byte more and one trade more are refused at
the edge naming their limit (the trade batch while the largest is still pending), the
chain goes on with one root per height, and a node killed after the largest block
rebuilds its state through it and rejoins.

The nodes run in processes of their own: four nodes in one trio loop spend seconds on
the 3.4 MB batch together, and their gossip queues stall behind it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clearing.limits import MAX_TRADES_PER_BATCH, MAX_TX_BYTES
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from tests.clearing.test_limits import LONGEST_NAME
from tests.node.netproc import QUICK_BLOCKS, NodeHome, process_network, read_blocks
from tests.node.netsupport import get_wall_times
from tests.node.test_network_processes import (
    assert_roots_agree,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

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
        sign_trade_batch(
            derive_ed25519_key("venue-alpha"), CHAIN_ID, "alpha", 1, trades, *get_wall_times()
        )
    )


async def post_batch(home: NodeHome, tx: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"http://127.0.0.1:{home.api_port}/v1/trade-batches",
            content=tx,
            headers={"content-type": "application/msgpack"},
        )


def find_height(home: NodeHome, tx: bytes) -> int | None:
    """The height at which `home` committed `tx`, if it has."""
    for block in read_blocks(home):
        if tx in block.txs:
            return block.height
    return None


async def test_the_largest_tx_commits_and_one_byte_or_trade_more_is_refused(
    tmp_path: Path,
) -> None:
    largest = build_largest_batch()
    assert len(largest) > 3 * 1024 * 1024
    too_many_trades = build_largest_batch(MAX_TRADES_PER_BATCH + 1)
    assert len(too_many_trades) <= MAX_TX_BYTES  # refused for its trades, not its size
    with process_network(tmp_path, extra_config=QUICK_BLOCKS) as net:
        homes = net.homes
        await wait_until("the first block", lambda: assert_roots_agree(homes) >= 1)
        accepted = await post_batch(homes[0], largest)
        refused = await post_batch(homes[1], too_many_trades)
        too_large = await post_batch(homes[2], b"\x00" * (MAX_TX_BYTES + 1))
        assert accepted.status_code == 202, accepted.text
        assert refused.status_code == 400, refused.text
        limit = f"{MAX_TRADES_PER_BATCH + 1} trades outside [1, {MAX_TRADES_PER_BATCH}]"
        assert limit in refused.text
        assert too_large.status_code == 413, too_large.text
        assert str(MAX_TX_BYTES) in too_large.text

        await wait_until(
            "every validator to commit the largest batch",
            lambda: all(find_height(home, largest) is not None for home in homes),
            timeout_s=120,
        )
        heights = {find_height(home, largest) for home in homes}
        assert len(heights) == 1, f"committed at different heights {heights}"
        (height,) = heights
        assert height is not None
        await wait_until(
            "the chain to go on past the largest block",
            lambda: assert_roots_agree(homes) >= height + 2,
        )

        net.kill(homes[1])
        net.start(homes[1])
        tip = assert_roots_agree(homes)
        await wait_until(
            "the restarted node to rebuild through the largest block and rejoin",
            lambda: len(homes[1].get_roots()) > tip + 2 and assert_roots_agree(homes) > tip + 2,
            timeout_s=120,
        )
