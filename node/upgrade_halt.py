"""A node that stops for an upgrade in place: the file a supervisor reads, and the exit
status it tells from a crash.

When the next block is an upgrade this release does not carry, the node stops before it
signs or applies anything of it (clearing/upgrade.py `UpgradeRequired`, raised where each
engine starts a height), having stored the state of the height before (the snapshot its
successor starts from: node/block_store.py). It writes `upgrade-info.json` beside its
store, as cosmovisor's daemons do, and exits with `EXIT_UPGRADE`: `clearnode supervise`
(node/commands/supervise.py), or a systemd unit that does not restart on that status,
then starts the release the file names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from clearing.upgrade_plan import UpgradePlan

EXIT_UPGRADE = 3
"""`clearnode start`'s status when it stopped for an upgrade in place (0: stopped, 1: a
crash, 2: a bad home or a release that cannot run this state)."""
UPGRADE_INFO_FILE = "upgrade-info.json"


def get_upgrade_info_path(data_dir: Path) -> Path:
    return data_dir / UPGRADE_INFO_FILE


def write_upgrade_info(data_dir: Path, plan: UpgradePlan) -> Path:
    """The plan the node stopped for, written whole (a temporary file renamed)."""
    path = get_upgrade_info_path(data_dir)
    body = {
        "name": plan.name,
        "height": plan.height,
        "version": plan.version,
        "release_hash": None if plan.release_hash is None else "0x" + plan.release_hash.hex(),
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(body, indent=1) + "\n")
    os.replace(partial, path)
    return path


def read_upgrade_info(data_dir: Path) -> UpgradePlan | None:
    """The plan a stopped node wrote, or None if it wrote none (or it does not read)."""
    try:
        body = json.loads(get_upgrade_info_path(data_dir).read_text())
        release_hash = body["release_hash"]
        return UpgradePlan(
            str(body["name"]), int(body["height"]), str(body["version"]),
            None if release_hash is None else bytes.fromhex(release_hash.removeprefix("0x")),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
