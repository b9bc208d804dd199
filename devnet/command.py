"""`clearnode devnet`: the whole system on one machine (devnet/).

Generates keys, a genesis and a home per validator (as `clearnode init` does),
starts anvil chains with vaults and test tokens, then runs N `clearnode start`
processes reaching consensus over libp2p on 127.0.0.1. Their node services
sample the oracle (a simulator with a crash scheduled identically in every
config), credit deposits seen on the vaults, sign withdrawals and build a
solvency report per epoch. Simulated members deposit on every chain and sign
their requests; a venue posts trade batches in perpetuals, a future and an
option over HTTP; the devnet relays the validators' withdrawal signatures to the
vaults and checks each report with `clearnode verify`. Each node serves its
status page at its API's `/`. It starts by listing the simulated members, their
clients and the venue: each one's name (in the log and the summary too), role, and the
command that prints its public test key (`clearnode keys sandbox NAME`).

Exit 1 if an invariant breaks: state roots differ between nodes or from this
process' replica, which applies every block, value not conserved, a vault's balance differs
from the ledger, a report fails to verify. Ctrl-C, SIGTERM or SIGHUP (to the devnet or
its whole process group) stops every process it started and exits 128 + the signal's
number (130, 143, 129), after one line saying what it checked so far. `--ledger-demo`
runs the older in-process six-block ledger demo.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from clearing.genesis import DEFAULT_ENGINE, ENGINES
from devnet import PUBLIC_KEYS_WARNING
from devnet.ledger_demo import DEFAULT_GENESIS, run_ledger_demo
from devnet.stopping import Stopped, StopSignals, handle_stop_signals

SUMMARY = "run a local devnet: validator processes, anvil chains, members, venue, reports"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devnet",
        help=SUMMARY,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--validators", type=_at_least(1), default=4)
    parser.add_argument("--chains", type=_at_least(1), default=2)
    parser.add_argument("--members", type=_at_least(8), default=8)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--epoch-blocks",
        type=_at_least(2),
        help="blocks per solvency-report epoch (default 30: about 30 s when idle)",
    )
    parser.add_argument(
        "--out", type=Path, help="directory for node homes and logs, reports, summary.json"
    )
    parser.add_argument(
        "--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="the consensus engine"
    )
    parser.add_argument("--quiet", action="store_true", help="no dashboard or log lines")
    parser.add_argument("--ledger-demo", action="store_true", help="the in-process ledger demo")
    parser.add_argument(
        "--genesis", type=Path, default=DEFAULT_GENESIS, help="genesis of --ledger-demo"
    )
    parser.set_defaults(handler=run)


def _at_least(low: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    print(PUBLIC_KEYS_WARNING, file=sys.stderr, flush=True)
    if args.ledger_demo:
        return run_ledger_demo(args.genesis)
    with handle_stop_signals() as stop:
        try:
            return run_network(args, stop)
        except Stopped as stopped:
            print(f"clearnode devnet: {stopped}", flush=True)
            return stopped.exit_code


def run_network(args: argparse.Namespace, stop: StopSignals) -> int:
    """The devnet of `args`; its summary printed (and written under --out)."""
    from devnet.config import DevnetConfig
    from devnet.dashboard import make_observer, print_summary
    from devnet.market import make_members
    from devnet.orchestrator import run_devnet
    from devnet.roster import describe_roster

    stop.check()  # a signal while the modules above were imported
    config = DevnetConfig(
        validators=args.validators,
        chains=args.chains,
        members=args.members,
        duration_s=args.duration,
        seed=args.seed,
        epoch_length_blocks=args.epoch_blocks,
        out_dir=args.out,
        engine=args.engine,
    )
    if not args.quiet:  # above the dashboard, which keeps the last lines only
        print("\n".join(describe_roster(make_members(config.members))), flush=True)
    with closing(make_observer(args.quiet)) as observer:
        summary = run_devnet(config, observer, stop)
    print_summary(summary)
    if args.out is not None:
        (args.out / "summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    return 0 if summary.ok else 1
