"""Expiry of dated futures and options on futures.

An instrument expires at the end of the first block whose time is at or past
its ``expiry_ms``. Its final settlement price is fixed once and recorded:

- future: its mark price at expiry;
- European option on a future: the intrinsic value against the underlying
  future's mark at expiry, ``max(0, F - K)`` for a call, ``max(0, K - F)`` for
  a put (options are margined futures-style: premium flows as variation margin,
  so expiry is one last settlement to the intrinsic value).

Every position is settled from its settlement price to the final price into
cash (exact: ``PRICE_SCALE == 1``), then removed; open interest becomes zero
and the instrument accepts no more trades. A physically settled option that
finishes in the money is then exercised into its underlying future, long calls
and short puts becoming long the future, at the future's mark (the intrinsic
value was already paid in cash, so exercising at the mark is exercising at the
strike). If the underlying expires in the same block the option settles in cash.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.instruments import Instrument, InstrumentKind, OptionType, SettlementStyle
from clearing.position import apply_fill, compute_entry_cash, compute_long_change
from clearing.settlement import compute_variation_margin
from clearing.state import ClearingState, get_sub_account_for_write


def compute_intrinsic_value(option_type: OptionType, strike: int, underlying_price: int) -> int:
    if option_type is OptionType.CALL:
        return max(0, underlying_price - strike)
    return max(0, strike - underlying_price)


def compute_final_settlement_price(state: ClearingState, instrument: Instrument) -> int:
    if instrument.kind is InstrumentKind.OPTION:
        assert instrument.option_type is not None and instrument.strike is not None
        underlying = state.mark_prices[instrument.underlying]
        return compute_intrinsic_value(instrument.option_type, instrument.strike, underlying)
    return state.mark_prices[instrument.id]


def get_expiring_instruments(state: ClearingState, ctx: BlockContext) -> list[Instrument]:
    return [
        i
        for i in state.instruments.values()
        if i.is_expired_at(ctx.time_ms) and i.id not in state.final_settlement_prices
    ]


def process_expiries(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """Settle and close every instrument that expires in this block."""
    expiring = get_expiring_instruments(state, ctx)
    if not expiring:
        return []
    finals = {i.id: compute_final_settlement_price(state, i) for i in expiring}
    return settle_instruments(state, finals)


def settle_instruments(state: ClearingState, finals: dict[str, int]) -> list[Event]:
    """Pay every position in ``finals``' instruments its variation margin to the final
    price and close it (physically settled options exercise into their future); the
    instruments trade no more. Expiry, and governance's final settlement of a perpetual
    (clearing/governance/settlement.py)."""
    exercises: list[tuple[bytes, int, str, int]] = []  # member, sub, future id, lots
    paid = dict.fromkeys(finals, 0)
    for address, member in state.members.items():
        for sub_id, account in member.sub_accounts.items():
            for instrument_id in [i for i in account.positions if i in finals]:
                position = account.positions.pop(instrument_id)
                amount = compute_variation_margin(
                    position.quantity, position.settlement_price, finals[instrument_id]
                )
                account.cash += amount
                paid[instrument_id] += max(0, -amount)
                state.dirty.add(address)
                lots = compute_exercise_lots(state, finals, instrument_id, position.quantity)
                if lots:
                    future_id = state.instruments[instrument_id].underlying
                    exercises.append((address, sub_id, future_id, lots))
    for instrument_id, final in finals.items():
        state.final_settlement_prices[instrument_id] = final
        state.open_interest[instrument_id] = 0
    events = [
        make_event("expiry", instrument=i, final_price=finals[i], paid=paid[i])
        for i in sorted(finals)
    ]
    for address, sub_id, future_id, lots in exercises:
        events.append(process_exercise(state, address, sub_id, future_id, lots))
    return events


def compute_exercise_lots(
    state: ClearingState, finals: dict[str, int], instrument_id: str, quantity: int
) -> int:
    """Future lots a physically settled, in-the-money option position turns into."""
    instrument = state.instruments[instrument_id]
    if (
        instrument.kind is not InstrumentKind.OPTION
        or instrument.settlement is not SettlementStyle.PHYSICAL
        or finals[instrument_id] == 0
        or instrument.underlying in finals
    ):
        return 0
    return quantity if instrument.option_type is OptionType.CALL else -quantity


def process_exercise(
    state: ClearingState, member: bytes, sub_account: int, future_id: str, lots: int
) -> Event:
    """Net ``lots`` of the future into the sub-account at the future's mark."""
    mark = state.mark_prices[future_id]
    account = get_sub_account_for_write(state, member, sub_account)
    before = account.positions.get(future_id)
    lots_before = 0 if before is None else before.quantity
    account.cash += compute_entry_cash(before, lots, mark, mark)
    state.open_interest[future_id] += compute_long_change(lots_before, lots_before + lots)
    apply_fill(account.positions, future_id, lots, mark, mark, 0)
    return make_event(
        "exercise", member=member, sub_account=sub_account, instrument=future_id,
        quantity=lots, price=mark,
    )  # fmt: skip
