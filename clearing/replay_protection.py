"""Replay protection with bounded memory: trade ids per venue, deposit nonces per vault.

Trades: a sliding window per venue. ``TradeIdWindow`` keeps the highest trade id
the venue has cleared (``high``) and a ring bitmap of ``W`` bits (``W`` =
genesis ``trade_id_window``, a power of two): bit ``id mod W`` is set iff ``id``
in ``(high - W, high]`` was cleared. An id ``<= high - W`` is refused as
``StaleTradeId`` (it may or may not have been cleared: the ledger no longer
knows, so it never accepts it), an id inside the window whose bit is set as
``DuplicateTrade``. So no ``(venue, trade id)`` is ever applied twice, and a
venue's memory is ``W / 8`` bytes whatever its history. Advancing ``high`` by
``d`` clears the ``d - 1`` skipped slots: a byte-wise memset, O(1) per trade for
the dense increasing ids venues issue, at most ``W / 8`` bytes for a jump.

Credits: a vault numbers its deposits 1, 2, 3, ... (``depositNonce`` in
CollateralVault.sol). ``DepositNonces`` keeps per ``(chain id, vault)`` the
contiguous credited prefix ``1..through`` and the sparse set of credited nonces
above it. Exact (nothing is refused that was not credited), and its size is how
far out of order quorums complete. A deposit that cannot be credited (an
unregistered token, less than one quantum) still consumes its nonce through a
zero-quanta observation, so no gap stays open (collateral.py).

Both enter the state root by content (``get_replay_fields``); a window's bitmap is
hashed only after it changed (``TradeIdWindow.digest`` is the cache).

Request times: every signed request (a member's, and a venue's trade batch) carries the
time its signer made it, ``issued_at_ms``, and the last block time it may be applied at,
``expires_ms``, both signed (``check_request_times``, the one rule for clearing and
mempool admission, which judges by the next block's time as the node sees it:
clearing/transition/admission.py). In order:

1. its signed lifetime ``expires_ms - issued_at_ms`` is at most genesis
   ``max_request_lifetime_ms`` (``ExpiryTooFar``) and not negative
   (``ExpiryBeforeIssue``): read from the signed bytes alone, so a request refused so is
   refused at every block time, forever, on every path;
2. the block time is not past ``expires_ms`` (``RequestExpired``): final, as block time
   never goes back;
3. the block time is not more than ``MAX_ISSUED_AHEAD_MS`` before ``issued_at_ms``
   (``IssuedInFuture``): the one refusal that is not final, as a later block time lifts
   it. So signed bytes can apply only between ``issued_at_ms - MAX_ISSUED_AHEAD_MS`` and
   ``issued_at_ms + max_request_lifetime_ms``: "never" is not one signature away, nor is
   "next year" (it would have to be signed as issued next year, and is refused until
   then, saying from when those bytes may apply and how to supersede them).

A request a block refused spends its nonce or trade ids all the same unless no later
block could apply it anyway (member_authorisation.py, transition/trade.py), so the only signed bytes
that can still apply are those no block has seen, and they die at their expiry: a request
signed today cannot clear next week, when the member can pay for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from clearing.errors import (
    DuplicateCredit,
    DuplicateTrade,
    ExpiryBeforeIssue,
    ExpiryTooFar,
    IssuedInFuture,
    RequestExpired,
    StaleTradeId,
)

VaultKey = tuple[int, bytes]
"""``(chain_id, vault address)``: the scope of a vault's deposit nonces."""
DEFAULT_TRADE_ID_WINDOW = 1 << 20
"""Trade ids a venue may arrive out of order by. A venue's batches enter blocks in
batch-id order (the mempool orders each sender by nonce), so disorder comes from a
batch delayed in gossip or re-submitted after a node restart: at most a few blocks'
worth of its trades. At the network's 3,000 trades/s and 10,000 trades per batch,
2^20 ids are ~100 full batches or ~6 minutes of one venue taking all the flow, and
cost 128 KiB per venue. A venue faster than that should raise it in genesis."""
MIN_TRADE_ID_WINDOW = 8
MAX_TRADE_ID_WINDOW = 1 << 28  # 32 MiB per venue
DEFAULT_MAX_REQUEST_LIFETIME_MS = 3_600_000
"""The longest a request may be signed to live, from ``issued_at_ms`` to ``expires_ms``:
an hour, twelve times the SDK's defaults (a few minutes), room for requests that wait in
a busy mempool, yet a refused request's window for harm stays short."""
MAX_ISSUED_AHEAD_MS = 120_000
"""How far a request's ``issued_at_ms`` may be ahead of the block time: clocks apart. A
member's clock kept by NTP is within a second of the validators', but a block's time may
trail the wall clock: a CometBFT block's is the median time of the previous block's
commit votes, about one block interval back, and an idle network's blocks come at most a
minute apart (its longest empty-block wait, node/config.py). A protocol constant, not a
genesis key: it bounds how early signed bytes may apply, not how long they live."""
MIN_MAX_REQUEST_LIFETIME_MS = 1_000
MAX_MAX_REQUEST_LIFETIME_MS = 7 * 24 * 3_600_000


@dataclass(slots=True)
class TradeIdWindow:
    """One venue's window; ``bits`` is ``W / 8`` bytes, slot ``id mod W`` is bit
    ``slot & 7`` of byte ``slot >> 3``. ``digest``: sha256 of ``bits``, None once
    they changed (derived, not state)."""

    high: int
    bits: bytearray
    digest: bytes | None = field(default=None, compare=False)


@dataclass(slots=True)
class DepositNonces:
    """One vault's credited nonces: ``1..through`` and ``above`` (each > through + 1)."""

    through: int = 0
    above: set[int] = field(default_factory=set)


def is_valid_trade_id_window(size: int) -> bool:
    """A power of two within [MIN_TRADE_ID_WINDOW, MAX_TRADE_ID_WINDOW]."""
    return MIN_TRADE_ID_WINDOW <= size <= MAX_TRADE_ID_WINDOW and size & (size - 1) == 0


class SignedTimes(Protocol):
    """A signed request's times: a member request's, a trade batch's."""

    @property
    def issued_at_ms(self) -> int: ...

    @property
    def expires_ms(self) -> int: ...


def check_request_times(
    max_lifetime_ms: int, what: str, request: SignedTimes, block_time_ms: int
) -> None:
    """Raise what ``check_request_live`` raises, then ``IssuedInFuture`` while the request
    was issued more than ``MAX_ISSUED_AHEAD_MS`` after the block time."""
    check_request_live(max_lifetime_ms, what, request, block_time_ms)
    issued_at_ms = request.issued_at_ms
    if issued_at_ms - block_time_ms > MAX_ISSUED_AHEAD_MS:
        raise IssuedInFuture(
            what, issued_at_ms, block_time_ms, MAX_ISSUED_AHEAD_MS,
            issued_at_ms - MAX_ISSUED_AHEAD_MS, request.expires_ms,
        )  # fmt: skip


def check_request_live(
    max_lifetime_ms: int, what: str, request: SignedTimes, block_time_ms: int
) -> None:
    """What no later block can lift: raise ``ExpiryBeforeIssue`` or ``ExpiryTooFar`` unless
    the signed lifetime ``expires_ms - issued_at_ms`` is within ``[0, max_lifetime_ms]``
    (whatever the block time), then ``RequestExpired`` once the block time is past
    ``expires_ms`` (a request is valid up to and including it)."""
    issued_at_ms, expires_ms = request.issued_at_ms, request.expires_ms
    if expires_ms < issued_at_ms:
        raise ExpiryBeforeIssue(what, issued_at_ms, expires_ms)
    if expires_ms - issued_at_ms > max_lifetime_ms:
        raise ExpiryTooFar(what, issued_at_ms, expires_ms, max_lifetime_ms)
    if block_time_ms > expires_ms:
        raise RequestExpired(what, expires_ms, block_time_ms)


def check_trade_id(
    windows: dict[str, TradeIdWindow], size: int, venue_id: str, trade_id: int
) -> None:
    """Raise ``StaleTradeId`` below the venue's window, ``DuplicateTrade`` if cleared;
    the one rule for clearing and mempool admission (both in transition/trade.py)."""
    window = windows.get(venue_id)
    if window is None or trade_id > window.high:
        return
    lowest = window.high - size + 1
    if trade_id < lowest:
        raise StaleTradeId(venue_id, trade_id, lowest)
    slot = trade_id & (size - 1)
    if window.bits[slot >> 3] >> (slot & 7) & 1:
        raise DuplicateTrade(venue_id, trade_id)


def record_trade_id(
    windows: dict[str, TradeIdWindow], size: int, venue_id: str, trade_id: int
) -> None:
    """Mark a checked trade id cleared, sliding the window if it is the new highest."""
    window = windows.get(venue_id)
    if window is None:
        window = windows[venue_id] = TradeIdWindow(trade_id, bytearray(size >> 3))
    elif trade_id > window.high:
        _slide(window, size, trade_id)
    slot = trade_id & (size - 1)
    window.bits[slot >> 3] |= 1 << (slot & 7)
    window.digest = None


def _slide(window: TradeIdWindow, size: int, high: int) -> None:
    """Move the top to ``high``: the slots of the skipped ids ``old high + 1 .. high - 1``
    held ids that leave the window, so they are cleared (``high``'s own slot is then set)."""
    skipped = high - window.high - 1
    if skipped >= size:
        window.bits[:] = bytes(size >> 3)
    elif skipped:
        start = (window.high + 1) & (size - 1)
        end = start + skipped
        _clear_slots(window.bits, start, min(end, size))
        if end > size:
            _clear_slots(window.bits, 0, end - size)
    window.high = high


def _clear_slots(bits: bytearray, lo: int, hi: int) -> None:
    """Clear slots ``lo .. hi - 1``: bit by bit up to byte boundaries, whole bytes between."""
    while lo < hi and lo & 7:
        bits[lo >> 3] &= ~(1 << (lo & 7)) & 0xFF
        lo += 1
    while hi > lo and hi & 7:
        hi -= 1
        bits[hi >> 3] &= ~(1 << (hi & 7)) & 0xFF
    if lo < hi:
        bits[lo >> 3 : hi >> 3] = bytes((hi - lo) >> 3)


def get_window_digest(window: TradeIdWindow) -> bytes:
    """sha256 of the window's bitmap, recomputed only after it changed."""
    if window.digest is None:
        window.digest = hashlib.sha256(window.bits).digest()
    return window.digest


def check_deposit_nonce(
    credits: dict[VaultKey, DepositNonces], chain_id: int, vault: bytes, nonce: int
) -> None:
    """Raise ``DuplicateCredit`` if this vault's deposit ``nonce`` was credited."""
    if is_deposit_credited(credits, chain_id, vault, nonce):
        raise DuplicateCredit(chain_id, vault, nonce)


def is_deposit_credited(
    credits: dict[VaultKey, DepositNonces], chain_id: int, vault: bytes, nonce: int
) -> bool:
    found = credits.get((chain_id, vault))
    return found is not None and (nonce <= found.through or nonce in found.above)


def record_deposit_nonce(
    credits: dict[VaultKey, DepositNonces], chain_id: int, vault: bytes, nonce: int
) -> None:
    """Mark a checked nonce credited; the prefix absorbs every nonce it now reaches."""
    found = credits.setdefault((chain_id, vault), DepositNonces())
    if nonce != found.through + 1:
        found.above.add(nonce)
        return
    found.through = nonce
    while found.through + 1 in found.above:
        found.through += 1
        found.above.remove(found.through)


def get_replay_fields(
    windows: dict[str, TradeIdWindow], credits: dict[VaultKey, DepositNonces]
) -> list[object]:
    """The replay state as the state root commits to it: each window by its top and
    its bitmap's hash (bitmaps are re-hashed only after they changed), each vault's
    nonces whole (its sparse part is small by construction)."""
    return [
        [[v, w.high, get_window_digest(w)] for v, w in sorted(windows.items())],
        get_credit_fields(credits),
    ]


def get_credit_fields(credits: dict[VaultKey, DepositNonces]) -> list[object]:
    return [[c, v, n.through, sorted(n.above)] for (c, v), n in sorted(credits.items())]
