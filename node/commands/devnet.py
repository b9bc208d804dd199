"""`clearnode devnet`: the whole system on one machine (node/devnet/).

Starts anvil chains with vaults and test tokens, credits members' deposits with
a quorum of validator attestations, runs a venue's trades in perpetuals, a
future and an option, crashes the oracle price to force liquidations and
defaults through the waterfall, relays withdrawals back to every chain, and
builds a solvency report per epoch checked by the `clearnode verify` code.
Validators' clearing state machines run in this process (no libp2p network yet).
Exit 1 if an invariant breaks: state roots differ, value not conserved, a
report fails to verify. `--ledger-demo` runs the older six-block ledger demo.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from node.devnet.ledger_demo import DEFAULT_GENESIS, run_ledger_demo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devnet",
        help="run a local devnet: anvil chains, validators, members, venue, oracle, reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--validators", type=_at_least(1), default=4)
    parser.add_argument("--chains", type=_at_least(1), default=2)
    parser.add_argument("--members", type=_at_least(6), default=6)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epoch-blocks", type=_at_least(2), default=8)
    parser.add_argument("--out", type=Path, help="directory for genesis, reports, summary")
    parser.add_argument("--quiet", action="store_true", help="no dashboard or block lines")
    parser.add_argument(
        "--status-port",
        type=int,
        help="serve each validator's status page on 127.0.0.1:PORT/validator/N (0: any port)",
    )
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
    if args.ledger_demo:
        return run_ledger_demo(args.genesis)
    from node.devnet.dashboard import make_observer, print_summary
    from node.devnet.orchestrator import DevnetConfig, run_devnet
    from node.devnet.status import StatusServer

    config = DevnetConfig(
        validators=args.validators,
        chains=args.chains,
        members=args.members,
        duration_s=args.duration,
        seed=args.seed,
        epoch_length_blocks=args.epoch_blocks,
        out_dir=args.out,
    )
    status = None if args.status_port is None else StatusServer(args.status_port)
    if status is not None:
        print(f"status pages: {status.url}/validator/0 .. /validator/{args.validators - 1}")
    observer = make_observer(args.quiet, status)
    try:
        summary = run_devnet(config, observer)
    finally:
        observer.close()
    print_summary(summary)
    if args.out is not None:
        (args.out / "summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    return 0 if summary.ok else 1
