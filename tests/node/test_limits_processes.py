"""Four validator processes on loopback: a batch of one trade too many, submitted while
the largest transaction admission accepts is still pending, is refused naming its
limit, and the chain commits the largest and goes on with one root per height.

tests/node/test_limits_network.py cannot show this: its four nodes share one trio loop,
and decoding the 3.4 MB batch there stalls all four at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clearing.limits import MAX_TRADES_PER_BATCH
from tests.node.netproc import NodeHome, process_network
from tests.node.test_limits_network import build_largest_batch
from tests.node.test_network_processes import (
    assert_roots_agree,
    read_blocks,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


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


async def test_one_trade_too_many_while_the_largest_is_pending(tmp_path: Path) -> None:
    largest = build_largest_batch()
    too_many_trades = build_largest_batch(MAX_TRADES_PER_BATCH + 1)
    with process_network(tmp_path) as net:
        homes = net.homes
        await wait_until("the first block", lambda: assert_roots_agree(homes) >= 1)
        accepted = await post_batch(homes[0], largest)
        refused = await post_batch(homes[1], too_many_trades)
        assert accepted.status_code == 202, accepted.text
        assert refused.status_code == 400, refused.text
        limit = f"{MAX_TRADES_PER_BATCH + 1} trades outside [1, {MAX_TRADES_PER_BATCH}]"
        assert limit in refused.text

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
