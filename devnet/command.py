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
status page at its API's `/`.

Exit 1 if an invariant breaks: state roots differ between nodes or from this
process' replica, which applies every block, value not conserved, a vault's balance differs
from the ledger, a report fails to verify. `--ledger-demo` runs the older
in-process six-block ledger demo.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clearing.genesis import DEFAULT_ENGINE, ENGINES
from devnet import PUBLIC_KEYS_WARNING
from devnet.ledger_demo import DEFAULT_GENESIS, run_ledger_demo

SUMMARY = "run a local devnet: validator processes, anvil chains, members, venue, reports"
"""The command's line in `clearnode --help` (node/cli.py reads it without importing this)."""


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
        help="blocks per solvency-report epoch (default: about 30 s of the engine's blocks)",
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
    from devnet.config import DevnetConfig
    from devnet.dashboard import make_observer, print_summary
    from devnet.orchestrator import run_devnet

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
    observer = make_observer(args.quiet)
    try:
        summary = run_devnet(config, observer)
    except KeyboardInterrupt:
        print("clearnode devnet: interrupted; validators and chains stopped")
        return 130
    finally:
        observer.close()
    print_summary(summary)
    if args.out is not None:
        (args.out / "summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    return 0 if summary.ok else 1
