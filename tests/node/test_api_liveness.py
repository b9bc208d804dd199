"""503 over real HTTP when this node cannot get a submission committed: no commit for
longer than the limit derived from the consensus timeouts, or catching up by sync."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from devnet.sandbox import Sandbox
from lightclient.anchor import OUR_ENGINE
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.config import ENGINE_TIMEOUTS
from node.liveness import CommitWatch, get_stall_limit_ms
from node.mempool import Mempool
from node.txcheck import make_clearing_check
from tests.node.apiserver import serve_app
from tests.node.test_api import GENESIS, trade_batch

TIMEOUTS = ENGINE_TIMEOUTS[OUR_ENGINE]
LIMIT_MS = get_stall_limit_ms(TIMEOUTS)


@dataclass
class Clock:
    now_s: float = 100.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Harness:
    box: Sandbox
    clock: Clock
    commits: CommitWatch
    client: httpx.AsyncClient
    syncing: list[bool]


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    clock, syncing = Clock(), [False]
    commits = CommitWatch(LIMIT_MS, 40, lambda: syncing[0], clock)
    mempool = Mempool(make_clearing_check(lambda: box.state))
    node = LocalNode(box.chain_id, "t", mempool, lambda: box.state, commits=commits)
    async with serve_app(ApiApp(node), 64 * 1024) as client:
        yield Harness(box, clock, commits, client, syncing)


async def post(api: Harness, batch_id: int) -> httpx.Response:
    raw = trade_batch(api.box, batch_id=batch_id)
    return await api.client.post("/v1/trade-batches", json={"tx": "0x" + raw.hex()})


def test_limit_is_two_failed_rounds_plus_the_idle_wait() -> None:
    assert LIMIT_MS == (3_000 + 1_000 + 1_000) + (3_500 + 1_500 + 1_500) + 1_000 + 20
    # an idle network commits an empty block every empty_block_wait_ms + commit_ms
    assert TIMEOUTS.empty_block_wait_ms + TIMEOUTS.commit_ms < LIMIT_MS / 10


async def test_no_commit_for_the_limit_answers_503_naming_why(api: Harness) -> None:
    api.clock.now_s += LIMIT_MS / 1000  # exactly the limit: still accepted
    assert (await post(api, 1)).status_code == 202
    api.clock.now_s += 0.3
    refused = await post(api, 2)
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["type"] == "NotCommitting"
    assert error["message"].startswith("no commit for 12.8 s (limit 12.5 s); last height 40")
    assert error["details"] == {"last_height": 40, "idle_ms": LIMIT_MS + 300, "limit_ms": LIMIT_MS}
    api.commits.record_commit(41)
    assert (await post(api, 2)).status_code == 202


async def test_catching_up_answers_503(api: Harness) -> None:
    api.syncing[0] = True
    refused = await post(api, 1)
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "NotCommitting"
    assert "catching up" in refused.json()["error"]["message"]
    api.syncing[0] = False
    assert (await post(api, 1)).status_code == 202
