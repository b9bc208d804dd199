"""`clearnode keys [show|generate] --home DIR`: a node's keys; `clearnode keys venue`: a venue's;
`clearnode keys sandbox NAME` and `clearnode keys sandbox --venue ID`: a public test key.

`generate` writes a new node, validator and bridge key into the home before
`clearnode init` (which keeps the keys it finds), so a vault can be deployed
trusting the validators' bridge addresses before the genesis that names that vault
is made. It never overwrites a key file. `show` (the default) prints the public
keys and addresses, never secrets; `generate` prints them too.

`venue --id ID --out FILE` writes a new venue key (kind `venue-ed25519`, 0600) for a
genesis made by the ceremony (docs/ceremony.md), where no `clearnode init` writes one,
and prints the venue's genesis `venues` entry: its id and public key. A FILE already
there is kept and shown, never overwritten.

`sandbox NAME` prints the address and private key of the public test key derived from
NAME (clearnode/client/sandbox_keys.py: what `Member.from_sandbox(NAME)` signs with, the
devnet's members and clients, which `clearnode devnet` lists at its start); `sandbox
--venue ID` the public and private key of venue ID's (`Venue.from_sandbox(ID)`, the
devnet's venue). Anyone can derive them: it says so on stderr, they are for devnets and
test networks only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import parse_venue
from node.config import CONFIG_FILE_NAME, load_config
from node.config_table import ConfigError
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    NODE_KEY,
    VALIDATOR_KEY,
    VENUE_KEY,
    KeyFileError,
    check_key_absent,
    compute_peer_id,
    generate_key,
    load_key,
    save_key,
)

SUMMARY = (
    "show or generate a node's peer id, validator key and bridge address; a venue key; "
    "print a public test key"
)
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("keys", help=SUMMARY)
    parser.add_argument(
        "action",
        nargs="?",
        choices=("show", "generate", "venue", "sandbox"),
        default="show",
        help="generate: write new keys into the home (before `clearnode init`); venue: a "
        "venue's key (--id, --out); sandbox: a public test key (NAME or --venue ID); "
        "default: show",
    )
    parser.add_argument("--home", type=Path, help="node home directory (show, generate)")
    parser.add_argument("--id", help="venue: the venue's genesis id")
    parser.add_argument("--out", type=Path, help="venue: the key file written (0600)")
    parser.add_argument("name", nargs="?", help="sandbox: a member's key name (member-2)")
    parser.add_argument("--venue", metavar="ID", help="sandbox: venue ID's key (alpha)")
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


def make_venue_key(venue_id: str, path: Path) -> tuple[dict[str, str], bool]:
    """The genesis `venues` entry of the key in `path`, and whether it is new: a new key
    written there (0600) if none is, else the one there."""
    created = not (path.exists() or path.is_symlink())
    key = generate_key(VENUE_KEY) if created else load_key(path, VENUE_KEY)
    entry = {"id": venue_id, "pubkey": "0x" + key.public_key().hex()}
    try:
        parse_venue(entry, "venue")  # an id a genesis takes
    except GenesisError as exc:
        raise ValueError(f"--id: expected {exc.expected}, found {venue_id!r}") from None
    if created:
        save_key(path, key)
    return entry, created


def run_venue(venue_id: str, path: Path) -> None:
    entry, created = make_venue_key(venue_id, path)
    print(json.dumps(entry))
    done = "written to" if created else "kept in"
    print(
        f"venue key {done} {path} (0600): hand it to venue {venue_id} alone; its genesis "
        f"entry is above (clearnode genesis template --venue {venue_id}={entry['pubkey']})",
        file=sys.stderr,
    )


SANDBOX_WARNING = (
    "WARNING: a PUBLIC TEST KEY, derived from the public name {name!r}: anyone can sign "
    "with it.\nWARNING: for devnets and test networks only; never hold value on it."
)


def run_sandbox(name: str | None, venue: str | None) -> int:
    """Prints the public test key of member `name` or of venue `venue`."""
    if (name is None) == (venue is None):
        print("clearnode keys sandbox: needs a member's NAME or --venue ID (clearnode devnet "
              "lists them)")  # fmt: skip
        return 2
    from clearnode.client import Member, Venue
    from clearnode.client.signers import hex0x

    if venue is not None:
        secret = Venue.from_sandbox(venue).private_key
        public = secret.public_key().public_bytes_raw()
        shown = {"venue": venue, "public_key": hex0x(public),
                 "private_key": hex0x(secret.private_bytes_raw())}  # fmt: skip
    else:
        assert name is not None
        member = Member.from_sandbox(name)
        shown = {"name": name, "address": member.address_hex,
                 "private_key": hex0x(member.private_key)}  # fmt: skip
    print(SANDBOX_WARNING.format(name=name or f"venue-{venue}"), file=sys.stderr)
    print(json.dumps(shown))
    return 0


REQUIRED = {"show": ("home",), "generate": ("home",), "venue": ("id", "out")}


def run(args: argparse.Namespace) -> int:
    if args.action == "sandbox":
        return run_sandbox(args.name, args.venue)
    if args.name is not None or args.venue is not None:
        print(f"clearnode keys {args.action}: NAME and --venue are sandbox's")
        return 2
    missing = [f"--{name}" for name in REQUIRED[args.action] if getattr(args, name) is None]
    if missing:
        print(f"clearnode keys {args.action}: needs {' and '.join(missing)}")
        return 2
    try:
        if args.action == "venue":
            run_venue(args.id, args.out)
            return 0
        if args.action == "generate":
            generate_keys(args.home)
        print(json.dumps(get_public_keys(args.home), indent=2))
    except (ConfigError, KeyFileError, ValueError) as exc:
        print(f"clearnode keys: {exc}")
        return 2
    return 0
