"""Watchers on real anvil chains: exactly-once deposits, reorgs, crashes of watcher and node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import ChainIdMismatch, account_from_key, connect
from bridge.chain_answers import ChainBlock, MalformedAnswer
from bridge.cursor import CursorStore
from bridge.deposits import DepositEvent, decode_deposit_log
from bridge.devchain import finalize, mine, revert, send_native_deposits, snapshot
from bridge.vault import NATIVE, deploy_test_token, deploy_vault, deposit_token, get_vault_address
from bridge.watcher import (
    ReorgDetected,
    Watcher,
    WatcherConfig,
    check_canonical_blocks,
    check_receipts,
    fetch_blocks,
    fetch_deposit_logs,
)
from tests.bridge.conftest import make_set, make_validators

pytestmark = pytest.mark.chain
REPO = Path(__file__).resolve().parents[2]


def member(i: int) -> bytes:
    return keccak(text=f"member-{i}")[:20]


def start_chain(chain_id: int, **kwargs: object):  # type: ignore[no-untyped-def]
    node = AnvilNode(chain_id=chain_id, **kwargs).start()  # type: ignore[arg-type]
    chain = connect(node.url, chain_id)
    vault = deploy_vault(chain, make_set(make_validators(4)), account_from_key(DEV_PRIVATE_KEY))
    return node, chain, vault


def config_for(node: AnvilNode, vault_address: bytes, **overrides: object) -> WatcherConfig:
    fields: dict[str, object] = {
        "chain_id": node.chain_id,
        "url": node.url,
        "vault": vault_address,
        "poll_interval_s": 0.02,
        "rpc_timeout_s": 5.0,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.2,
        "heartbeat_interval_s": 0.5,
    }
    fields.update(overrides)
    return WatcherConfig(**fields)  # type: ignore[arg-type]


class StoredDeposits:
    """The deposits watchers stored, read from their store each time a commit that
    stored any calls `wake` (the watchers' `on_stored`): each once, in stored order."""

    def __init__(self, store: CursorStore) -> None:
        self.store = store
        self.seq = 0
        self.woken = trio.Event()

    def wake(self) -> None:
        self.woken.set()

    async def receive(self, count: int) -> list[DepositEvent]:
        """The next `count` deposits stored, waiting for the commits that store them."""
        got: list[DepositEvent] = []
        with trio.fail_after(30):
            while len(got) < count:
                rows = await trio.to_thread.run_sync(
                    self.store.get_deposits_since, self.seq, count - len(got)
                )
                if not rows:
                    await self.woken.wait()
                    self.woken = trio.Event()
                    continue
                self.seq = rows[-1][0]
                got.extend(deposit for _, deposit in rows)
        return got


async def test_deposits_on_two_chains_are_observed_exactly_once(tmp_path: Path) -> None:
    dev = account_from_key(DEV_PRIVATE_KEY)
    node_a, chain_a, vault_a = start_chain(31_201)
    node_b, chain_b, vault_b = start_chain(31_202)
    try:
        token = deploy_test_token(chain_a, dev)
        for i in range(3):
            deposit_token(chain_a, vault_a, token, 100 + i, member(i), dev, sub_account=i)
        send_native_deposits(chain_b, vault_b, [member(7), member(8)], amount=5)
        finalize(chain_a)
        mine(chain_b, 5)
        store = CursorStore(tmp_path / "cursor.sqlite")
        stored = StoredDeposits(store)
        config_b = config_for(node_b, get_vault_address(vault_b), confirmations=5)
        watchers = [
            Watcher(config_for(node_a, get_vault_address(vault_a)), store, stored.wake),
            # Chain B as a chain without a `finalized` tag: a configured confirmation depth.
            Watcher(config_b, store, stored.wake),
        ]
        async with trio.open_nursery() as nursery:
            for watcher in watchers:
                await nursery.start(watcher.run)
            first = await stored.receive(5)
            # One more deposit per chain after finality: earlier ones must not come again.
            send_native_deposits(chain_a, vault_a, [member(9)])
            # a chain block dated ahead: its deposit carries the block's time, not a clock's
            ahead_s = chain_b.w3.eth.get_block("latest")["timestamp"] + 1_000
            chain_b.w3.provider.make_request("evm_setNextBlockTimestamp", [ahead_s])
            send_native_deposits(chain_b, vault_b, [member(9)])
            finalize(chain_a)
            mine(chain_b, 5)
            later = await stored.receive(2)
            nursery.cancel_scope.cancel()
        by_chain = {31_201: [], 31_202: []}  # type: dict[int, list[DepositEvent]]
        for event in first + later:
            by_chain[event.chain_id].append(event)
        token_deposits = sorted(by_chain[31_201][:3], key=lambda e: e.deposit_nonce)
        assert [(e.member, e.sub_account, e.token, e.amount) for e in token_deposits] == [
            (member(i), i, bytes.fromhex(token.address[2:]), 100 + i) for i in range(3)
        ]
        assert {(e.member, e.token, e.amount) for e in by_chain[31_202][:2]} == {
            (member(7), NATIVE, 5),
            (member(8), NATIVE, 5),
        }
        assert [e.member for e in later] == [member(9), member(9)]
        chains = {31_201: chain_a, 31_202: chain_b}
        for event in first + later:
            block = chains[event.chain_id].w3.eth.get_block(event.block_number)
            assert event.block_time_s == block["timestamp"]
        assert by_chain[31_202][-1].block_time_s == ahead_s
        assert store.count_deposits(31_201) == 4 and store.count_deposits(31_202) == 3
        assert len({e.key for e in first + later}) == 7
    finally:
        node_a.kill()
        node_b.kill()


class HeadersAnswering:
    """A chain node whose every header is `header`."""

    def __init__(self, header: object) -> None:
        self.header = header

    def batch_request(self, calls: list[tuple[str, list[object]]]) -> list[object]:
        return [self.header for _ in calls]


@pytest.mark.parametrize(
    "header",
    [{"hash": "0x" + "11" * 32}, {"hash": "0x" + "11" * 32, "timestamp": "soon"}, "0xabc"],
)
def test_a_header_without_a_hash_and_timestamp_is_a_malformed_answer(header: object) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        fetch_blocks(HeadersAnswering(header), [7])  # type: ignore[arg-type]
    assert caught.value.what.startswith("eth_getBlockByNumber 7")
    good = {"hash": "0x" + "11" * 32, "timestamp": "0x10"}
    assert fetch_blocks(HeadersAnswering(good), [7]) == {  # type: ignore[arg-type]
        7: ChainBlock(bytes([0x11]) * 32, 16)
    }
    assert fetch_blocks(HeadersAnswering(None), [7]) == {7: None}  # type: ignore[arg-type]


async def test_wrong_chain_id_is_refused(tmp_path: Path) -> None:
    with AnvilNode(chain_id=31_203) as node:
        watcher = Watcher(
            config_for(node, bytes(20), chain_id=1), CursorStore(tmp_path / "c.sqlite")
        )
        with pytest.raises(ChainIdMismatch) as caught:
            await watcher.connect()
        assert (caught.value.expected, caught.value.actual) == (1, 31_203)


async def test_reorged_deposit_is_never_stored_and_remined_once(tmp_path: Path) -> None:
    node, chain, vault = start_chain(31_204)
    try:
        store = CursorStore(tmp_path / "cursor.sqlite")
        watcher = Watcher(config_for(node, get_vault_address(vault), verify_receipts=True), store)
        await watcher.connect()
        mine(chain, 70)
        await watcher.step()
        before = snapshot(chain)
        depositor = Account.create()
        chain.w3.eth.send_transaction(
            {"from": chain.w3.eth.accounts[0], "to": depositor.address, "value": 10**18}
        )
        tx = vault.functions.depositNative(to_checksum_address(member(1)), 0).build_transaction(
            {
                "from": depositor.address,
                "value": 42,
                "nonce": 0,
                "chainId": chain.chain_id,
                "gas": 100_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
            }
        )
        raw = depositor.sign_transaction(tx).raw_transaction
        tx_hash = chain.w3.eth.send_raw_transaction(raw)
        # anvil answers a sent transaction before its automined block is always readable
        original = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
        stale_log = fetch_deposit_logs(chain, get_vault_address(vault), 0, original["blockNumber"])
        await watcher.step()
        assert [d.tx_hash for d in watcher.status.pending.values()] == [bytes(tx_hash)]
        assert store.count_deposits(node.chain_id) == 0  # seen, not final: not stored

        revert(chain, before)  # the deposit's block is orphaned
        mine(chain, 3)
        await watcher.step()
        assert watcher.status.pending == {} and watcher.status.orphaned == 1
        stale = decode_deposit_log(chain.chain_id, stale_log[-1], 0)
        with pytest.raises(ReorgDetected):  # a stale log never passes the canonical check
            check_canonical_blocks(chain, [stale_log[-1].block_ref])
        with pytest.raises(ReorgDetected):  # nor the receipt check (no receipt any more)
            check_receipts(chain, [stale])

        chain.w3.eth.send_transaction(
            {"from": chain.w3.eth.accounts[0], "to": depositor.address, "value": 10**18}
        )
        assert chain.w3.eth.send_raw_transaction(raw) == tx_hash  # the same deposit, re-mined
        remined = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
        assert remined["blockHash"] != original["blockHash"]
        finalize(chain)
        while await watcher.step():
            pass
        stored = store.get_deposits_since(0)
        assert len(stored) == 1
        assert stored[0][1].tx_hash == bytes(tx_hash)
        assert stored[0][1].block_hash == bytes(remined["blockHash"])
        assert stored[0][1].amount == 42
    finally:
        node.kill()


def watcher_process(node: AnvilNode, vault: bytes, db: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "bridge.watcher",
        "--url",
        node.url,
        "--chain-id",
        str(node.chain_id),
        "--vault",
        "0x" + vault.hex(),
        "--db",
        str(db),
        "--batch-blocks",
        "1",
        "--max-batch-blocks",
        "1",
        "--poll-interval",
        "0.05",
    ]
    return subprocess.Popen(args, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


async def wait_for_count(db: Path, chain_id: int, at_least: int) -> int:
    """Poll another process's SQLite file (there is no event to wait on across processes)."""
    with trio.fail_after(60):
        while True:
            if db.exists():
                store = CursorStore(db)
                count = store.count_deposits(chain_id)
                store.close()
                if count >= at_least:
                    return count
            await trio.sleep(0.05)


def assert_exactly_once(db: Path, chain_id: int, count: int) -> None:
    store = CursorStore(db)
    nonces = [d.deposit_nonce for _, d in store.get_deposits_since(0, limit=10 * count)]
    store.close()
    assert sorted(nonces) == list(range(1, count + 1))


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.beside_networks
async def test_watcher_killed_mid_stream_resumes_without_loss_or_doubles(tmp_path: Path) -> None:
    node, chain, vault = start_chain(31_205)
    db = tmp_path / "cursor.sqlite"
    total = 150
    try:
        send_native_deposits(chain, vault, [member(i) for i in range(total)], per_block=1)
        finalize(chain)
        first = watcher_process(node, get_vault_address(vault), db)
        seen = await wait_for_count(db, node.chain_id, 20)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert seen < total  # killed mid-stream
        second = watcher_process(node, get_vault_address(vault), db)
        try:
            await wait_for_count(db, node.chain_id, total)
        finally:
            second.kill()
            second.wait()
        assert_exactly_once(db, node.chain_id, total)
    finally:
        node.kill()


@pytest.mark.slow
async def test_anvil_restart_with_state_loses_and_doubles_nothing(tmp_path: Path) -> None:
    node, chain, vault = start_chain(31_206, state_path=tmp_path / "anvil-state.json")
    store = CursorStore(tmp_path / "cursor.sqlite")
    stored = StoredDeposits(store)
    watcher = Watcher(config_for(node, get_vault_address(vault)), store, stored.wake)
    try:
        send_native_deposits(chain, vault, [member(i) for i in range(20)])
        finalize(chain)
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run)
            await stored.receive(20)
            send_native_deposits(chain, vault, [member(i) for i in range(20, 30)])
            head = chain.get_block_number("latest")
            await trio.to_thread.run_sync(node.stop)  # SIGINT: anvil dumps its chain
            errors_before = watcher.status.errors
            while watcher.status.errors == errors_before:  # the watcher notices the outage
                await trio.sleep(0.02)
            await trio.to_thread.run_sync(node.start)
            chain = connect(node.url, node.chain_id)
            # what this test relies on, so that a lost dump fails here and says so
            assert chain.get_block_number("latest") >= head, "anvil restarted without its blocks"
            send_native_deposits(chain, vault, [member(i) for i in range(30, 40)])
            finalize(chain)
            await stored.receive(20)
            nursery.cancel_scope.cancel()
        assert watcher.status.reconnects >= 2
        nonces = sorted(d.deposit_nonce for _, d in store.get_deposits_since(0))
        assert nonces == list(range(1, 41))
    finally:
        node.kill()
