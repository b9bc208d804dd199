"""One process at a time on a node home: `clearnode start` holds it while the node runs.

Two nodes on one home would sign with one validator key (a double sign the moment both
run) and write one store and WAL; `clearnode wal repair` must not cut a log the node
is appending to. Each takes an exclusive `flock` on the home directory itself, which the
kernel releases when the process ends however it ends (`kill -9` included): nothing is
written, so no file left by a crash blocks a restart, and a home refused for a bad
config stays as it was.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class HomeInUse(Exception):
    """Another process holds the home's lock: a node runs on it."""

    def __init__(self, home: Path) -> None:
        super().__init__(f"{home}: a node runs on this home (it holds its lock); stop it first")
        self.home = home


@contextmanager
def hold_home(home: Path) -> Iterator[None]:
    """The home's lock held until the block ends; HomeInUse at once if another has it.
    A home that does not exist holds nothing: no node can run on it."""
    if not home.is_dir():
        yield
        return
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeInUse(home) from None
        yield
    finally:
        os.close(fd)  # releases the lock
