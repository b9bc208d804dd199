"""`clearnode status [--home DIR | --api URL]`: ask a running node's API for its status."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from node.config import load_config
from node.config_table import ConfigError

SUMMARY = "show the status of a running node (via its HTTP API)"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("status", help=SUMMARY)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--home", type=Path, help="node home: use the API address in its config")
    where.add_argument("--api", help="API base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.set_defaults(handler=run)


def get_api_url(args: argparse.Namespace) -> str:
    if args.api is not None:
        return str(args.api).rstrip("/")
    api = load_config(args.home).api
    host = "127.0.0.1" if api.listen_host in ("0.0.0.0", "::") else api.listen_host
    return f"http://{host}:{api.listen_port}"


def run(args: argparse.Namespace) -> int:
    try:
        url = get_api_url(args) + "/v1/status"
    except ConfigError as exc:
        print(f"clearnode status: {exc}")
        return 2
    try:
        code, status = get_json(url, args.timeout)
    except (OSError, ValueError) as exc:
        print(f"clearnode status: no answer from {url} ({exc})")
        return 1
    print(json.dumps(status, indent=2))
    health = status.get("health") if isinstance(status, dict) else None
    for warning in health.get("warnings", []) if isinstance(health, dict) else []:
        print(f"WARNING: {warning}", file=sys.stderr)  # stdout stays one JSON document
    upgrade = status.get("upgrade") if isinstance(status, dict) else None
    planned = upgrade.get("planned") if isinstance(upgrade, dict) else None
    if isinstance(planned, dict):
        print(f"UPGRADE: {planned.get('name')!r} at height {planned.get('height')}, in "
              f"{planned.get('blocks_left')} blocks, needs release {planned.get('version')}",
              file=sys.stderr)  # fmt: skip
    return 0 if code == 200 else 1


def get_json(url: str, timeout_s: float) -> tuple[int, Any]:
    """The HTTP status and JSON body of GET `url` (the standard library's client: httpx's
    imports would double this command's start-up)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
