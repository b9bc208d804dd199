"""The risk engine over the ledger state: parameters, risk arrays, margin checks.

Risk arrays are a pure function of (genesis, mark prices, block time); they
are rebuilt when marks or time change and cached by those inputs, so every
node computes identical arrays whatever its cache holds. An empty genesis
``risk`` section means margining is off (requirement 0, no liquidation): the
ledger runs as before until a genesis configures risk.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.assets import CollateralKey, compute_haircut_value_per_quantum
from clearing.genesis import Genesis
from clearing.instruments import InstrumentKind
from clearing.risk.arrays import RiskArrays, compute_risk_arrays
from clearing.risk.margin import (
    check_trade_margin,
    compute_initial_margin,
    compute_scenario_losses,
)
from clearing.risk.params import RiskParams, parse_risk_params
from clearing.risk.queries import AccountRisk, get_account_risk
from clearing.risk.scenarios import (
    ScenarioSet,
    compute_scenario_set,
    compute_stress_scenario_set,
)
from clearing.risk.solvency import SolvencyForm, get_solvency_form, get_solvency_inputs
from clearing.state import ClearingState, SubAccount, get_collateral_value

INSURANCE_MEMBER = bytes(20)
"""The clearing house's own account (sub-account 0): holds what no backstop takes."""


@dataclass(frozen=True, slots=True)
class RiskSetup:
    params: RiskParams
    scenarios: ScenarioSet
    stress: ScenarioSet


# Caches of pure results (a miss recomputes the same value); a few geneses at most.
CACHE_ENTRIES = 8
_setups: dict[int, tuple[Genesis, RiskSetup | None]] = {}
_arrays: dict[tuple[int, bool], tuple[Genesis, object, RiskArrays]] = {}


def get_risk_setup(genesis: Genesis) -> RiskSetup | None:
    """Validated parameters and scenario sets of a genesis; None when risk is off.

    Raises ``GenesisError`` naming the key for a bad section (call it at startup).
    """
    cached = _setups.get(id(genesis))
    if cached is not None and cached[0] is genesis:
        return cached[1]
    setup = None
    if genesis.risk:
        params = parse_risk_params(genesis.risk)
        setup = RiskSetup(params, compute_scenario_set(params), compute_stress_scenario_set(params))
    if len(_setups) >= CACHE_ENTRIES:
        _setups.clear()
    _setups[id(genesis)] = (genesis, setup)
    return setup


def get_risk_arrays(state: ClearingState, setup: RiskSetup, stress: bool = False) -> RiskArrays:
    """Margin (or stress) arrays at the current marks and block time."""
    epoch = state.height // state.genesis.epoch_length_blocks
    inputs = (epoch, state.time_ms, tuple(sorted(state.mark_prices.items())))
    key = (id(state.genesis), stress)
    cached = _arrays.get(key)
    if cached is not None and cached[0] is state.genesis and cached[1] == inputs:
        return cached[2]
    marks = state.mark_prices
    priced = tuple(  # an instrument without a mark cannot be traded, so holds no lots
        i
        for i in state.instruments.values()
        if i.id in marks and (i.kind is not InstrumentKind.OPTION or i.underlying in marks)
    )
    arrays = compute_risk_arrays(
        epoch,
        setup.stress if stress else setup.scenarios,
        priced,
        marks,
        setup.params,
        state.time_ms,
    )
    if len(_arrays) >= CACHE_ENTRIES:
        _arrays.clear()
    _arrays[key] = (state.genesis, inputs, arrays)
    return arrays


def get_quantities(account: SubAccount) -> dict[str, int]:
    return {iid: p.quantity for iid, p in account.positions.items() if p.quantity}


def get_account_initial_margin(state: ClearingState, account: SubAccount | None) -> int:
    """IM of a sub-account (0 when risk is off or the account does not exist)."""
    setup = get_risk_setup(state.genesis)
    if setup is None or account is None or not account.positions:
        return 0
    arrays = get_risk_arrays(state, setup)
    return compute_initial_margin(compute_scenario_losses(get_quantities(account), arrays))


def get_initial_margin_requirement(state: ClearingState, member: bytes, sub_account: int) -> int:
    """What a withdrawal or transfer out must leave covered."""
    record = state.members.get(member)
    account = None if record is None else record.sub_accounts.get(sub_account)
    return get_account_initial_margin(state, account)


def check_pre_trade(
    state: ClearingState, member: bytes, sub_account: int, post_trade: SubAccount
) -> None:
    """Reject (``InsufficientMargin``) a trade that raises IM above equity."""
    record = state.members.get(member)
    before = None if record is None else record.sub_accounts.get(sub_account)
    im_before = get_account_initial_margin(state, before)
    im_after = get_account_initial_margin(state, post_trade)
    equity_after = post_trade.cash + get_collateral_value(state, post_trade)
    check_trade_margin(member, sub_account, equity_after, im_before, im_after)


def get_state_solvency_form(state: ClearingState) -> SolvencyForm | None:
    """The public rows at the current state (collateral in genesis order); None if risk is off."""
    setup = get_risk_setup(state.genesis)
    if setup is None:
        return None
    keys = [t.key for t in state.genesis.collateral]
    arrays = get_risk_arrays(state, setup)
    params = setup.params
    return get_solvency_form(arrays, keys, get_haircut_weights(state), params.k_num, params.k_den)


def get_haircut_weights(state: ClearingState) -> dict[CollateralKey, int]:
    """Haircut value per quantum of every collateral token at the current index prices."""
    return {
        key: compute_haircut_value_per_quantum(token, state.index_prices[token.price_feed])
        for key, token in state.collateral_tokens.items()
    }


def get_state_solvency_inputs(form: SolvencyForm, account: SubAccount) -> tuple[int, ...]:
    """The committed vector of one sub-account under ``form``."""
    return get_solvency_inputs(form, account.cash, account.collateral, get_quantities(account))


def get_member_risk(state: ClearingState, member: bytes, sub_account: int) -> AccountRisk | None:
    """Equity, IM, MM, free collateral and liquidation prices of one sub-account."""
    setup = get_risk_setup(state.genesis)
    record = state.members.get(member)
    account = None if record is None else record.sub_accounts.get(sub_account)
    if setup is None or account is None:
        return None
    return get_account_risk(
        account.cash, account.collateral, get_haircut_weights(state), get_quantities(account),
        state.mark_prices, get_risk_arrays(state, setup), setup.params.k_num, setup.params.k_den,
    )  # fmt: skip
