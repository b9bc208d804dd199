"""Helpers of the whole-node bridge tests: a node's chain config, and committed
transactions found in the nodes' stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio

from bridge.devchain import DevnetChain
from clearing.transition.tx import decode_tx
from lightclient.anchor import OUR_ENGINE
from node.committed import decode_stored_block
from node.storage import NodeStore
from tests.node.bridge.support import CHAIN_ID
from tests.node.netproc import ORACLE_OFF, NodeHome
from tests.node.nodenet import NodeNetwork

DEPTH = 2


def get_bridge_config(deployed: DevnetChain, url: str = "", depth: int = DEPTH) -> str:
    """A node's config watching `deployed` (at `url`, e.g. a proxy before it)."""
    return (
        ORACLE_OFF + "[[bridge_chains]]\n"
        'name = "anvil"\n'
        f"chain_id = {CHAIN_ID}\n"
        f'rpc_url = "{url or deployed.url}"\n'
        f'vault_address = "0x{deployed.vault.hex()}"\n'
        f"confirmation_depth = {depth}\n"
        "poll_interval_ms = 500\n"  # anvil answers at once (conftest.py's quick_chain_polls)
    )


def find_committed(
    home: NodeHome, kind: type, match: Callable[[Any], bool] = lambda tx: True
) -> tuple[int, Any] | None:
    """(height, tx) of the first committed `kind` transaction `match`ing, in the node's store."""
    return next(iter(find_all_committed(home, kind, match)), None)


def find_all_committed(
    home: NodeHome, kind: type, match: Callable[[Any], bool] = lambda tx: True
) -> list[tuple[int, Any]]:
    """(height, tx) of every committed `kind` transaction `match`ing, oldest first."""
    found = []
    engine = json.loads((home.path / "genesis.json").read_text()).get("engine", OUR_ENGINE)
    with NodeStore(home.db) as store:
        for stored in store.iter_blocks(after=0):
            for raw in decode_stored_block(engine, stored).txs:
                tx = decode_tx(raw)
                if isinstance(tx, kind) and match(tx):
                    found.append((stored.height, tx))
    return found


async def wait_committed_everywhere(net: NodeNetwork, kind: type) -> tuple[int, Any]:
    """The height and transaction of `kind` once every node committed it, same root."""
    with trio.move_on_after(60):
        while (found := find_committed(net.homes[0], kind)) is None:
            await trio.sleep(0.2)
    if found is None:
        statuses = [await net.get_json(home, "/v1/bridge") for home in net.homes]
        raise AssertionError(f"no {kind.__name__} committed; bridge status {statuses}")
    height, tx = found
    await net.wait_for_height(height, timeout_s=30)
    roots = {home.name: home.get_roots()[height] for home in net.homes}
    assert len(set(roots.values())) == 1, roots
    assert all(find_committed(home, kind) == found for home in net.homes)
    return height, tx
