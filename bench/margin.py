"""Margin benchmark: full re-margin of a large book and the incremental pre-trade check.

``remargin_s``: IM and the below-maintenance flag of 100,000 sub-accounts holding
8 positions each over 50 instruments and 64 scenarios (best of ``--repeat``).
``trade_check_us``: the production pre-trade check
(``clearing.transition.trade.check_pre_trade_margin``, which reads the sub-account's kept
scenario losses from the kept risk cache, updates them by ``-dq * v``, takes
the max and compares) for one side of a trade, mean over ``--trades`` trades in
the instruments of a sub-account holding ``--positions`` positions. The state
holds the ``--instruments`` perpetuals of the example genesis and its risk
section widened to ``--scenarios`` scenarios (a SPAN grid of
``(scenarios - 8) / 4`` price steps, the rest stress days). An accepted trade is
written as ``process_trade`` writes it (outside the timing).
``exact``: the vectorised figures equal the pure-Python reference on a sample;
``trade_check_exact``: the kept losses after all the trades equal a from-scratch
computation.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.ledger import BASE_PRICE, build_genesis_doc
from clearing.context import BlockContext
from clearing.genesis import parse_genesis
from clearing.position import compute_entry_cash
from clearing.risk.engine import get_quantities, get_risk_arrays, get_risk_cache, get_risk_setup
from clearing.risk.errors import InsufficientMargin
from clearing.risk.margin import compute_scenario_losses
from clearing.risk.vector import compute_batch_margins, compute_losses_reference
from clearing.state import ClearingState, Member, Position, SubAccount, initialize_state
from clearing.transition.trade import (
    SideFill,
    check_pre_trade_margin,
    start_batch_clearing,
    write_side,
)


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench margin")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions", type=int, default=8)
    parser.add_argument("--instruments", type=int, default=50)
    parser.add_argument("--scenarios", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trades", type=int, default=20_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261121)
    n, slots, n_inst, n_scen = args.accounts, args.positions, args.instruments, args.scenarios
    values = rng.integers(-5 * 10**9, 5 * 10**9, (n_inst, n_scen), dtype=np.int64)
    values[:, 0] = 0
    index = np.argsort(rng.random((n, n_inst)), axis=1)[:, :slots].astype(np.int64)
    quantity = rng.integers(-(10**5), 10**5, (n, slots), dtype=np.int64)
    equity = rng.integers(0, 10**15, n, dtype=np.int64)

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = compute_batch_margins(values, index, quantity, equity, 1, 2)
        best = min(best, time.perf_counter() - start)

    sample = slice(0, 200)
    reference = compute_losses_reference(values, index[sample], quantity[sample])
    exact = result.vectorised and [max(r) for r in reference] == list(result.initial_margin[sample])

    trade_us, accepted, trade_exact = time_trade_checks(rng, n_inst, slots, n_scen, args.trades)
    return {
        "remargin_s": round(best, 4),
        "trade_check_us": round(trade_us, 2),
        "accounts": n,
        "positions": slots,
        "instruments": n_inst,
        "scenarios": n_scen,
        "exact": exact,
        "accepted_trades": accepted,
        "trade_check_exact": trade_exact,
    }


def build_margin_state(instruments: int, scenarios: int) -> ClearingState:
    """The example genesis with ``instruments`` BTC perpetuals and ``scenarios`` scenarios."""
    doc = build_genesis_doc(instruments, margin=True)
    risk = doc["risk"]
    steps = (scenarios - 8) // 4  # one group: base + 4*steps + 4 SPAN scenarios
    risk["price_steps"] = steps
    days = scenarios - (4 * steps + 5)
    risk["stress_days"] = [
        {"label": f"day-{d}", "moves_bps": {"BTC": -2000 - 100 * d, "ETH": -2500}}
        for d in range(days)
    ]
    state = initialize_state(parse_genesis(doc))
    setup = get_risk_setup(state)
    assert setup is not None and len(setup.scenarios.scenarios) == scenarios
    return state


def time_trade_checks(
    rng: np.random.Generator, instruments: int, slots: int, scenarios: int, trades: int
) -> tuple[float, int, bool]:
    """Mean seconds of ``check_pre_trade_margin`` per trade side (in us), accepted, exact."""
    state = build_margin_state(instruments, scenarios)
    ids = sorted(state.instruments)
    member = (1).to_bytes(20, "big")
    account = SubAccount(10**10)
    held = [ids[i] for i in rng.choice(instruments, slots, replace=False).tolist()]
    for iid in held:
        lots = int(rng.integers(-100, 100)) or 1
        account.positions[iid] = Position(lots, BASE_PRICE, BASE_PRICE, 0, 0)
    record = state.members[member] = Member(member, {0: account}, set())
    clearing = start_batch_clearing(state, BlockContext(1, state.time_ms, state.chain_id), "-")
    picks = rng.integers(0, slots, trades).tolist()  # the book stays at ``slots`` positions
    sizes = rng.integers(-100, 100, trades).tolist()
    elapsed = 0.0
    accepted = 0
    for i, dq in zip(picks, sizes, strict=True):
        iid = held[i]
        before = account.positions.get(iid)
        lots = 0 if before is None else before.quantity
        cash = compute_entry_cash(before, dq, BASE_PRICE, BASE_PRICE)
        start = time.perf_counter()
        try:
            margin = check_pre_trade_margin(
                clearing, record, 0, account, iid, lots, lots + dq, cash
            )
        except InsufficientMargin:
            elapsed += time.perf_counter() - start
            continue
        elapsed += time.perf_counter() - start
        side = SideFill(account, dq, cash, 0, margin)
        write_side(state, member, 0, iid, BASE_PRICE, BASE_PRICE, side)
        accepted += 1
    setup = get_risk_setup(state)
    assert setup is not None
    cache = get_risk_cache(state, setup)
    kept = cache.table.get(cache.accounts[(member, 0)].slot)
    scratch = compute_scenario_losses(get_quantities(account), get_risk_arrays(state, setup))
    return elapsed / trades * 1e6, accepted, kept == scratch
