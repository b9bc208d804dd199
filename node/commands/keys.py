"""`clearnode keys [show|generate] --home DIR`: a node's keys.

`generate` writes a new node, validator and bridge key into the home before
`clearnode init` (which keeps the keys it finds), so a vault can be deployed
trusting the validators' bridge addresses before the genesis that names that vault
is made. It never overwrites a key file. `show` (the default) prints the public
keys and addresses, never secrets; `generate` prints them too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from node.config import CONFIG_FILE_NAME, ConfigError, load_config
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    NODE_KEY,
    VALIDATOR_KEY,
    KeyFileError,
    check_key_absent,
    compute_peer_id,
    generate_key,
    load_key,
    save_key,
)

SUMMARY = "show (or first generate) a node's peer id, validator key and bridge address"
"""The command's line in `clearnode --help` (node/cli.py reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("keys", help=SUMMARY)
    parser.add_argument(
        "action",
        nargs="?",
        choices=("show", "generate"),
        default="show",
        help="generate: write new keys into the home (before `clearnode init`); default: show",
    )
    parser.add_argument("--home", type=Path, required=True, help="node home directory")
    parser.set_defaults(handler=run)


def get_key_files(home: Path) -> dict[str, Path]:
    """The node's key files by kind: as the home's config.toml names them, or where
    `clearnode init` will look for them."""
    if not (home / CONFIG_FILE_NAME).exists():
        return {kind: home / path for kind, path in HOME_KEY_FILES.items()}
    config = load_config(home)
    return {
        NODE_KEY: config.node_key_file,
        VALIDATOR_KEY: config.validator_key_file,
        BRIDGE_KEY: config.bridge_key_file,
    }


def get_public_keys(home: Path) -> dict[str, str]:
    files = get_key_files(home)
    node = load_key(files[NODE_KEY], NODE_KEY)
    validator = load_key(files[VALIDATOR_KEY], VALIDATOR_KEY)
    bridge = load_key(files[BRIDGE_KEY], BRIDGE_KEY)
    return {
        "peer_id": compute_peer_id(node),
        "validator_pubkey": "0x" + validator.public_key().hex(),
        "bridge_address": "0x" + bridge.public_key().hex(),
    }


def generate_keys(home: Path) -> None:
    """A new key in each of the home's key files; none may exist yet."""
    files = get_key_files(home)
    for path in files.values():
        check_key_absent(path)
    for kind, path in files.items():
        save_key(path, generate_key(kind))


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "generate":
            generate_keys(args.home)
        print(json.dumps(get_public_keys(args.home), indent=2))
    except (ConfigError, KeyFileError) as exc:
        print(f"clearnode keys: {exc}")
        return 2
    return 0
