"""`clearnode supervise --home DIR`: run the node, and swap its release at an upgrade.

The shape of Cosmos's cosmovisor. Releases are installed side by side in the home:

    DIR/upgrades/<name>/bin/clearnode   the release of upgrade <name> (a virtualenv)
    DIR/upgrades/<name>/*.whl           the release's wheel it was installed from
    DIR/current                         -> the release running now (a symlink)

and the first release is the one `supervise` itself is (its own `clearnode`), until an
upgrade points `current` elsewhere. `supervise` runs `current/bin/clearnode start --home
DIR` and waits. When the node stops for an upgrade (exit status `EXIT_UPGRADE`, its plan
in `data/upgrade-info.json`: node/upgrade_halt.py), it checks the upgrade's release is
installed (and, when the plan names one, that the wheel kept beside it hashes to the
plan's `release_hash`, the SHA-256 of the release's wheel as published: `sha256sum`
prints it), points `current` at it and starts it; the new release runs the migration at
the upgrade's height. A node that was down across the height needs nothing more:
`current` still names the release before it, which catches up to the height and stops
there, and the swap follows. A
signal is passed to the node, whose status `supervise` exits with; so does any other
stop (systemd restarts a crash).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from node.upgrade_halt import EXIT_UPGRADE, read_upgrade_info

log = logging.getLogger(__name__)

SUMMARY = "run the node and swap its release at an upgrade in place (as cosmovisor does)"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""
UPGRADES_DIR = "upgrades"
CURRENT_LINK = "current"
RELEASE_BINARY = Path("bin") / "clearnode"
DATA_DIR = "data"


class ReleaseMissing(Exception):
    """The upgrade's release is not installed, or its files are not the ones the plan
    names."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("supervise", help=SUMMARY)
    parser.add_argument("--home", type=Path, required=True, help="node home directory")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    home = args.home.resolve()
    while True:
        binary = get_current_release(home) / RELEASE_BINARY
        status = run_release(binary, home)
        if status != EXIT_UPGRADE:
            return status
        try:
            release = switch_release(home)
        except ReleaseMissing as exc:
            print(f"clearnode supervise: {exc}", file=sys.stderr)
            return EXIT_UPGRADE
        print(f"clearnode supervise: starting the release of {release}", file=sys.stderr)


def get_current_release(home: Path) -> Path:
    """The release `current` names, or the environment running this command (the first:
    its `bin/clearnode` beside this interpreter)."""
    link = home / CURRENT_LINK
    if link.is_symlink():
        return link.resolve()
    return Path(sys.executable).parent.parent


def run_release(binary: Path, home: Path) -> int:
    """`binary start --home home` until it exits; SIGTERM and SIGINT passed on to it."""
    process = subprocess.Popen([str(binary), "start", "--home", str(home)])

    def forward(signum: int, frame: object) -> None:
        process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def switch_release(home: Path) -> str:
    """Points `current` at the release of the upgrade the node stopped for; its name."""
    plan = read_upgrade_info(home / DATA_DIR)
    if plan is None:
        raise ReleaseMissing(f"the node stopped for an upgrade but {home / DATA_DIR} holds no "
                             "readable upgrade-info.json")  # fmt: skip
    release = home / UPGRADES_DIR / plan.name
    if not (release / RELEASE_BINARY).is_file():
        raise ReleaseMissing(
            f"upgrade {plan.name!r} at height {plan.height} needs release {plan.version}, "
            f"not installed at {release / RELEASE_BINARY}: install it and start again"
        )
    if plan.release_hash is not None:
        wheels = {hashlib.sha256(w.read_bytes()).digest(): w for w in release.glob("*.whl")}
        if plan.release_hash not in wheels:
            found = ", ".join(f"{w.name} 0x{h.hex()}" for h, w in wheels.items()) or "none"
            raise ReleaseMissing(
                f"upgrade {plan.name!r} names release files of sha256 0x"
                f"{plan.release_hash.hex()}: no wheel kept in {release} has it (found: {found})"
            )
    link = home / CURRENT_LINK
    partial = home / (CURRENT_LINK + ".partial")
    partial.unlink(missing_ok=True)
    partial.symlink_to(release)
    os.replace(partial, link)
    return f"upgrade {plan.name!r} ({release})"
