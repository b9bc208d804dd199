"""The release of upgrade `test-v2`, built as an operator would find it beside the running
one: this tree copied, `test-v2.patch` applied, and a `bin/clearnode` that runs it.

The patch is the stand-in for a release that changes the state: the account record gains
a field (each member's tier: ACCOUNT_VERSION 4, snapshots version 13, both reading the
previous release's), and clearing/release.py carries the upgrade `test-v2` with its
migration, and a property test of that migration. To make the patch again after this
tree moved: check out a branch, make those edits, and `git diff > test-v2.patch` (the
upgrade test fails at once, naming the file, if it no longer applies).
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PATCH = Path(__file__).with_name("test-v2.patch")
UPGRADE = "test-v2"
PACKAGES = ("bridge", "clearing", "clearnode", "configs", "consensus", "devnet", "lightclient",
            "node", "proofs", "records")  # fmt: skip
TESTS = ("tests/__init__.py", "tests/conftest.py", "tests/parallel.py", "tests/clearing")


def build_release(base: Path) -> Path:
    """The release directory: `src/` (the patched tree) and `bin/clearnode` running it
    with this environment's interpreter and packages."""
    src = base / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*PACKAGES, *TESTS):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=skip)
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / name)
    shutil.copy2(ROOT / "pyproject.toml", src / "pyproject.toml")
    applied = subprocess.run(["git", "apply", str(PATCH)], cwd=src, capture_output=True,
                             text=True)  # fmt: skip
    assert applied.returncode == 0, f"{PATCH} no longer applies:\n{applied.stderr}"
    binary = base / "bin" / "clearnode"
    binary.parent.mkdir(parents=True)
    # from the release's own directory: `python -m` reads the current directory first
    binary.write_text(f'#!/bin/sh\ncd "{src}" && PYTHONPATH="{src}" exec "{sys.executable}" '
                      '-m node.commands "$@"\n')  # fmt: skip
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return base


def run_migration_test(release: Path) -> str:
    """The release's own property test of its migration, run in it; pytest's output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n0",
         "tests/clearing/test_release_migration.py"],
        cwd=release / "src", env={"PYTHONPATH": str(release / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
