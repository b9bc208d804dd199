"""The mempool: opaque transaction bytes waiting for a block.

The mempool knows nothing of what a transaction means: a `check` function (see
node/txcheck.py) decides whether one is acceptable now and answers its `Admission`: its
sender, nonce and priority. Invariants:

- at most one entry per transaction hash, and per (sender, nonce);
- total count <= max_txs and total bytes <= max_bytes; when a newcomer does not
  fit, the lowest-priority (then oldest) entries are evicted, but only entries
  that rank below the newcomer — otherwise the newcomer is refused;
- eviction takes a sender's highest nonce first, so a sender's remaining
  transactions stay a contiguous prefix of what it submitted;
- `reap` yields each sender's transactions in nonce order;
- `update` after a block drops included transactions and re-checks the rest
  against the new state, dropping those that became invalid.

The check's refusals are its typed errors (`rejects`: clearing's `ClearingError` and the
codec's `DecodeError` for node/txcheck.py). Anything else it raises is a bug in a check,
not a verdict on the transaction: it is logged with its traceback and refused as
`CheckFailed`, so one malformed input can neither stop the node nor pass as an ordinary
refusal.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from clearing.errors import ClearingError
from clearing.tx_kind import Admission
from consensus.compact import compute_tx_hash
from node.limits import MAX_MEMPOOL_TX_BYTES
from records.codec import DecodeError

log = logging.getLogger(__name__)


CheckFn = Callable[[bytes], Admission]
"""Raises one of the mempool's `rejects` (clearing's typed errors) for a bad tx."""


class MempoolError(Exception):
    """A transaction was not admitted; the mempool is unchanged."""


class TxTooLarge(MempoolError):
    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"transaction of {size} bytes exceeds the {limit}-byte limit")


class DuplicateTx(MempoolError):
    def __init__(self, tx_hash: bytes) -> None:
        self.tx_hash = tx_hash
        super().__init__(f"transaction 0x{tx_hash.hex()} is already pending")


class NonceTaken(MempoolError):
    def __init__(self, sender: bytes, nonce: int) -> None:
        self.sender, self.nonce = sender, nonce
        super().__init__(f"sender 0x{sender.hex()} already has a pending tx with nonce {nonce}")


class MempoolFull(MempoolError):
    def __init__(self, count: int, size: int, priority: int) -> None:
        self.count, self.size, self.priority = count, size, priority
        super().__init__(
            f"mempool full ({count} txs, {size} bytes) and nothing pending ranks below "
            f"priority {priority}"
        )


class TxRejected(MempoolError):
    """The check function refused the transaction; `cause` is its typed error."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(str(cause))


class CheckFailed(MempoolError):
    """The check raised something other than a refusal: a bug, logged where it happened."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"the transaction could not be checked ({type(cause).__name__})")


@dataclass
class _Entry:
    tx: bytes
    tx_hash: bytes
    check: Admission
    arrival: int

    def rank(self) -> tuple[int, int]:
        """Eviction order: lower priority first, then older first."""
        return (self.check.priority, self.arrival)


@dataclass
class Mempool:
    check: CheckFn
    recheck: CheckFn | None = None
    """The check `update` runs on what is still pending after a block (default: `check`)."""
    rejects: tuple[type[Exception], ...] = (ClearingError, DecodeError)
    max_txs: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    max_tx_bytes: int = MAX_MEMPOOL_TX_BYTES
    _by_hash: dict[bytes, _Entry] = field(default_factory=dict)
    _by_sender: dict[bytes, dict[int, _Entry]] = field(default_factory=dict)
    _size: int = 0
    _arrivals: itertools.count[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def size_bytes(self) -> int:
        return self._size

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def get_tx(self, tx_hash: bytes) -> bytes | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.tx

    def add(self, tx: bytes) -> bytes:
        """Admit `tx` (after every check) and return its hash; raise MempoolError if not."""
        if len(tx) > self.max_tx_bytes:
            raise TxTooLarge(len(tx), self.max_tx_bytes)
        tx_hash = compute_tx_hash(tx)
        if tx_hash in self._by_hash:
            raise DuplicateTx(tx_hash)
        try:
            result = self.check(tx)
        except self.rejects as exc:
            raise TxRejected(exc) from exc
        except Exception as exc:
            log.exception("bug in the check of transaction 0x%s", tx_hash.hex())
            raise CheckFailed(exc) from exc
        if result.nonce in self._by_sender.get(result.sender, {}):
            raise NonceTaken(result.sender, result.nonce)
        entry = _Entry(tx, tx_hash, result, next(self._arrivals))
        for victim in self._plan_eviction(entry):
            self._remove(victim)
        self._insert(entry)
        return tx_hash

    def _plan_eviction(self, newcomer: _Entry) -> list[_Entry]:
        """Entries to drop so `newcomer` fits; each ranks below it. Raises MempoolFull."""
        count, size = len(self._by_hash) + 1, self._size + len(newcomer.tx)
        if count <= self.max_txs and size <= self.max_bytes:
            return []
        tails = {s: sorted(by_nonce.values(), key=lambda e: e.check.nonce)
                 for s, by_nonce in self._by_sender.items()}  # fmt: skip
        victims: list[_Entry] = []
        while count > self.max_txs or size > self.max_bytes:
            candidates = [seq[-1] for seq in tails.values() if seq]
            victim = min(candidates, key=_Entry.rank, default=None)
            if victim is None or victim.check.priority >= newcomer.check.priority:
                raise MempoolFull(len(self._by_hash), self._size, newcomer.check.priority)
            tails[victim.check.sender].pop()
            victims.append(victim)
            count, size = count - 1, size - len(victim.tx)
        return victims

    def _insert(self, entry: _Entry) -> None:
        self._by_hash[entry.tx_hash] = entry
        self._by_sender.setdefault(entry.check.sender, {})[entry.check.nonce] = entry
        self._size += len(entry.tx)

    def _remove(self, entry: _Entry) -> None:
        del self._by_hash[entry.tx_hash]
        by_nonce = self._by_sender[entry.check.sender]
        del by_nonce[entry.check.nonce]
        if not by_nonce:
            del self._by_sender[entry.check.sender]
        self._size -= len(entry.tx)

    def reap(self, max_bytes: int, max_txs: int | None = None) -> list[bytes]:
        """Transactions for a proposal: highest priority first (then oldest), each sender's
        in nonce order, skipping what does not fit; the mempool is unchanged."""
        queues = {s: sorted(by_nonce.values(), key=lambda e: e.check.nonce, reverse=True)
                  for s, by_nonce in self._by_sender.items()}  # fmt: skip
        heads = [(_reap_key(q[-1]), sender) for sender, q in queues.items()]
        heapq.heapify(heads)
        chosen: list[bytes] = []
        size = 0
        while heads and (max_txs is None or len(chosen) < max_txs):
            _, sender = heapq.heappop(heads)
            queue = queues[sender]
            entry = queue.pop()
            if size + len(entry.tx) > max_bytes:
                continue  # drop the sender: a later nonce must not overtake this one
            chosen.append(entry.tx)
            size += len(entry.tx)
            if queue:
                heapq.heappush(heads, (_reap_key(queue[-1]), sender))
        return chosen

    def update(self, included: Iterable[bytes]) -> list[bytes]:
        """After a block: drop `included`, re-check the rest; returns hashes dropped as
        invalid. A copy of an included transaction arriving later needs no memory of it
        here: the check refuses it by the state the block left (a nonce, trade id, deposit
        nonce, pending withdrawal, ballot sequence, report hash or price observation spent;
        tests/node/test_txcheck.py holds every kind to it)."""
        for tx in included:
            entry = self._by_hash.get(compute_tx_hash(tx))
            if entry is not None:
                self._remove(entry)
        dropped = []
        recheck = self.check if self.recheck is None else self.recheck
        for entry in sorted(self._by_hash.values(), key=lambda e: e.arrival):
            try:
                recheck(entry.tx)
            except self.rejects:  # the tx became invalid
                self._remove(entry)
                dropped.append(entry.tx_hash)
            except Exception:  # a bug: the tx cannot be checked, so it cannot stay
                log.exception("bug in the re-check of transaction 0x%s", entry.tx_hash.hex())
                self._remove(entry)
                dropped.append(entry.tx_hash)
        return dropped


def _reap_key(entry: _Entry) -> tuple[int, int]:
    """Min-heap key of the reap order: higher priority first, then older first."""
    return (-entry.check.priority, entry.arrival)
