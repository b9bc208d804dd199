"""Write-ahead log: checksummed, length-prefixed records, replayed on start.

Frame: 4-byte big-endian payload length, 4-byte CRC-32 of (length || payload),
payload. A frame that is cut short or fails its checksum is a corrupted tail:
opening refuses with `WalCorrupted` (file and byte offset) unless the operator
asks for `repair=True`, which truncates the log at the last good frame.

`Wal.rewrite(records)` compacts: the new log is written beside the old one,
made durable, then renamed over it, so a crash at any point leaves either the
whole old log or the whole new one (never a mix, never nothing).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from records.codec import MAX_CONSENSUS_MESSAGE_BYTES

HEADER_BYTES = 8
MAX_RECORD_BYTES = MAX_CONSENSUS_MESSAGE_BYTES
"""A record holds one consensus message (or less), so it is capped like one."""


class WalRecordTooLarge(ValueError):
    """A record over MAX_RECORD_BYTES: refused before writing, as replay could not read it."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"WAL record of {size} bytes exceeds the {limit}-byte record cap")
        self.size = size
        self.limit = limit


class WalCorrupted(Exception):
    """The WAL has a bad frame at `offset`; start with repair=True to drop the tail."""

    def __init__(self, name: str, offset: int, size: int, reason: str) -> None:
        super().__init__(
            f"WAL {name} is corrupted at byte offset {offset} of {size}: {reason}; refusing "
            f"to open it (a repair truncates it at {offset}, losing only the torn tail frame)"
        )
        self.name = name
        self.offset = offset
        self.size = size
        self.reason = reason


class WalStorage(Protocol):
    """Append-only bytes with an explicit durability barrier."""

    name: str

    def read_all(self) -> bytes: ...

    def append(self, data: bytes) -> None: ...

    def sync(self) -> None:
        """Make everything appended so far durable (fsync)."""
        ...

    def truncate(self, size: int) -> None: ...

    def replace(self, data: bytes) -> None:
        """Atomically make `data` the whole log, durable on return."""
        ...


class FileWalStorage:
    """A WAL file on disk; `sync` is a real fsync; `replace` renames a durable new file in."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Left by a crash before its rename: the log itself is whole, the copy is not needed.
        self.next_path.unlink(missing_ok=True)
        self._file = open(self.path, "ab")

    @property
    def next_path(self) -> Path:
        return self.path.with_name(self.path.name + ".next")

    def read_all(self) -> bytes:
        self._file.flush()
        return self.path.read_bytes()

    def append(self, data: bytes) -> None:
        self._file.write(data)

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def truncate(self, size: int) -> None:
        self._file.flush()
        self._file.truncate(size)
        os.fsync(self._file.fileno())

    def replace(self, data: bytes) -> None:
        with open(self.next_path, "wb") as new:
            new.write(data)
            new.flush()
            os.fsync(new.fileno())
        os.replace(self.next_path, self.path)
        _sync_directory(self.path.parent)
        # Our handle still writes to the replaced inode: appends must go to the new file.
        self._file.close()
        self._file = open(self.path, "ab")

    def close(self) -> None:
        self._file.close()


def _sync_directory(path: Path) -> None:
    """Makes a rename in `path` durable (the directory entry is its own write)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class MemoryWalStorage:
    """In-memory WAL for the simulator: `crash()` loses what was never synced.

    `crash(torn=k)` keeps the first k unsynced bytes, as a disk may when the
    power goes mid-write, which leaves a corrupted tail to repair.
    """

    name: str = "memory-wal"
    durable: bytearray = field(default_factory=bytearray)
    unsynced: bytearray = field(default_factory=bytearray)

    def read_all(self) -> bytes:
        return bytes(self.durable + self.unsynced)

    def append(self, data: bytes) -> None:
        self.unsynced += data

    def sync(self) -> None:
        self.durable += self.unsynced
        self.unsynced = bytearray()

    def truncate(self, size: int) -> None:
        self.sync()
        del self.durable[size:]

    def replace(self, data: bytes) -> None:
        self.durable = bytearray(data)
        self.unsynced = bytearray()

    def crash(self, torn: int = 0) -> None:
        self.durable += self.unsynced[:torn]
        self.unsynced = bytearray()


def encode_frame(payload: bytes) -> bytes:
    length = len(payload).to_bytes(4, "big")
    return length + zlib.crc32(length + payload).to_bytes(4, "big") + payload


def decode_frames(data: bytes, name: str) -> tuple[list[bytes], WalCorrupted | None]:
    """All good frames, and the corruption that stopped reading (None if clean)."""
    records: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER_BYTES:
            return records, WalCorrupted(name, offset, len(data), "truncated frame header")
        length_bytes = data[offset : offset + 4]
        length = int.from_bytes(length_bytes, "big")
        if length > MAX_RECORD_BYTES:
            return records, WalCorrupted(name, offset, len(data), f"frame length {length} too big")
        end = offset + HEADER_BYTES + length
        if end > len(data):
            return records, WalCorrupted(name, offset, len(data), "truncated frame payload")
        payload = data[offset + HEADER_BYTES : end]
        if zlib.crc32(length_bytes + payload).to_bytes(4, "big") != data[offset + 4 : offset + 8]:
            return records, WalCorrupted(name, offset, len(data), "checksum mismatch")
        records.append(payload)
        offset = end
    return records, None


class Wal:
    """The log itself: open (validate, maybe repair), read records, append."""

    def __init__(self, storage: WalStorage, repair: bool = False) -> None:
        self.storage = storage
        records, corruption = decode_frames(storage.read_all(), storage.name)
        if corruption is not None:
            if not repair:
                raise corruption
            storage.truncate(corruption.offset)
        self.records: list[bytes] = records

    def append(self, payload: bytes, sync: bool = False) -> None:
        """Append one record; with `sync`, it and all before it are durable on return."""
        if len(payload) > MAX_RECORD_BYTES:
            raise WalRecordTooLarge(len(payload), MAX_RECORD_BYTES)
        self.storage.append(encode_frame(payload))
        if sync:
            self.storage.sync()

    def rewrite(self, records: list[bytes]) -> None:
        """Replaces the whole log by `records` atomically (compaction); durable on return."""
        for record in records:
            if len(record) > MAX_RECORD_BYTES:
                raise WalRecordTooLarge(len(record), MAX_RECORD_BYTES)
        self.storage.replace(b"".join(encode_frame(r) for r in records))
        self.records = list(records)
