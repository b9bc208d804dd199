"""`clearnode supervise`: the release `current` names runs until it stops for an upgrade,
then the upgrade's release, installed beside it, is checked against the plan's hash and
started; a release not installed, or whose kept wheel is not the plan's, stops the swap
with one line; any other exit status is the supervisor's. Releases here are small scripts
standing in for `clearnode` (the whole upgrade runs in tests/node/test_upgrade_processes.py)."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

from clearing.upgrade_plan import UpgradePlan
from node.upgrade_halt import EXIT_UPGRADE, read_upgrade_info, write_upgrade_info

PLAN = UpgradePlan("v0.3.0", 40, "0.3.0")


def install(release: Path, script: str) -> Path:
    """A release whose `bin/clearnode` runs `script` (sh), which appends its argv to
    `runs.log` in the home first."""
    binary = release / "bin" / "clearnode"
    binary.parent.mkdir(parents=True)
    binary.write_text(f'#!/bin/sh\necho "{release.name} $*" >> "$3/runs.log"\n{script}\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return release


def supervise(home: Path, first: Path) -> subprocess.CompletedProcess[str]:
    """`clearnode supervise --home home`, its first release `first` (`current`)."""
    (home / "current").symlink_to(first)
    command = [sys.executable, "-m", "node.commands", "supervise", "--home", str(home)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def halting(plan: UpgradePlan) -> str:
    """A release that stops for `plan`, as `clearnode start` does."""
    info = json.dumps({"name": plan.name, "height": plan.height, "version": plan.version,
                       "release_hash": None if plan.release_hash is None
                       else "0x" + plan.release_hash.hex()})  # fmt: skip
    return (
        f'mkdir -p "$3/data" && echo \'{info}\' > "$3/data/upgrade-info.json"\nexit {EXIT_UPGRADE}'
    )


def test_the_upgrade_release_starts_after_the_halt_and_its_status_is_the_supervisors(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    old = install(tmp_path / "old", halting(PLAN))
    install(home / "upgrades" / PLAN.name, "exit 0")
    done = supervise(home, old)
    assert done.returncode == 0, done.stderr
    assert (home / "runs.log").read_text().splitlines() == [
        f"old start --home {home}", f"v0.3.0 start --home {home}",
    ]  # fmt: skip
    assert (home / "current").resolve() == (home / "upgrades" / PLAN.name).resolve()
    assert "starting the release of upgrade 'v0.3.0'" in done.stderr


def test_a_missing_release_or_one_of_other_files_stops_the_swap_in_one_line(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    old = install(tmp_path / "old", halting(PLAN))
    done = supervise(home, old)
    assert done.returncode == EXIT_UPGRADE
    assert done.stderr.strip().splitlines() == [
        f"clearnode supervise: upgrade 'v0.3.0' at height 40 needs release 0.3.0, not "
        f"installed at {home / 'upgrades' / 'v0.3.0' / 'bin' / 'clearnode'}: install it and "
        "start again"
    ]
    release = install(home / "upgrades" / "v0.3.1", "exit 0")
    wheel = release / "clearnode-0.3.1-py3-none-any.whl"
    wheel.write_bytes(b"the release as published")
    hashed = UpgradePlan("v0.3.1", 40, "0.3.1", bytes(32))
    (home / "current").unlink()
    old2 = install(tmp_path / "old2", halting(hashed))
    done = supervise(home, old2)
    assert done.returncode == EXIT_UPGRADE
    found = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"no wheel kept in {release} has it (found: {wheel.name} 0x{found})" in done.stderr
    assert (home / "current").resolve() == old2.resolve()  # not swapped


def test_the_plans_release_hash_is_the_kept_wheels(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    release = install(home / "upgrades" / "v0.3.1", "exit 0")
    wheel = release / "clearnode-0.3.1-py3-none-any.whl"
    wheel.write_bytes(b"the release as published")
    plan = UpgradePlan("v0.3.1", 40, "0.3.1", hashlib.sha256(wheel.read_bytes()).digest())
    done = supervise(home, install(tmp_path / "old", halting(plan)))
    assert done.returncode == 0, done.stderr
    assert (home / "current").resolve() == release.resolve()


def test_a_crash_is_the_supervisors_status_and_no_swap(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    install(home / "upgrades" / PLAN.name, "exit 0")
    done = supervise(home, install(tmp_path / "old", "exit 1"))
    assert done.returncode == 1
    assert (home / "runs.log").read_text().count("start") == 1


def test_the_upgrade_info_reads_back_and_a_damaged_one_is_none(tmp_path: Path) -> None:
    plan = UpgradePlan("v0.3.0", 40, "0.3.0", bytes(range(32)))
    path = write_upgrade_info(tmp_path, plan)
    assert read_upgrade_info(tmp_path) == plan
    path.write_text("{")
    assert read_upgrade_info(tmp_path) is None
