"""One watcher per chain: reads vault deposits only below finality, exactly once.

Finality: the chain's `finalized` tag, or `latest - confirmations` when configured
(for chains without the tag). Each step scans one block range [next, to] with
to <= final, then commits the range's deposits and the new cursor in one SQLite
transaction (bridge/cursor.py), so a crash anywhere loses and doubles nothing.

Reorg safety without a receipt per deposit: a range's logs come from one
`eth_getLogs`, and then, for every block that holds a log, the canonical header at
that height is fetched (batched) and its hash compared with the log's blockHash. A
log is accepted only if its block is the canonical block at a final height, so it
cannot be orphaned later (short of a reorg deeper than finality, which the chain's
finality rule excludes). Receipt status needs no check: a reverted transaction emits
no logs, so a log in a canonical block proves a successful deposit. On any mismatch
the range is not committed and is re-read after backoff; a deposit re-mined
elsewhere is then read at its new place, under the same dedup key rules.

Deposits above finality are tracked as `pending` (informational: "seen, not final");
they are never stored or signed, and one whose block is reorged away simply vanishes
(counted in `orphaned`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
import trio

from bridge.chain import Chain, ChainIdMismatch, connect
from bridge.chain_answers import (
    ChainBlock,
    ChainLog,
    MalformedAnswer,
    RpcError,
    read_header,
    read_logs,
    read_receipt,
)
from bridge.cursor import CursorStore
from bridge.deposits import DEPOSITED_TOPIC, DEPOSITED_TOPIC_HEX, DepositEvent, decode_deposit_log
from bridge.payouts import WITHDRAWN_TOPIC_HEX, decode_withdrawn_log
from clearing.transition.withdrawal import PayoutObservation

log = logging.getLogger(__name__)
T = TypeVar("T")


class WatcherError(Exception):
    """Base of the watcher's typed errors."""


class RpcUnavailable(WatcherError):
    """The RPC endpoint timed out or refused the connection."""


class ReorgDetected(WatcherError):
    def __init__(self, block_number: int, log_hash: bytes, canonical_hash: bytes | None) -> None:
        canonical = canonical_hash.hex() if canonical_hash else None
        super().__init__(
            f"block {block_number}: log in 0x{log_hash.hex()}, canonical is {canonical}"
        )
        self.block_number, self.log_hash, self.canonical_hash = (
            block_number,
            log_hash,
            canonical_hash,
        )


@dataclass(frozen=True)
class WatcherConfig:
    chain_id: int
    url: str
    vault: bytes
    start_block: int = 0
    confirmations: int | None = None  # None: the chain's `finalized` tag
    batch_blocks: int = 500
    max_batch_blocks: int = 10_000
    target_logs_per_batch: int = 5_000
    poll_interval_s: float = 1.0
    rpc_timeout_s: float = 10.0
    heartbeat_interval_s: float = 5.0
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 10.0
    verify_receipts: bool = False  # see scan_final_range


# ---- synchronous chain reads (run in worker threads) -------------------------


def get_final_block(chain: Chain, confirmations: int | None) -> int:
    """Highest block number considered final."""
    if confirmations is None:
        return chain.get_block_number("finalized")
    return max(chain.get_block_number("latest") - confirmations, -1)


def fetch_deposit_logs(
    chain: Chain,
    vault: bytes,
    first: int,
    last: int,
    topics: tuple[str, ...] = (DEPOSITED_TOPIC_HEX,),
) -> list[ChainLog]:
    """The logs of `vault` in blocks [first, last] whose event is one of `topics`."""
    flt = {
        "address": "0x" + vault.hex(),
        "fromBlock": hex(first),
        "toBlock": hex(last),
        "topics": [list(topics)],
    }
    return read_logs("eth_getLogs", chain.request("eth_getLogs", [flt]))


def fetch_blocks(chain: Chain, numbers: list[int]) -> dict[int, ChainBlock | None]:
    """The canonical block at each height (None where the node has no such block)."""
    blocks = chain.batch_request([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    return {
        n: None if b is None else read_header(n, b) for n, b in zip(numbers, blocks, strict=True)
    }


def scan_final_range(
    chain: Chain, vault: bytes, first: int, last: int, verify_receipts: bool = False
) -> tuple[list[DepositEvent], list[PayoutObservation]]:
    """Deposits and payouts in [first, last], each in the canonical block at its height.

    With `verify_receipts`, each deposit's receipt is also re-fetched (batched) and
    its block hash and status compared: redundant with the canonical-block check, for
    operators who want the belt and braces on low-volume chains.
    """
    logs = fetch_deposit_logs(chain, vault, first, last, (DEPOSITED_TOPIC_HEX, WITHDRAWN_TOPIC_HEX))
    for entry in logs:
        if entry.removed:
            raise ReorgDetected(entry.block_number, entry.block_hash, None)
    times = check_canonical_blocks(chain, [entry.block_ref for entry in logs])
    deposits, payouts = [], []
    for entry in logs:
        if entry.topics[:1] == (DEPOSITED_TOPIC,):
            deposits.append(decode_deposit_log(chain.chain_id, entry, times[entry.block_number]))
        else:
            payouts.append(decode_withdrawn_log(chain.chain_id, entry, times[entry.block_number]))
    if verify_receipts:
        check_receipts(chain, deposits)
    return deposits, payouts


def check_receipts(chain: Chain, deposits: list[DepositEvent]) -> None:
    """Raise ReorgDetected unless each deposit's receipt is successful and in its block."""
    hashes = sorted({d.tx_hash for d in deposits})
    calls = [("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes]
    receipts = {
        h: None if answer is None else read_receipt(h, answer)
        for h, answer in zip(hashes, chain.batch_request(calls), strict=True)
    }
    for deposit in deposits:
        receipt = receipts[deposit.tx_hash]
        if receipt is None or not receipt.succeeded:
            raise ReorgDetected(deposit.block_number, deposit.block_hash, None)
        if receipt.block_hash != deposit.block_hash:
            raise ReorgDetected(deposit.block_number, deposit.block_hash, receipt.block_hash)


def check_canonical_blocks(chain: Chain, blocks: list[tuple[int, bytes]]) -> dict[int, int]:
    """Raise ReorgDetected unless each (number, hash) is the canonical block at that
    height; the timestamp of each."""
    canonical = fetch_blocks(chain, sorted({number for number, _ in blocks}))
    times = {}
    for number, block_hash in blocks:
        found = canonical[number]
        if found is None or found.hash != block_hash:
            raise ReorgDetected(number, block_hash, None if found is None else found.hash)
        times[number] = found.time_s
    return times


class DepositNotFinal(WatcherError):
    def __init__(self, tx_hash: bytes, reason: str) -> None:
        super().__init__(f"tx 0x{tx_hash.hex()}: {reason}")
        self.tx_hash, self.reason = tx_hash, reason


def fetch_deposit_by_receipt(
    chain: Chain, vault: bytes, tx_hash: bytes, log_index: int, confirmations: int | None
) -> DepositEvent:
    """One deposit re-read from its receipt: successful, final, in the canonical block."""
    answer = chain.request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
    if answer is None:
        raise DepositNotFinal(tx_hash, "no receipt (unknown or orphaned)")
    receipt = read_receipt(tx_hash, answer)
    if not receipt.succeeded:
        raise DepositNotFinal(tx_hash, "transaction reverted")
    final = get_final_block(chain, confirmations)
    if receipt.block_number > final:
        raise DepositNotFinal(tx_hash, f"block {receipt.block_number} above final {final}")
    matching = [
        entry
        for entry in receipt.logs
        if entry.log_index == log_index
        and entry.address == vault
        and entry.topics[:1] == (DEPOSITED_TOPIC,)
    ]
    if not matching:
        raise DepositNotFinal(tx_hash, f"no vault deposit at log index {log_index}")
    times = check_canonical_blocks(chain, [matching[0].block_ref])
    return decode_deposit_log(chain.chain_id, matching[0], times[matching[0].block_number])


def scan_pending(chain: Chain, vault: bytes, first: int, last: int) -> list[DepositEvent]:
    """Deposits in [first, last], not yet final: a log whose block is no longer the one at
    its height is left out (orphaned since it was read)."""
    logs = fetch_deposit_logs(chain, vault, first, last)
    blocks = fetch_blocks(chain, sorted({entry.block_number for entry in logs}))
    deposits = []
    for entry in logs:
        block = blocks[entry.block_number]
        if block is not None and block.hash == entry.block_hash:
            deposits.append(decode_deposit_log(chain.chain_id, entry, block.time_s))
    return deposits


# ---- the watcher task ----------------------------------------------------------


@dataclass
class WatcherStatus:
    next_block: int = 0
    final_block: int = -1
    observed: int = 0
    orphaned: int = 0
    errors: int = 0
    reconnects: int = 0
    range_shrinks: int = 0
    last_error: str = ""
    pending: dict[tuple[int, bytes, int], DepositEvent] = field(default_factory=dict)


class Watcher:
    """Scans one chain forever; new final deposits and payouts go to the store, and
    `on_stored` is called after each commit that stored any (the node's attest loop
    waits on it instead of polling the store)."""

    def __init__(
        self,
        config: WatcherConfig,
        store: CursorStore,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_stored = on_stored
        self.status = WatcherStatus(
            next_block=store.get_next_block(config.chain_id, config.vault, config.start_block)
        )
        self.batch_blocks = config.batch_blocks
        self.chain: Chain | None = None
        self.last_ok = 0.0

    def to_json(self) -> dict[str, object]:
        """Where it reads and how it fares, as a node shows it (GET /v1/bridge)."""
        status = self.status
        return {
            "chain_id": self.config.chain_id,
            "next_block": status.next_block,
            "final_block": status.final_block,
            "observed": status.observed,
            "errors": status.errors,
            "last_error": status.last_error,
            "answered_s_ago": self.get_answered_s_ago(),
        }

    def get_answered_s_ago(self) -> float | None:
        """Seconds since the RPC last answered (None: never). A link that hangs raises
        no error until `rpc_timeout_s` has passed, and the cursor stands still whether
        the chain is quiet or unreachable: this tells them apart."""
        if not self.last_ok:
            return None
        return round(trio.current_time() - self.last_ok, 1)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect (refusing a wrong chain id), then scan until cancelled."""
        await self.connect()
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeat)
            await self._scan_forever()

    async def connect(self) -> None:
        """Connect, retrying while the node is down; a wrong chain id raises at once."""
        backoff = self.config.backoff_initial_s
        while True:
            try:
                await self._reconnect()
                return
            except RpcUnavailable as exc:
                self._record_error(exc)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.config.backoff_max_s)

    async def _reconnect(self) -> None:
        """A fresh HTTP connection; ChainIdMismatch propagates (configuration is wrong)."""
        try:
            with trio.fail_after(self.config.rpc_timeout_s):
                self.chain = await trio.to_thread.run_sync(
                    connect,
                    self.config.url,
                    self.config.chain_id,
                    self.config.rpc_timeout_s,
                    abandon_on_cancel=True,
                )
        except trio.TooSlowError:
            raise RpcUnavailable(f"connect timed out after {self.config.rpc_timeout_s}s") from None
        except (requests.RequestException, OSError) as exc:
            raise RpcUnavailable(f"connect failed: {exc}") from None
        self.status.reconnects += 1
        self.last_ok = trio.current_time()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a chain read in a thread, bounded by the RPC timeout."""
        chain = self.chain
        assert chain is not None
        try:
            with trio.fail_after(self.config.rpc_timeout_s):
                result = await trio.to_thread.run_sync(fn, chain, *args, abandon_on_cancel=True)
        except trio.TooSlowError:
            self.chain = None  # hung connection: the next step opens a new one
            raise RpcUnavailable(
                f"{fn.__name__} timed out after {self.config.rpc_timeout_s}s"
            ) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else -1
            raise RpcError(fn.__name__, status, str(exc)) from None
        except (requests.RequestException, OSError) as exc:
            self.chain = None
            raise RpcUnavailable(f"{fn.__name__}: {exc}") from None
        self.last_ok = trio.current_time()
        return result

    async def _scan_forever(self) -> None:
        backoff = self.config.backoff_initial_s
        while True:
            try:
                if self.chain is None:
                    await self._reconnect()
                progressed = await self.step()
                backoff = self.config.backoff_initial_s
                if not progressed:
                    await trio.sleep(self.config.poll_interval_s)
                continue
            except RpcError as exc:
                self._record_error(exc)
                if exc.is_range_too_large and self.batch_blocks > 1:
                    self.batch_blocks = max(1, self.batch_blocks // 2)
                    self.status.range_shrinks += 1
                    continue
            except (RpcUnavailable, ReorgDetected, MalformedAnswer) as exc:
                self._record_error(exc)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self.config.backoff_max_s)

    def _record_error(self, exc: Exception) -> None:
        self.status.errors += 1
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("chain %d watcher: %s", self.config.chain_id, self.status.last_error)

    async def step(self) -> bool:
        """Scan and commit one final range; False when there was nothing new to scan."""
        config = self.config
        final = await self._call(get_final_block, config.confirmations)
        self.status.final_block = final
        try:
            await self._update_pending(final)
        except (RpcError, MalformedAnswer) as exc:
            self._record_error(exc)  # display only: never let it stall the final scan
        first = self.status.next_block
        if first > final:
            return False
        last = min(final, first + self.batch_blocks - 1)
        deposits, payouts = await self._call(
            scan_final_range, config.vault, first, last, config.verify_receipts
        )
        fresh = await trio.to_thread.run_sync(
            self.store.commit_range, config.chain_id, config.vault, last + 1, deposits, payouts
        )
        self.status.next_block = last + 1
        self.status.observed += len(fresh)
        self._adapt_batch(len(deposits) + len(payouts))
        for deposit in fresh:
            self.status.pending.pop(deposit.key, None)
        if (fresh or payouts) and self.on_stored is not None:
            self.on_stored()
        return True

    def _adapt_batch(self, log_count: int) -> None:
        if log_count < self.config.target_logs_per_batch // 2:
            self.batch_blocks = min(self.batch_blocks * 2, self.config.max_batch_blocks)
        elif log_count > self.config.target_logs_per_batch:
            self.batch_blocks = max(1, self.batch_blocks // 2)

    async def _update_pending(self, final: int) -> None:
        """Deposits above finality, for display; a vanished one above `final` was orphaned."""
        head = await self._call(lambda chain: chain.get_block_number("latest"))
        if head - final > self.batch_blocks:
            return  # too wide to read in one query: pending is display only, skip it
        seen: list[DepositEvent] = []
        if head > final:
            seen = await self._call(scan_pending, self.config.vault, final + 1, head)
        now = {d.key: d for d in seen}
        for key, old in self.status.pending.items():
            if key not in now and old.block_number > final:
                self.status.orphaned += 1
        self.status.pending = now

    async def _heartbeat(self) -> None:
        """Ping the node; a hung or dead connection is replaced before the scan needs it."""
        while True:
            await trio.sleep(self.config.heartbeat_interval_s)
            if trio.current_time() - self.last_ok < self.config.heartbeat_interval_s:
                continue
            try:
                if self.chain is None:
                    await self._reconnect()
                else:
                    await self._call(lambda chain: chain.get_block_number("latest"))
            except (RpcUnavailable, RpcError, MalformedAnswer) as exc:
                self._record_error(exc)


# ---- a stand-alone watcher process (used by crash tests and the devnet) ----------


def parse_args(argv: list[str]) -> tuple[WatcherConfig, Path]:
    parser = argparse.ArgumentParser(prog="python -m bridge.watcher")
    parser.add_argument("--url", required=True)
    parser.add_argument("--chain-id", type=int, required=True)
    parser.add_argument("--vault", required=True, help="0x-hex vault address")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--confirmations", type=int, default=None)
    parser.add_argument("--batch-blocks", type=int, default=500)
    parser.add_argument("--max-batch-blocks", type=int, default=10_000)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    args = parser.parse_args(argv)
    config = WatcherConfig(
        chain_id=args.chain_id,
        url=args.url,
        vault=bytes.fromhex(args.vault.removeprefix("0x")),
        confirmations=args.confirmations,
        batch_blocks=args.batch_blocks,
        max_batch_blocks=args.max_batch_blocks,
        poll_interval_s=args.poll_interval,
    )
    return config, args.db


def main(argv: list[str]) -> int:
    config, db = parse_args(argv)
    store = CursorStore(db)
    try:
        trio.run(Watcher(config, store).run)
    except ChainIdMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
