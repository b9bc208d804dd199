"""`clearnode verify REPORT (--genesis FILE | --node URL --genesis-hash HEX) [--checkpoint
HEIGHT:TIME_MS:HASH] [--skip statement,anchor] [--rpc CHAIN_ID=URL [--block CHAIN_ID=N]]
[--member ADDRESS --openings FILE]`: check a solvency report with public data alone (all
the work is in proofs/; this adds the genesis fetched from a node and the vaults read on
chain); or `clearnode verify --account-proof FILE --state-root ROOT [--height H]`: a
member's account proof against a committed state root."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from clearing.genesis import Genesis
from proofs import verify
from proofs.reserves import Unreadable, VaultReading

GENESIS_TIMEOUT_S = 10.0
MAX_GENESIS_BYTES = 16 * 1024 * 1024


SUMMARY = "verify a solvency report (and optionally your own openings), or an account proof"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help=SUMMARY,
        description="Check a solvency report with public data alone: validator quorum, every "
        "account's solvency proof (one batch), the aggregate totals, the statement recomputed "
        "from the genesis and the report's marks, and the state root followed to the chain "
        "from the genesis's validator set (or --checkpoint) within the trusting period. The "
        "genesis is required: --genesis FILE, or --node URL --genesis-hash HEX (fetched and "
        "pinned by its hash). With --member and --openings, also your own commitments; with "
        "--rpc CHAIN_ID=URL, also that each vault holds the report's collateral on its "
        "chain; --skip statement,anchor checks less and says so. Exit 0 valid, 1 invalid, "
        "2 usage error, 3 a check asked for could not be made, 4 valid only as far as "
        "checked (--skip).",
    )
    verify.add_arguments(parser)
    parser.add_argument(
        "--node",
        metavar="URL",
        help="fetch the genesis from this node's API (GET /v1/genesis), pinned by --genesis-hash",
    )
    parser.set_defaults(handler=lambda args: verify.run(args, read_vaults, fetch_genesis))


def read_vaults(
    genesis: Genesis, urls: Mapping[int, str], blocks: Mapping[int, int], time_ms: int | None
) -> dict[int, VaultReading | Unreadable]:
    """The SDK's (clearnode/client/reserves.py, JSON-RPC without web3), so that `clearnode
    verify --rpc` and `verify_report(rpc=...)` read a chain alike; imported only when
    `--rpc` asks for it (the SDK's imports, eth-account's among them, take most of a
    second)."""
    from clearnode.client.reserves import read_vaults as read

    return read(genesis, urls, blocks, time_ms)


def fetch_genesis(url: str) -> bytes:
    """The genesis file the node at `url` serves; GenesisUnavailable if it serves none.
    The standard library's client: httpx's imports would add a third to this command's
    start-up."""
    where = url.rstrip("/") + "/v1/genesis"
    try:
        with urllib.request.urlopen(where, timeout=GENESIS_TIMEOUT_S) as answer:
            data: bytes = answer.read(MAX_GENESIS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise verify.GenesisUnavailable(f"{where} answered HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise verify.GenesisUnavailable(f"no answer from {where}: {exc}") from None
    if len(data) > MAX_GENESIS_BYTES:
        raise verify.GenesisUnavailable(f"{where} sent more than {MAX_GENESIS_BYTES} bytes")
    return data
