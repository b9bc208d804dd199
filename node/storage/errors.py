"""What a node's store refuses, each error with the heights or hashes that explain it."""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """The store refused an operation or its file is unusable."""


class HeightGapError(StorageError):
    """A block was saved at a height other than latest + 1."""

    def __init__(self, height: int, latest: int) -> None:
        self.height = height
        self.latest = latest
        super().__init__(f"cannot save block at height {height}: latest stored height is {latest}")


class SnapshotHeightError(StorageError):
    """A snapshot was saved for a height whose block is not stored."""

    def __init__(self, height: int, latest: int) -> None:
        self.height = height
        self.latest = latest
        super().__init__(f"cannot snapshot height {height}: latest stored height is {latest}")


class OtherGenesisStore(StorageError):
    """The store holds the chain of another genesis than the one the node starts with."""

    def __init__(self, store: Path, stored: bytes, genesis_file: Path, found: bytes) -> None:
        super().__init__(
            f"{store} holds the chain of genesis 0x{stored.hex()}, and {genesis_file} is "
            f"genesis 0x{found.hex()}: start with the genesis the store was made with, or move "
            f"the data aside to join the network of this one"
        )
        self.store = store
        self.stored = stored
        self.genesis_file = genesis_file
        self.found = found


class UnusableSnapshot(StorageError):
    """A stored snapshot is not the committed state of its height (corrupt, or stale)."""

    def __init__(self, height: int, reason: str) -> None:
        self.height = height
        self.reason = reason
        super().__init__(f"snapshot at height {height} is unusable: {reason}")


class PruneBelowSnapshot(StorageError):
    """Pruning would remove blocks a restart re-applies after the oldest snapshot kept."""

    def __init__(self, below: int, oldest_snapshot: int) -> None:
        self.below = below
        self.oldest_snapshot = oldest_snapshot
        super().__init__(
            f"cannot prune blocks below height {below}: the oldest snapshot kept is of height "
            f"{oldest_snapshot}, and a restart from it re-applies the blocks after it"
        )
