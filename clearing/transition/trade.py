"""Trade batches: venue-signed matched trades, novated and netted into positions.

A venue submits a ``TradeBatch`` signed with its Ed25519 key over
``compute_signing_bytes("trade-batch", chain_id, body)`` (domain-separated and
bound to the chain, see attestation.py); the body carries when the venue signed it and
its expiry, the last block time it may clear at. ``process_trade_batch``:

1. batch level (reject the whole batch): its times hold at the block's
   (``ExpiryTooFar``, ``ExpiryBeforeIssue``, ``RequestExpired``, ``IssuedInFuture``:
   replay_protection.py ``check_request_times``), the venue is registered
   (``UnknownVenue``) and the signature verifies (``BadSignature``). Nothing changes,
   except that a batch its venue signed, refused only as issued ahead of the block's time,
   spends its trades' ids (``spend_refused_trade_ids``): a block's refusal is final, as a
   member request's (member_authorisation.py);
2. trade level (``process_verified_trade_batch``): each trade is checked
   completely, then applied, or rejected alone with a ``trade_rejected`` event
   carrying its error code and numbers; a rejected trade's id is spent all the
   same (unless it was rejected for its id), so its signed bytes never clear
   later, when the members could pay for it. Checks, in order: trade id inside the
   venue's replay window (``StaleTradeId``) and not cleared yet
   (``DuplicateTrade``; replay_protection.py), instrument listed and not expired,
   quantity > 0, price > 0 on the tick and within the band around the mark,
   both members known and authorising the venue, not one sub-account trading
   with itself, each resulting position's notional within
   ``MAX_POSITION_NOTIONAL``, then the pre-trade margin rule for both sides.

Novation: a trade of ``q`` lots at ``p`` becomes ``+q`` for the buyer's and
``-q`` for the seller's sub-account, each against the clearing house, netted
into the existing position (position.py). Each side pays a fee of
``ceil(p * q * fee_bps / 10_000)`` (rounded against the member), split between
the insurance fund and the fee pool as genesis says (``pay_clearing_fees``).
Open interest counts long lots. A position that goes flat keeps its record
(quantity 0) and its realised PnL until the instrument expires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any, ClassVar, NamedTuple

from clearing.attestation import compute_signing_bytes, is_valid_signature
from clearing.clients import check_cleared
from clearing.collateral import SubAccountId
from clearing.context import BlockContext
from clearing.default.bid_hold import check_bids_held_after_trade, get_bidders
from clearing.default.default_fund import check_reduce_only, is_growing, is_guarantor_reduce_only
from clearing.default.margin_call import check_margin_call
from clearing.errors import (
    BadSignature,
    DuplicateTrade,
    InstrumentExpired,
    InstrumentHalted,
    InstrumentReduceOnly,
    InstrumentSettled,
    InvalidAmount,
    InvalidTransaction,
    OffTick,
    OutsideBand,
    SameSubAccount,
    StaleTradeId,
    UnknownInstrument,
    UnknownMember,
    UnknownVenue,
    VenueNotAuthorised,
)
from clearing.events import Event, make_event
from clearing.instruments import Instrument, InstrumentStatus
from clearing.limits import MAX_TRADES_PER_BATCH
from clearing.position import apply_fill, compute_entry_cash, compute_long_change
from clearing.replay_protection import (
    check_request_live,
    check_request_times,
    check_trade_id,
    record_trade_id,
)
from clearing.risk.cache import RiskCache, TradeFigures, keep_trade_figures
from clearing.risk.engine import RISK_CACHE, check_pre_trade, get_trade_risk_cache
from clearing.state import (
    ClearingState,
    Member,
    SubAccount,
    get_sub_account_for_write,
)
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from clearing.units import BPS_DENOMINATOR, MAX_UINT64, apply_bps_ceil, apply_bps_floor
from records.declared import Address, Declared, EdSignature, Items, Name, Uint, declare_record

TRADE_DOMAIN = "trade-batch"
MAX_POSITION_NOTIONAL = 2**62
"""|lots| * mark of one position, in settlement units: keeps cash, PnL and fees
far inside the signed 64-bit range that the state encoding carries."""


@declare_record
@dataclass(frozen=True, slots=True)
class Trade(Declared):
    """One matched trade: ``quantity`` lots (> 0) bought by ``buyer`` at ``price``."""

    trade_id: Uint
    instrument_id: Name
    buyer: Address
    buyer_sub_account: SubAccountId
    seller: Address
    seller_sub_account: SubAccountId
    price: Uint
    quantity: Uint


@declare_record
@dataclass(frozen=True, slots=True)
class TradeBatch(Declared):
    KIND: ClassVar[int] = 1
    venue_id: Name
    batch_id: Uint
    issued_at_ms: Uint  # when the venue signed it (its clock)
    expires_ms: Uint  # the last block time the batch may clear at
    trades: Annotated[tuple[Trade, ...], Items(1, MAX_TRADES_PER_BATCH)]
    signature: EdSignature  # over signing_bytes(chain_id)

    def signing_bytes(self, chain_id: int) -> bytes:
        """The venue signs every field but its signature."""
        return compute_signing_bytes(TRADE_DOMAIN, chain_id, self.to_fields()[:-1])


def sign_trade_batch(
    key: Any,
    chain_id: int,
    venue_id: str,
    batch_id: int,
    trades: tuple[Trade, ...],
    issued_at_ms: int,
    expires_ms: int,
) -> TradeBatch:
    """Sign as a venue with an Ed25519 private key (venues, tests and benches) at
    ``issued_at_ms``, valid up to the block time ``expires_ms``."""
    unsigned = TradeBatch(venue_id, batch_id, issued_at_ms, expires_ms, trades, b"")
    return replace(unsigned, signature=key.sign(unsigned.signing_bytes(chain_id)))


class BatchClearing(NamedTuple):
    """What clearing one batch's trades reads that none of its trades changes, looked up
    once per batch: trades move positions, cash, fees, open interest and trade ids, never
    the configuration, marks, prices, time, default funds, margin calls or auctions."""

    state: ClearingState
    ctx: BlockContext
    venue_id: str
    trade_id_window: int
    risk_cache: RiskCache | None  # None: risk is off
    bidders: frozenset[tuple[bytes, int]]  # sub-accounts with open auction bids


def start_batch_clearing(state: ClearingState, ctx: BlockContext, venue_id: str) -> BatchClearing:
    return BatchClearing(
        state, ctx, venue_id, state.genesis.trade_id_window, get_trade_risk_cache(state),
        get_bidders(state),
    )  # fmt: skip


def check_pre_trade_margin(
    clearing: BatchClearing,
    member: Member,
    sub_account: int,
    account: SubAccount | None,
    instrument_id: str,
    lots: int,
    quantity: int,
    cash_delta: int,
) -> TradeFigures | None:
    """Reject a trade that leaves the sub-account below initial margin while raising
    its risk, and any trade that grows a position of a member short of its required
    default-fund contribution, of a sub-account under a margin call or in an instrument
    governance made reduce-only, or that raises
    the requirement of the sub-account's open auction bids above its equity (typed
    errors carrying the numbers).

    ``account`` is the sub-account before the trade (None if new, still unchanged
    in ``state``), holding ``lots`` of ``instrument_id``; the trade would leave
    ``quantity`` lots there and add ``cash_delta`` (entry settlement minus fee). Margin:
    ``clearing/risk/engine.py``; returns its figures for ``write_side`` to keep.
    """
    state = clearing.state
    # The trade changes one instrument only, so that one decides.
    if is_guarantor_reduce_only(state, member):
        check_reduce_only(member.address, {instrument_id: lots}, {instrument_id: quantity})
    is_instrument_reduce_only = (
        state.instrument_status.get(instrument_id) is InstrumentStatus.REDUCE_ONLY
    )
    if is_instrument_reduce_only and is_growing(lots, quantity):
        raise InstrumentReduceOnly(instrument_id, member.address, lots, quantity)
    if account is not None and account.margin_call is not None:
        check_margin_call(
            member.address, sub_account, account.margin_call, instrument_id, lots, quantity
        )
    cash_after = cash_delta if account is None else account.cash + cash_delta
    figures = check_pre_trade(
        state, clearing.risk_cache, member.address, sub_account, account, instrument_id, lots,
        quantity, cash_after,
    )  # fmt: skip
    if clearing.bidders and (member.address, sub_account) in clearing.bidders:
        check_bids_held_after_trade(
            state, member.address, sub_account, account, instrument_id, quantity, cash_after
        )
    return figures


def process_trade_batch(state: ClearingState, ctx: BlockContext, batch: TradeBatch) -> list[Event]:
    """Check the batch's expiry, its venue and signature, then clear it trade by trade."""
    check_trade_batch(state, ctx, batch)
    return process_verified_trade_batch(state, ctx, batch)


def check_trade_batch(state: ClearingState, ctx: BlockContext, batch: TradeBatch) -> None:
    """The batch's times hold at the block's time and its venue signed it for this chain:
    the batch-level checks of clearing and of mempool admission."""
    max_lifetime_ms = state.genesis.max_request_lifetime_ms
    check_request_times(max_lifetime_ms, "TradeBatch", batch, ctx.time_ms)
    check_batch_signed(state, ctx.chain_id, batch)


def spend_refused_trade_ids(state: ClearingState, ctx: BlockContext, batch: TradeBatch) -> None:
    """After a block refused ``batch`` whole: spend its trades' ids unless no later block
    could clear it anyway (``check_request_live``, not its venue's signature), so that the
    refusal is final; ids already spent or below the window stay as they are."""
    window = state.genesis.trade_id_window
    try:
        check_request_live(state.genesis.max_request_lifetime_ms, "TradeBatch", batch, ctx.time_ms)
        check_batch_signed(state, ctx.chain_id, batch)
    except InvalidTransaction:
        return
    for trade in batch.trades:
        try:
            check_trade_id(state.trade_windows, window, batch.venue_id, trade.trade_id)
        except (StaleTradeId, DuplicateTrade):
            continue
        record_trade_id(state.trade_windows, window, batch.venue_id, trade.trade_id)


def check_batch_signed(state: ClearingState, chain_id: int, batch: TradeBatch) -> None:
    """The venue is registered and signed the batch for this chain."""
    venue = state.venues.get(batch.venue_id)
    if venue is None:
        raise UnknownVenue(batch.venue_id)
    if not is_valid_signature(venue.pubkey, batch.signature, batch.signing_bytes(chain_id)):
        raise BadSignature("trade batch", venue.pubkey)


def process_verified_trade_batch(
    state: ClearingState, ctx: BlockContext, batch: TradeBatch
) -> list[Event]:
    """Clear each trade of a batch whose venue signature has been verified.

    Each trade is all-or-nothing; a rejected one leaves a ``trade_rejected``
    event (trade id, error code, error with its numbers) and changes nothing but
    spending its trade id.
    """
    events: list[Event] = []
    cleared = 0
    clearing = start_batch_clearing(state, ctx, batch.venue_id)
    for trade in batch.trades:
        try:
            process_trade(clearing, trade)
        except InvalidTransaction as error:
            if not isinstance(error, StaleTradeId | DuplicateTrade):
                window = clearing.trade_id_window
                record_trade_id(state.trade_windows, window, batch.venue_id, trade.trade_id)
            events.append(
                make_event(
                    "trade_rejected",
                    venue=batch.venue_id,
                    trade_id=trade.trade_id,
                    code=error.code,
                    detail=str(error),
                )
            )
        else:
            cleared += 1
    events.append(
        make_event(
            "trade_batch",
            venue=batch.venue_id,
            batch_id=batch.batch_id,
            cleared=cleared,
            rejected=len(batch.trades) - cleared,
        )
    )
    return events


def process_trade(clearing: BatchClearing, trade: Trade) -> None:
    """Novate one trade into two positions, or raise and change nothing."""
    state, venue_id, window = clearing.state, clearing.venue_id, clearing.trade_id_window
    check_trade_id(state.trade_windows, window, venue_id, trade.trade_id)
    instrument = get_tradable_instrument(state, clearing.ctx, trade.instrument_id)
    mark = check_trade_price(state, instrument, trade)
    buyer = get_authorising_member(state, venue_id, trade.buyer)
    seller = get_authorising_member(state, venue_id, trade.seller)
    check_cleared(state, trade.buyer)
    check_cleared(state, trade.seller)
    if trade.buyer == trade.seller and trade.buyer_sub_account == trade.seller_sub_account:
        raise SameSubAccount(trade.buyer, trade.buyer_sub_account)
    fee = apply_bps_ceil(trade.price * trade.quantity, instrument.fee_bps)
    buy = compute_side_fill(
        clearing, buyer, trade.buyer_sub_account, instrument.id, trade.quantity, trade.price,
        mark, fee,
    )  # fmt: skip
    sell = compute_side_fill(
        clearing, seller, trade.seller_sub_account, instrument.id, -trade.quantity,
        trade.price, mark, fee,
    )  # fmt: skip
    # Every check passed: write.
    record_trade_id(state.trade_windows, window, venue_id, trade.trade_id)
    pay_clearing_fees(state, 2 * fee)
    state.open_interest[instrument.id] += buy.long_change + sell.long_change
    write_side(state, trade.buyer, trade.buyer_sub_account, instrument.id, trade.price, mark, buy)
    write_side(
        state, trade.seller, trade.seller_sub_account, instrument.id, trade.price, mark, sell
    )


def pay_clearing_fees(state: ClearingState, fees: int) -> None:
    """The genesis share (``fees.insurance_fund_bps``, rounded down) backs the insurance
    fund; the rest is the fee pool."""
    to_insurance = apply_bps_floor(fees, state.genesis.fee_to_insurance_bps)
    state.insurance_fund += to_insurance
    state.fee_pool += fees - to_insurance


def get_tradable_instrument(
    state: ClearingState, ctx: BlockContext, instrument_id: str
) -> Instrument:
    instrument = state.instruments.get(instrument_id)
    if instrument is None:
        raise UnknownInstrument(instrument_id)
    if instrument.expiry_ms is not None and (
        ctx.time_ms >= instrument.expiry_ms or instrument_id in state.final_settlement_prices
    ):
        raise InstrumentExpired(instrument_id, instrument.expiry_ms, ctx.time_ms)
    if instrument_id in state.final_settlement_prices:
        raise InstrumentSettled(instrument_id, state.final_settlement_prices[instrument_id])
    if state.instrument_status.get(instrument_id) is InstrumentStatus.HALTED:
        raise InstrumentHalted(instrument_id)
    return instrument


def check_trade_price(state: ClearingState, instrument: Instrument, trade: Trade) -> int:
    """Quantity > 0, price > 0 on the tick and within the band; returns the mark."""
    if trade.quantity <= 0:
        raise InvalidAmount("quantity", trade.quantity, 1, MAX_UINT64)
    if trade.price <= 0:
        raise InvalidAmount("price", trade.price, instrument.tick_size, MAX_UINT64)
    if trade.price % instrument.tick_size:
        raise OffTick(instrument.id, trade.price, instrument.tick_size)
    mark = state.mark_prices[instrument.id]  # genesis prices every instrument
    if not is_within_band(trade.price, mark, instrument.price_band_bps):
        raise OutsideBand(instrument.id, trade.price, mark, instrument.price_band_bps)
    return mark


def is_within_band(price: int, mark: int, band_bps: int) -> bool:
    """``|price - mark| <= mark * band_bps / 10_000``, by cross-multiplication."""
    return abs(price - mark) * BPS_DENOMINATOR <= mark * band_bps


def get_authorising_member(state: ClearingState, venue_id: str, address: bytes) -> Member:
    member = state.members.get(address)
    if member is None:
        raise UnknownMember(address)
    if venue_id not in member.venues:
        raise VenueNotAuthorised(venue_id, address)
    return member


class SideFill(NamedTuple):
    account: SubAccount | None  # the sub-account before the fill (None: new)
    fill_quantity: int  # signed lots: + bought, - sold
    cash_delta: int  # entry variation margin minus fee
    long_change: int  # change in the long lots this side adds to open interest
    margin: TradeFigures | None  # the side's margin figures after the trade (None: risk off)


def compute_side_fill(
    clearing: BatchClearing,
    member: Member,
    sub_account: int,
    instrument_id: str,
    fill_quantity: int,
    price: int,
    mark: int,
    fee: int,
) -> SideFill:
    """One side of a novated trade, computed without writing; checks its size and margin."""
    account = member.sub_accounts.get(sub_account)
    before = None if account is None else account.positions.get(instrument_id)
    lots = 0 if before is None else before.quantity
    quantity = lots + fill_quantity
    notional = abs(quantity) * mark
    if notional > MAX_POSITION_NOTIONAL:
        raise InvalidAmount("position_notional", notional, 0, MAX_POSITION_NOTIONAL)
    cash_delta = compute_entry_cash(before, fill_quantity, price, mark) - fee
    margin = check_pre_trade_margin(
        clearing, member, sub_account, account, instrument_id, lots, quantity, cash_delta
    )
    long_change = compute_long_change(lots, quantity)
    return SideFill(account, fill_quantity, cash_delta, long_change, margin)


def write_side(
    state: ClearingState,
    member: bytes,
    sub_account: int,
    instrument_id: str,
    price: int,
    mark: int,
    side: SideFill,
) -> None:
    account = side.account
    if account is None:
        account = get_sub_account_for_write(state, member, sub_account)
    else:
        state.dirty.add(member)  # for the state root
    account.cash += side.cash_delta
    funding_index = state.funding_indices.get(instrument_id, 0)
    apply_fill(account.positions, instrument_id, side.fill_quantity, price, mark, funding_index)
    if side.margin is not None:
        keep_trade_figures(state.derived.get(RISK_CACHE), side.margin)


def admit_trade_batch(
    state: ClearingState, ctx: BlockContext, batch: TradeBatch, _raw: bytes
) -> Sender:
    """Live and signed by its venue; refused whole if a trade id is spent (the block would
    reject that trade, so the batch is not what the venue meant). A venue's batches are
    ordered by their ids."""
    check_trade_batch(state, ctx, batch)
    for trade in batch.trades:
        check_trade_id(
            state.trade_windows, state.genesis.trade_id_window, batch.venue_id, trade.trade_id
        )
    return Sender(b"venue:" + batch.venue_id.encode(), batch.batch_id)


TRADE_BATCH = TxKind(
    TradeBatch, admit_trade_batch, process_trade_batch, Priority.TRADES, Submitter.VENUE,
    spend_refused_trade_ids,
)  # fmt: skip
