"""`clearnode keys --home DIR`: show the node's public keys and addresses (never secrets)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from node.config import ConfigError, load_config
from node.keys import BRIDGE_KEY, NODE_KEY, VALIDATOR_KEY, KeyFileError, compute_peer_id, load_key


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="show this node's peer id, validator public key and bridge address"
    )
    parser.add_argument("--home", type=Path, required=True, help="node home directory")
    parser.set_defaults(handler=run)


def get_public_keys(home: Path) -> dict[str, str]:
    config = load_config(home)
    node = load_key(config.node_key_file, NODE_KEY)
    validator = load_key(config.validator_key_file, VALIDATOR_KEY)
    bridge = load_key(config.bridge_key_file, BRIDGE_KEY)
    return {
        "peer_id": compute_peer_id(node),
        "validator_pubkey": "0x" + validator.public_key().hex(),
        "bridge_address": "0x" + bridge.public_key().hex(),
    }


def run(args: argparse.Namespace) -> int:
    try:
        print(json.dumps(get_public_keys(args.home), indent=2))
    except (ConfigError, KeyFileError) as exc:
        print(f"clearnode keys: {exc}")
        return 2
    return 0
