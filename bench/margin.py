"""Margin benchmark: full re-margin of a large book and the incremental pre-trade check.

``remargin_s``: IM and the below-maintenance flag of 100,000 sub-accounts holding
8 positions each over 50 instruments and 64 scenarios (best of ``--repeat``).
``trade_check_us``: one trade's margin check from the sub-account's kept
scenario-loss vector (update by ``-dq * v``, max, compare), mean per trade.
``exact``: the vectorised figures equal the pure-Python reference on a sample.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import (
    compute_initial_margin,
    compute_scenario_losses,
    compute_trade_losses,
)
from clearing.risk.vector import compute_batch_margins, compute_losses_reference


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

    ids = tuple(f"I{i:03d}" for i in range(n_inst))
    labels = tuple(str(s) for s in range(n_scen))
    arrays = RiskArrays(0, ids, labels, tuple(map(tuple, values.tolist())))
    positions = {ids[i]: q for i, q in zip(index[0].tolist(), quantity[0].tolist(), strict=True)}
    losses = compute_scenario_losses(positions, arrays)
    trade_rows = [arrays.values[int(i)] for i in rng.integers(0, n_inst, args.trades)]
    sizes = rng.integers(-100, 100, args.trades).tolist()
    equity0 = int(equity[0])
    start = time.perf_counter()
    accepted = 0
    im = compute_initial_margin(losses)  # kept beside the loss vector
    for row, dq in zip(trade_rows, sizes, strict=True):
        after = compute_trade_losses(losses, row, dq)
        im_after = compute_initial_margin(after)
        if im_after <= im or equity0 >= im_after:
            losses, im = after, im_after
            accepted += 1
    trade_us = (time.perf_counter() - start) / args.trades * 1e6
    return {
        "remargin_s": round(best, 4),
        "trade_check_us": round(trade_us, 2),
        "accounts": n,
        "positions": slots,
        "instruments": n_inst,
        "scenarios": n_scen,
        "exact": exact,
        "accepted_trades": accepted,
    }
