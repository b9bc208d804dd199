"""`clearnode relay`: poll a node for complete vault rotations and withdrawals and
submit them on a chain (rotations first).

    clearnode relay --api http://127.0.0.1:8080 --rpc-url http://127.0.0.1:8545 \\
        --chain-id 31337 --key-file relayer_key.json [--once] [--interval 2]

`--key-file` holds the EVM account that sends (and pays gas for) the vault
calls, in the node's key-file format (kind `bridge-secp256k1`, mode 0600).
One JSON line per relayed or skipped rotation or withdrawal goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bridge.chain import account_from_key, connect
from bridge.chain_answers import ChainError
from bridge.relayer import relay_complete, relay_rotations
from node.keys import BRIDGE_KEY, KeyFileError, load_key

SUMMARY = "rotate the chain's vault and pay withdrawals with the signatures a node serves"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "relay",
        help=SUMMARY,
    )
    parser.add_argument("--api", required=True, help="node API base URL")
    parser.add_argument("--rpc-url", required=True, help="the EVM chain's JSON-RPC URL")
    parser.add_argument("--chain-id", type=int, required=True, help="the EVM chain id")
    parser.add_argument("--key-file", type=Path, required=True, help="sender's key file")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        sender = account_from_key(load_key(args.key_file, BRIDGE_KEY).secret)
        chain = connect(args.rpc_url, args.chain_id)
    except (KeyFileError, ChainError, OSError) as exc:
        print(f"clearnode relay: {exc}", file=sys.stderr)
        return 2
    api = args.api.rstrip("/")
    while True:
        rotations = get_list(api + "/v1/bridge/rotations", "rotations")
        for rotated in relay_rotations(chain, sender, rotations):
            print(json.dumps(rotated.to_json()), flush=True)
        pending = get_list(api + "/v1/withdrawals/pending", "withdrawals")
        for outcome in relay_complete(chain, sender, pending):
            print(json.dumps(outcome.to_json()), flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


def get_list(url: str, name: str) -> list[dict[str, Any]]:
    """The node's list `name` at `url`; empty (and said on stderr) if it cannot be read."""
    try:
        found = httpx.get(url, timeout=10).json()[name]
        if not isinstance(found, list):
            raise TypeError(f"{name} is {type(found).__name__}")
        return found
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        print(f"clearnode relay: no {name} list from {url} ({exc})", file=sys.stderr)
        return []
