"""State root benchmark: the incremental root after one account changed.

A block commits a root at its end; most blocks touch few accounts, so what counts
is the root's cost when one member is dirty among many. Over ``--members``
members (the ledger benchmark's: one sub-account with cash each, a genesis of
``--instruments`` perpetuals), each of ``--roots`` roots follows a change of one
member's cash; ``median_us`` and ``p90_us`` are the root's wall time. ``full_ms``
is the first root, every account encoded.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.ledger import build_state
from clearing.transition.root import compute_state_root


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench state_root")
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--instruments", type=int, default=2)
    parser.add_argument("--roots", type=int, default=2_000)
    args = parser.parse_args(argv)
    state, addresses = build_state(args.members, args.instruments, True)
    start = time.perf_counter()
    compute_state_root(state)
    full_s = time.perf_counter() - start
    times = []
    for i in range(args.roots):
        address = addresses[i % len(addresses)]
        state.members[address].sub_accounts[0].cash += 1
        state.dirty.add(address)
        start = time.perf_counter()
        compute_state_root(state)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "members": args.members,
        "roots": args.roots,
        "full_ms": round(full_s * 1e3, 1),
        "median_us": round(statistics.median(times) * 1e6, 1),
        "p90_us": round(times[int(0.9 * len(times))] * 1e6, 1),
    }
