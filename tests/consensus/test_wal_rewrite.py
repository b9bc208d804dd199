"""WAL compaction mechanism: a rewrite is all-or-nothing on disk, whatever moment it stops at."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from consensus.wal import FileWalStorage, MemoryWalStorage, Wal


class Crash(Exception):
    """Stands for the process dying at the patched call."""


def written(path: Path, records: list[bytes]) -> Wal:
    wal = Wal(FileWalStorage(path))
    for record in records:
        wal.append(record, sync=True)
    return wal


def test_rewrite_replaces_the_log_and_later_appends_land_in_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    wal = written(path, [b"one", b"two", b"three"])
    wal.rewrite([b"three"])
    assert wal.records == [b"three"]
    wal.append(b"four", sync=True)
    assert Wal(FileWalStorage(path)).records == [b"three", b"four"]
    assert not (tmp_path / "consensus.wal.next").exists()


@pytest.mark.parametrize(
    ("crash_at", "survivor"),
    [
        ("consensus.wal.os.fsync", [b"one", b"two", b"three"]),  # new file not yet durable
        ("consensus.wal.os.replace", [b"one", b"two", b"three"]),  # durable, not renamed
        ("consensus.wal._sync_directory", [b"three"]),  # renamed
    ],
)
def test_crash_during_rewrite_leaves_the_old_or_the_new_log_whole(
    tmp_path: Path, crash_at: str, survivor: list[bytes]
) -> None:
    path = tmp_path / "consensus.wal"
    wal = written(path, [b"one", b"two", b"three"])
    with mock.patch(crash_at, side_effect=Crash), pytest.raises(Crash):
        wal.rewrite([b"three"])
    assert Wal(FileWalStorage(path)).records == survivor
    assert not (tmp_path / "consensus.wal.next").exists()


def test_a_torn_leftover_copy_is_ignored_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    written(path, [b"one", b"two"])
    (tmp_path / "consensus.wal.next").write_bytes(b"\x00\x00\x00\x09torn")
    assert Wal(FileWalStorage(path)).records == [b"one", b"two"]
    assert not (tmp_path / "consensus.wal.next").exists()


def test_a_failed_rename_keeps_the_log_usable(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    wal = written(path, [b"one"])
    with mock.patch("consensus.wal.os.replace", side_effect=OSError("read-only")):
        with pytest.raises(OSError):
            wal.rewrite([])
    wal.append(b"two", sync=True)
    assert Wal(FileWalStorage(path)).records == [b"one", b"two"]


def test_memory_rewrite_is_durable_at_once() -> None:
    storage = MemoryWalStorage()
    wal = Wal(storage)
    wal.append(b"one")
    wal.rewrite([b"kept"])
    storage.crash()
    assert Wal(storage).records == [b"kept"]
