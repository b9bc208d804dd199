"""A CometBFT node's submissions while its CometBFT does not answer (not started yet,
restarting): nothing was refused, so the API answers 503 NotCommitting, a venue's cue to
fail over, never a 4xx that calls the batch bad; the recorded transactions stay recorded
until CometBFT takes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.api.errors import api_error_from
from node.cometbft.node_interface import CometNode
from node.cometbft.rpc import CometRpc
from node.liveness import CommitWatch, NotCommitting
from node.storage import NodeStore

TX = b"\x01" * 40


def comet_node(tmp_path: Path, store: NodeStore, rpc: CometRpc) -> CometNode:
    commits = CommitWatch(60_000, 7, lambda: False)
    return CometNode(4242, "v0", lambda: None, lambda tx: None, {}, rpc, store, 1 << 20,
                     commits)  # type: ignore[arg-type]  # fmt: skip


async def test_a_submission_while_cometbft_does_not_answer_is_503_not_committing(
    tmp_path: Path,
) -> None:
    with NodeStore(tmp_path / "node.sqlite3") as store:
        async with CometRpc(tmp_path / "rpc.sock", timeout_s=1) as rpc:  # nothing listens
            node = comet_node(tmp_path, store, rpc)
            with pytest.raises(NotCommitting, match="its CometBFT does not answer") as info:
                await node.submit_tx(TX)
            answer = api_error_from(info.value)
            assert (answer.status, answer.type) == (503, "NotCommitting")
            assert info.value.last_height == 7
            assert store.load_pending_txs() == []  # not accepted: nothing recorded


async def test_recorded_transactions_stay_recorded_while_cometbft_does_not_answer(
    tmp_path: Path,
) -> None:
    with NodeStore(tmp_path / "node.sqlite3") as store:
        store.write_pending_txs([(b"h" * 32, TX)])
        async with CometRpc(tmp_path / "rpc.sock", timeout_s=1) as rpc:
            assert await comet_node(tmp_path, store, rpc).resubmit_pending() is False
        assert store.load_pending_txs() == [TX]
