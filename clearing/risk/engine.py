"""The risk engine over the ledger state: parameters, risk arrays, margin checks.

Risk arrays are a pure function of (genesis, mark prices, block time; time
only when an option is listed); they are rebuilt when those change and kept on
the state (``RISK_DERIVED``, a ``RiskDerived``, never in the root: clearing/derived.py)
against those inputs, so every node computes identical arrays whatever it keeps.
Sub-accounts' losses and IM are kept under ``RISK_CACHE`` against the
same inputs (``clearing/risk/cache.py``), so the pre-trade check costs one
``O(scenarios)`` update, and equals the from-scratch figures. An empty genesis
``risk`` section means margining is off (requirement 0, no liquidation): the
ledger runs as before until a genesis configures risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from clearing.assets import CollateralKey, compute_haircut_value_per_quantum, get_feed_asset
from clearing.derived import DerivedKey
from clearing.genesis import Genesis
from clearing.instruments import Instrument, InstrumentKind
from clearing.oracle import PriceList
from clearing.risk.arrays import RiskArrays, compute_risk_arrays, get_pricing_time_ms
from clearing.risk.cache import (
    RiskCache,
    TradeFigures,
    compute_trade_figures,
    get_account_figures,
    get_lots,
)
from clearing.risk.errors import MarketMismatch
from clearing.risk.margin import (
    check_trade_margin,
    compute_initial_margin,
    compute_scenario_losses,
    compute_worst_losses,
)
from clearing.risk.params import INSURANCE_MEMBER as INSURANCE_MEMBER
from clearing.risk.params import RiskParams, parse_risk_params
from clearing.risk.queries import AccountRisk, Revaluation, get_account_risk
from clearing.risk.scenarios import (
    ScenarioSet,
    compute_scenario_set,
    compute_stress_scenario_set,
)
from clearing.risk.solvency import (
    SolvencyForm,
    SolvencyMarket,
    get_solvency_form,
)
from clearing.state import (
    ClearingState,
    SubAccount,
    compute_value_per_quantum,
    get_collateral_value,
    get_value_per_quantum,
    is_settlement_token,
)
from clearing.units import mul_div_floor


@dataclass(frozen=True, slots=True)
class RiskSetup:
    params: RiskParams
    scenarios: ScenarioSet
    stress: ScenarioSet
    is_time_dependent: bool  # an option is listed: its arrays move with the pricing time


ArrayInputs = tuple[int, int | None, tuple[tuple[str, int], ...]]
"""What risk arrays are computed from besides the genesis: epoch, the time options are
priced at (None without options), mark prices."""


@dataclass
class RiskDerived:
    """What the risk engine derives from a state's configuration and keeps with the state
    (``RISK_DERIVED``): each part is rebuilt when what it was built from changes,
    so what is kept never changes a result, only how soon it comes."""

    genesis: Genesis
    setup: RiskSetup | None
    arrays: dict[bool, tuple[ArrayInputs, RiskArrays]] = field(default_factory=dict)
    """Margin (False) and stress (True) arrays, with the inputs they were computed at."""
    scanned: tuple[RiskCache, dict[tuple[bytes, int], tuple[dict[str, int], int]]] | None = None
    """The end-of-block scans' IM (with the lots it is for) against one risk cache
    (`get_scanned_initial_margin`)."""
    worst_losses: tuple[RiskArrays, dict[str, int]] | None = None


RISK_DERIVED: DerivedKey[RiskDerived] = DerivedKey("risk")
RISK_CACHE: DerivedKey[RiskCache] = DerivedKey("risk figures")
"""The kept margin figures (clearing/risk/cache.py), written by ``get_risk_cache`` alone."""


def compute_risk_setup(genesis: Genesis) -> RiskSetup | None:
    """Validated parameters and scenario sets of a genesis; None when risk is off.

    Raises ``GenesisError`` naming the key for a bad section (call it at startup).
    """
    if not genesis.risk:
        return None
    params = parse_risk_params(genesis.risk)
    return RiskSetup(
        params,
        compute_scenario_set(params),
        compute_stress_scenario_set(params),
        any(i.kind is InstrumentKind.OPTION for i in genesis.instruments),
    )


def get_risk_derived(state: ClearingState) -> RiskDerived:
    """The state's derived risk data, started afresh when governance changed the
    configuration in force."""
    derived = state.derived.get(RISK_DERIVED)
    if derived is None or derived.genesis is not state.genesis:
        setup = compute_risk_setup(state.genesis)
        derived = state.derived.keep(RISK_DERIVED, RiskDerived(state.genesis, setup))
    return derived


def get_risk_setup(state: ClearingState) -> RiskSetup | None:
    """The risk setup of the configuration in force; None when risk is off."""
    return get_risk_derived(state).setup


def get_risk_arrays(state: ClearingState, setup: RiskSetup, stress: bool = False) -> RiskArrays:
    """Margin (or stress) arrays at the current marks and block time."""
    epoch = get_epoch(state)
    time_ms = get_array_time_ms(state, setup)
    inputs = (epoch, time_ms, tuple(sorted(state.mark_prices.items())))
    derived = get_risk_derived(state)
    kept = derived.arrays.get(stress)
    if kept is not None and kept[0] == inputs:
        return kept[1]
    marks = state.mark_prices
    priced = get_priced_instruments(state.instruments.values(), marks)
    arrays = compute_risk_arrays(
        epoch,
        setup.stress if stress else setup.scenarios,
        priced,
        marks,
        setup.params,
        state.time_ms,
    )
    derived.arrays[stress] = (inputs, arrays)
    return arrays


def get_array_time_ms(state: ClearingState, setup: RiskSetup) -> int | None:
    """The time the arrays price options at now (``get_pricing_time_ms``); None without
    options, whose arrays do not depend on time."""
    return get_pricing_time_ms(setup.params, state.time_ms) if setup.is_time_dependent else None


def get_priced_instruments(
    instruments: Iterable[Instrument], marks: Mapping[str, int]
) -> tuple[Instrument, ...]:
    """The instruments with a mark (an option: and its future's); one without cannot be
    traded, so holds no lots."""
    return tuple(
        i
        for i in instruments
        if i.id in marks and (i.kind is not InstrumentKind.OPTION or i.underlying in marks)
    )


def get_epoch(state: ClearingState) -> int:
    return state.height // state.genesis.epoch_length_blocks


def get_risk_cache(state: ClearingState, setup: RiskSetup) -> RiskCache:
    """The kept risk cache (``RISK_CACHE``) if its arrays are the current ones, else a
    fresh one, kept from then on."""
    cache = state.derived.get(RISK_CACHE)
    epoch = get_epoch(state)
    time_ms = get_array_time_ms(state, setup)
    if cache is None or not cache.is_current(state.genesis, epoch, time_ms, state.mark_prices):
        arrays = get_risk_arrays(state, setup)
        cache = RiskCache(state.genesis, epoch, time_ms, dict(state.mark_prices), arrays)
        state.derived.keep(RISK_CACHE, cache)
    return cache


def get_quantities(account: SubAccount) -> dict[str, int]:
    return get_lots(account.positions)


def get_account_initial_margin(state: ClearingState, account: SubAccount | None) -> int:
    """IM of a sub-account computed from scratch (0 when risk is off or no account)."""
    setup = get_risk_setup(state)
    if setup is None or account is None or not account.positions:
        return 0
    arrays = get_risk_arrays(state, setup)
    return compute_initial_margin(compute_scenario_losses(get_quantities(account), arrays))


def get_kept_initial_margin(
    state: ClearingState,
    member: bytes,
    sub_account: int,
    account: SubAccount | None,
    keep: bool = True,
) -> int:
    """IM of ``account`` (``member``'s ``sub_account``) through the kept figures (a
    missing entry is kept unless ``keep`` is false); the same number as
    ``get_account_initial_margin``."""
    setup = get_risk_setup(state)
    if setup is None or account is None or not account.positions:
        return 0
    cache = get_risk_cache(state, setup)
    return get_account_figures(cache, (member, sub_account), account.positions, keep).initial_margin


def get_scanned_initial_margin(
    state: ClearingState, member: bytes, sub_account: int, account: SubAccount
) -> int:
    """IM for the end-of-block scans (margin calls, then liquidation), through the kept
    figures; an entry computed here is not kept in the risk cache (a whole-book scan
    need not hold every account's vector from block to block) but remembered for the
    next scan, against the same arrays and quantities, until ``release_scanned_figures``:
    the two scans of a block compute each vector once."""
    derived = get_risk_derived(state)
    setup = derived.setup
    if setup is None or not account.positions:
        return 0
    cache = get_risk_cache(state, setup)
    scanned = derived.scanned
    if scanned is None or scanned[0] is not cache:
        scanned = derived.scanned = (cache, {})
    key = (member, sub_account)
    quantities = get_quantities(account)
    remembered = scanned[1].get(key)
    if remembered is None or remembered[0] != quantities:
        figures = get_account_figures(cache, key, account.positions, keep=False)
        remembered = scanned[1][key] = (quantities, figures.initial_margin)
    return remembered[1]


def release_scanned_figures(state: ClearingState) -> None:
    get_risk_derived(state).scanned = None


def get_worst_losses(state: ClearingState, setup: RiskSetup) -> dict[str, int]:
    """``compute_worst_losses`` of the current margin arrays (kept while they are current)."""
    derived = get_risk_derived(state)
    arrays = get_risk_arrays(state, setup)
    if derived.worst_losses is None or derived.worst_losses[0] is not arrays:
        derived.worst_losses = (arrays, compute_worst_losses(arrays))
    return derived.worst_losses[1]


def get_initial_margin_requirement(state: ClearingState, member: bytes, sub_account: int) -> int:
    """What a withdrawal or transfer out must leave covered."""
    record = state.members.get(member)
    account = None if record is None else record.sub_accounts.get(sub_account)
    return get_kept_initial_margin(state, member, sub_account, account)


def get_trade_risk_cache(state: ClearingState) -> RiskCache | None:
    """The risk cache a batch of trades is checked against (None when risk is off): no
    trade moves what its arrays are computed from (configuration, epoch, block time,
    marks), so one read serves the whole batch."""
    setup = get_risk_setup(state)
    return None if setup is None else get_risk_cache(state, setup)


def check_pre_trade(
    state: ClearingState,
    cache: RiskCache | None,
    member: bytes,
    sub_account: int,
    account: SubAccount | None,
    instrument_id: str,
    quantity_before: int,
    quantity_after: int,
    cash_after: int,
) -> TradeFigures | None:
    """Reject (``InsufficientMargin``) a trade that raises IM above equity.

    ``cache`` is ``get_trade_risk_cache`` (None: risk off, nothing to check);
    ``account`` is the sub-account before the trade (None if new); the trade
    takes its ``quantity_before`` lots of ``instrument_id`` to ``quantity_after``
    and leaves ``cash_after`` cash. Returns the figures the trade leaves, to keep with
    ``keep_trade_figures`` once the trade is written (None when risk is off).
    """
    if cache is None:
        return None
    delta = quantity_after - quantity_before
    if account is None:
        after = compute_trade_figures(cache, None, instrument_id, delta)
        im_before = 0
    else:
        before = get_account_figures(cache, (member, sub_account), account.positions)
        after = compute_trade_figures(cache, before, instrument_id, delta)
        im_before = before.initial_margin
    if after.initial_margin > im_before:  # only a risk-raising trade needs equity
        collateral = 0 if account is None else get_collateral_value(state, account)
        check_trade_margin(
            member, sub_account, cash_after + collateral, im_before, after.initial_margin
        )
    return after


def get_solvency_market(state: ClearingState) -> SolvencyMarket:
    """What the solvency rows read of the state now (a report carries it; the state root
    commits to it as a leaf of its own, ``clearing.transition.root.MarketProof``)."""
    setup = get_risk_setup(state)
    time_ms = None if setup is None else get_array_time_ms(state, setup)
    return SolvencyMarket(
        0 if time_ms is None else time_ms,
        tuple(sorted(state.mark_prices.items())),
        tuple(sorted(state.index_prices.items())),
    )


def get_state_solvency_form(state: ClearingState) -> SolvencyForm | None:
    """The public rows at the current state (collateral in genesis order); None if risk is off."""
    return compute_market_solvency_form(state.genesis, get_solvency_market(state))


def compute_market_solvency_form(genesis: Genesis, market: SolvencyMarket) -> SolvencyForm | None:
    """The public rows of ``genesis`` at ``market``: the one function the node builds a
    report's statement with and a verifier recomputes it with. None if risk is off;
    ``MarketMismatch`` unless the market prices exactly the genesis's instruments and
    feeds (the state always does: the genesis prices each, a listing prices what it lists,
    and a pruned instrument leaves with its mark, its feed staying in use)."""
    _check_market_ids("mark_prices", market.mark_prices, {i.id for i in genesis.instruments})
    _check_market_ids("index_prices", market.index_prices, genesis.feeds())
    setup = compute_risk_setup(genesis)
    if setup is None:
        return None
    marks = dict(market.mark_prices)
    arrays = compute_risk_arrays(
        0,  # the arrays' epoch labels a kept cache's; the rows do not depend on it
        setup.scenarios,
        get_priced_instruments(genesis.instruments, marks),
        marks,
        setup.params,
        market.pricing_time_ms,
    )
    index_prices = dict(market.index_prices)
    weights = {
        t.key: compute_value_per_quantum(genesis, t, index_prices) for t in genesis.collateral
    }
    keys = [t.key for t in genesis.collateral]
    params = setup.params
    return get_solvency_form(arrays, keys, weights, params.k_num, params.k_den)


def _check_market_ids(kind: str, prices: PriceList, expected: Iterable[str]) -> None:
    ids, wanted = {k for k, _ in prices}, set(expected)
    if ids != wanted:
        raise MarketMismatch(kind, tuple(sorted(wanted - ids)), tuple(sorted(ids - wanted)))


def get_haircut_weights(state: ClearingState) -> dict[CollateralKey, int]:
    """Value per quantum of every collateral token at the current index prices."""
    return {key: get_value_per_quantum(state, key) for key in state.collateral_tokens}


def get_member_risk(
    state: ClearingState, member: bytes, sub_account: int, with_prices: bool = True
) -> AccountRisk | None:
    """Equity, IM, MM, free collateral and (``with_prices``) liquidation prices of one
    sub-account."""
    setup = get_risk_setup(state)
    record = state.members.get(member)
    account = None if record is None else record.sub_accounts.get(sub_account)
    if setup is None or account is None:
        return None
    arrays = get_risk_arrays(state, setup)
    quantities = get_quantities(account)

    def arrays_at(instrument_id: str, price: int) -> RiskArrays:
        return get_moved_risk_arrays(state, setup, arrays, quantities, instrument_id, price)

    def weights_at(instrument_id: str, price: int) -> dict[CollateralKey, int]:
        return get_moved_haircut_weights(state, instrument_id, price)

    return get_account_risk(
        account.cash, account.collateral, get_haircut_weights(state), quantities,
        state.mark_prices, arrays, setup.params.k_num, setup.params.k_den,
        Revaluation(arrays_at, weights_at) if with_prices else None,
    )  # fmt: skip


def get_moved_haircut_weights(
    state: ClearingState, instrument_id: str, price: int
) -> dict[CollateralKey, int]:
    """Value per quantum of the collateral priced on ``instrument_id``'s underlying (its
    feed's asset, ``get_feed_asset``) with that instrument marked at ``price``: the feed
    moves by ``price / mark``, floored like the haircut (against the member). A
    settlement token stays at par."""
    instrument = state.instruments[instrument_id]
    asset, mark = get_feed_asset(instrument.index_feed), state.mark_prices[instrument_id]
    return {
        key: compute_haircut_value_per_quantum(
            token, mul_div_floor(state.index_prices[token.price_feed], price, mark)
        )
        for key, token in state.collateral_tokens.items()
        if get_feed_asset(token.price_feed) == asset and not is_settlement_token(state, key)
    }


def get_moved_risk_arrays(
    state: ClearingState,
    setup: RiskSetup,
    arrays: RiskArrays,
    held: Mapping[str, int],
    instrument_id: str,
    price: int,
) -> RiskArrays:
    """The rows of ``held`` instruments as ``get_risk_arrays`` builds them with
    ``instrument_id`` marked at ``price``: the rows that mark drives (its own, and
    options on it) are rebuilt by ``compute_risk_arrays``, the others kept."""
    by_id = state.instruments

    def is_driven(iid: str) -> bool:
        option = by_id[iid].kind is InstrumentKind.OPTION
        return iid == instrument_id or (option and by_id[iid].underlying == instrument_id)

    moved = [i for i in sorted(held) if is_driven(i)]
    if not moved:
        return arrays
    needed = set(moved) | {
        by_id[i].underlying for i in moved if by_id[i].kind is InstrumentKind.OPTION
    }
    rebuilt = compute_risk_arrays(
        arrays.epoch, setup.scenarios, [by_id[i] for i in sorted(needed)],
        {**state.mark_prices, instrument_id: price}, setup.params, state.time_ms,
    )  # fmt: skip
    ids = tuple(sorted(held))
    rows = tuple(rebuilt.row(i) if i in rebuilt.index else arrays.row(i) for i in ids)
    return RiskArrays(arrays.epoch, ids, arrays.scenario_labels, rows)
