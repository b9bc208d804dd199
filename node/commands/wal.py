"""`clearnode wal repair --home DIR`: cut the consensus WAL's torn tail, the node stopped.

A power cut mid-write can leave the WAL's last frame short or failing its checksum; the
node then refuses to start (`WalCorrupted`: the file, the offset of the first bad frame,
the size). `repair` opens the log as `Wal(FileWalStorage(path), repair=True)` does: it
truncates the file at that offset, keeping every whole record before it (the newest
signatures, which the signer's guard replays), after copying the file as it was to
`<wal>.before-repair`. A whole log, or none, is left as it is. It refuses while a node
runs on the home (node/home_lock.py): the node appends to that file.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.wal import FileWalStorage, Wal, WalCorrupted, decode_frames
from node.config import load_config
from node.config_table import ConfigError
from node.home_lock import HomeInUse, hold_home

BACKUP_SUFFIX = ".before-repair"

SUMMARY = "cut the consensus WAL's torn tail after a power cut (the node stopped)"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("wal", help=SUMMARY)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    repair = sub.add_parser(
        "repair", help="truncate the WAL at its first bad frame (a copy of it kept first)"
    )
    repair.add_argument("--home", type=Path, required=True, help="node home directory")
    repair.set_defaults(handler=run_repair)


@dataclass(frozen=True)
class WalRepair:
    """What `repair_wal` found: the records kept, and the corruption it cut (None: whole)."""

    path: Path
    records: int
    size: int
    corruption: WalCorrupted | None = None
    backup: Path | None = None


def repair_wal(path: Path) -> WalRepair:
    """The WAL at `path` truncated at its first bad frame, after a durable copy of it as
    it was; nothing written if it is whole or absent."""
    data = path.read_bytes() if path.exists() else b""
    records, corruption = decode_frames(data, str(path))
    if corruption is None:
        return WalRepair(path, len(records), len(data))
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    with open(backup, "wb") as copy:
        copy.write(data)
        copy.flush()
        os.fsync(copy.fileno())
    storage = FileWalStorage(path)
    try:
        Wal(storage, repair=True)
    finally:
        storage.close()
    return WalRepair(path, len(records), len(data), corruption, backup)


def describe(repair: WalRepair) -> str:
    if repair.corruption is None:
        if not repair.path.exists():
            return f"{repair.path}: no WAL (this node never ran); nothing to repair"
        whole = f"whole, {repair.records} records in {repair.size} bytes"
        return f"{repair.path}: {whole}; nothing to repair"
    cut = repair.corruption
    return (
        f"{repair.path}: cut at byte {cut.offset} of {cut.size} ({cut.reason}): "
        f"{repair.records} whole records kept, the torn tail's {cut.size - cut.offset} bytes "
        f"dropped; the file as it was is {repair.backup}. Start the node again."
    )


def run_repair(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.home)
        with hold_home(config.home):
            repair = repair_wal(config.storage.wal_path)
    except (ConfigError, HomeInUse, OSError) as exc:
        print(f"clearnode wal repair: {exc}")
        return 2
    print(f"clearnode wal repair: {describe(repair)}")
    return 0
