"""What 202 promises, with `clearnode start` processes on loopback: a batch a validator
accepted commits exactly once on every node even when that validator is killed (-9)
right after answering; an idle network keeps accepting, a validator cut off from its
peers answers 503 and accepts again once they are back."""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator

import pytest
import trio

from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from consensus.types import Block
from tests.clearing.support import new_sandbox
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, ProcessNetwork, read_blocks, running
from tests.node.netsupport import get_wall_times
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import (
    commit_setup,
    post_tx_until_accepted,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

ROUTE = "/v1/trade-batches"


def make_batches(count: int, first: int = 1) -> list[bytes]:
    """Venue trade batches (one trade each, batch ids from `first`) between members
    `setup_txs` funds and authorises."""
    buyer, seller = derive_member_key("m0").address, derive_member_key("m1").address
    venue, chain_id = derive_ed25519_key("venue-alpha"), new_sandbox().chain_id
    batches = []
    for batch_id in range(first, first + count):
        trade = Trade(batch_id, "BTC-PERP", buyer, 0, seller, 0, 60_000_000, 1)
        batches.append(
            encode_tx(
                sign_trade_batch(venue, chain_id, "alpha", batch_id, (trade,), *get_wall_times())
            )
        )
    return batches


def post(home: NodeHome, tx: bytes) -> int | None:
    """The status code, or None when nothing listens (the node is starting)."""
    try:
        return home.post_tx(ROUTE, tx)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def get_commit_counts(homes: list[NodeHome], txs: list[bytes]) -> dict[str, list[int]]:
    """For each node, how many of its blocks hold each of `txs`, after its block count."""
    counts = {}
    for home in homes:
        blocks: list[Block] = read_blocks(home)
        counts[home.name] = [len(blocks), *(sum(b.txs.count(tx) for b in blocks) for tx in txs)]
    return counts


def is_committed_once(homes: list[NodeHome], txs: list[bytes]) -> bool:
    """Each of `txs` is in exactly one block of every node's chain."""
    return all(set(c[1:]) <= {1} for c in get_commit_counts(homes, txs).values())


async def wait_committed_once(
    what: str, homes: list[NodeHome], txs: list[bytes], timeout_s: float = 30
) -> None:
    """`is_committed_once`, waited for; a timeout says what each node holds."""
    try:
        await wait_until(what, lambda: is_committed_once(homes, txs), timeout_s)
    except AssertionError as exc:
        held = get_commit_counts(homes, txs)
        raise AssertionError(f"{exc} (blocks, then each tx's count, per node: {held})") from None


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessNetwork]:
    """One network for the module's tests (a start costs ~8 s): each leaves every validator
    running and connected, and each posts batches of its own ids. Short timeouts: the
    killed validator's turns to propose and the isolated one's stall end sooner."""
    with running(
        ProcessNetwork(tmp_path_factory.mktemp("net"), extra_config=SHORT_TIMEOUTS)
    ) as started:
        yield started


async def test_batches_accepted_before_a_kill_9_commit_once_everywhere(
    net: ProcessNetwork,
) -> None:
    setup, _ = setup_txs()
    batches = make_batches(8)
    validators = list(net.homes)
    await commit_setup(validators, setup)
    target = validators[0]
    for pair in (batches[i : i + 2] for i in range(0, len(batches), 2)):
        for batch in pair:
            await post_tx_until_accepted(target, ROUTE, batch)
        net.kill(target)  # right after its 202: nothing more leaves it
        net.start(target)
    await wait_committed_once("every accepted batch on every node", validators, batches)
    log = (target.path / "node.log").read_text()
    assert "mempool restored:" in log


async def test_isolated_validator_answers_503_and_recovers(net: ProcessNetwork) -> None:
    batches = make_batches(3, first=9)  # after the kill -9 test's 8
    lonely, *peers = net.homes
    limit_s = lonely.get_stall_limit_s()
    await wait_until("a commit", lambda: len(lonely.get_roots()) >= 2)
    await trio.sleep(limit_s + 1)  # idle past the limit: empty blocks keep it accepting
    assert await trio.to_thread.run_sync(post, lonely, batches[0]) == 202
    for peer in peers:
        net.pause(peer)  # SIGSTOP: sockets stay open, nothing answers
    cut_at = time.monotonic()
    accepted = batches[:1]
    try:
        while (status := await trio.to_thread.run_sync(post, lonely, batches[1])) != 503:
            assert status == 202, status  # within the limit it still accepts (recorded)
            accepted = batches[:2]
            assert time.monotonic() - cut_at < limit_s + 5, "no 503 after the limit"
            await trio.sleep(0.5)
        assert time.monotonic() - cut_at > limit_s - 2, "503 before the limit"
    finally:
        for peer in peers:
            net.resume(peer)
    last = batches[2]
    await post_tx_until_accepted(lonely, ROUTE, last)
    await wait_committed_once(
        "what the lonely validator accepted, on every node", net.homes, [*accepted, last]
    )
