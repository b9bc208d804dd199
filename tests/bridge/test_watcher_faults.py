"""The watcher behind a misbehaving RPC: narrow log ranges, rate limits, hung connections,
malformed answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from bridge.cursor import CursorStore
from bridge.devchain import finalize, send_native_deposits
from bridge.vault import get_vault_address
from bridge.watcher import Watcher
from tests.bridge.faulty_rpc import FaultyRpc
from tests.bridge.test_watcher import StoredDeposits, config_for, member, start_chain

pytestmark = pytest.mark.chain


async def test_watcher_survives_range_limits_rate_limits_and_hangs(tmp_path: Path) -> None:
    node, chain, vault = start_chain(31_301)
    try:
        send_native_deposits(chain, vault, [member(i) for i in range(20)], per_block=1)
        finalize(chain)
        with FaultyRpc(node.url) as proxy:
            proxy.max_log_range = 8
            proxy.rate_limited_requests = 3
            config = config_for(node, get_vault_address(vault), url=proxy.url, batch_blocks=32,
                                rpc_timeout_s=0.5, heartbeat_interval_s=0.2)  # fmt: skip
            store = CursorStore(tmp_path / "cursor.sqlite")
            stored = StoredDeposits(store)
            watcher = Watcher(config, store, stored.wake)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run)
                await stored.receive(20)
                proxy.released.clear()  # every request now hangs
                reconnects = watcher.status.reconnects
                errors = watcher.status.errors
                with trio.fail_after(20):
                    while watcher.status.errors < errors + 2:  # timeouts, not a stuck task
                        await trio.sleep(0.05)
                proxy.released.set()
                send_native_deposits(chain, vault, [member(i) for i in range(20, 40)], per_block=1)
                finalize(chain)
                await stored.receive(20)
                nursery.cancel_scope.cancel()
            assert watcher.status.reconnects > reconnects
            assert watcher.status.range_shrinks >= 2  # 32 -> 16 -> 8 fits the node's limit
            nonces = sorted(d.deposit_nonce for _, d in store.get_deposits_since(0))
            assert nonces == list(range(1, 41))
    finally:
        node.kill()


async def test_a_node_s_malformed_answers_are_errors_the_watcher_outlasts(tmp_path: Path) -> None:
    """Logs without a block number, then headers without a timestamp: each a typed error
    in the watcher's status, nothing stored, its task never restarted; once the node
    answers well again, every deposit is stored once."""
    node, chain, vault = start_chain(31_302)
    try:
        send_native_deposits(chain, vault, [member(i) for i in range(3)], per_block=1)
        finalize(chain)
        with FaultyRpc(node.url) as proxy:
            config = config_for(node, get_vault_address(vault), url=proxy.url)
            store = CursorStore(tmp_path / "cursor.sqlite")
            stored = StoredDeposits(store)
            watcher = Watcher(config, store, stored.wake)
            lies: list[tuple[str, Callable[[Any], Any], str]] = [
                ("eth_getLogs", lambda logs: [drop(e, "blockNumber") for e in logs],
                 "eth_getLogs log 0: blockNumber: None is not a hex number"),
                ("eth_getBlockByNumber", lambda block: block and {**block, "timestamp": "soon"},
                 ": timestamp: 'soon' is not a hex number"),
            ]  # fmt: skip
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run)
                for method, lie, says in lies:
                    proxy.lies = {method: lie}
                    errors = watcher.status.errors
                    with trio.fail_after(20):
                        while watcher.status.errors < errors + 2 or says not in (
                            watcher.status.last_error
                        ):
                            await trio.sleep(0.02)
                    assert watcher.status.last_error.startswith("MalformedAnswer: ")
                    assert store.count_deposits(node.chain_id) == 0
                proxy.lies = {}
                await stored.receive(3)
                nursery.cancel_scope.cancel()
            nonces = sorted(d.deposit_nonce for _, d in store.get_deposits_since(0))
            assert nonces == [1, 2, 3]
    finally:
        node.kill()


def drop(entry: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != field}
