"""The child's side of the node's compute processes (the proving worker,
node/reports/worker.py; the history replay, node/history/replay.py): each reads pickled
requests in frames (node/framing.py) from its stdin and writes pickled answers the same
way to its stdout, at a lower CPU priority than its node, and never outlives it.

A node that stops in order kills its child. One that dies (SIGKILL, a second signal's
exit at once, the OOM killer) closes its end of the child's stdin, which a thread of the
child watches: the child exits at once, mid-task too, where reading its next request
would have waited for the end of the current one (minutes of a core, for no one). The
kernel's parent-death signal would not do: trio starts a child from one of its threads,
which end when idle, and the signal follows the thread (node/cometbft/process.py).
"""

from __future__ import annotations

import os
import pickle
import select
import sys
import threading
from typing import BinaryIO

from node.framing import HEADER_BYTES, encode_frame

MAX_FRAME_BYTES = 2**32 - 1  # the frame header's own bound: node and child trust each other


def start_child(niceness: int) -> BinaryIO:
    """Lowers the process's CPU priority and ends it once its node is gone; its stdin."""
    os.nice(niceness)
    stdin = sys.stdin.buffer
    threading.Thread(target=exit_when_closed, args=(stdin.fileno(),), daemon=True).start()
    return stdin


def read_request(stream: BinaryIO) -> bytes | None:
    """The next request (blocking reads), None once stdin closed."""
    head = stream.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES:
        return None
    return stream.read(int.from_bytes(head, "big"))


def write_answer(answer: object) -> None:
    sys.stdout.buffer.write(encode_frame(pickle.dumps(answer), MAX_FRAME_BYTES))
    sys.stdout.buffer.flush()


def exit_when_closed(fd: int) -> None:
    """Ends the process once the writing end of the pipe `fd` reads is closed: its node
    is gone. Unread data does not wake it: the watch asks for no event, and a hang-up is
    always reported."""
    watch = select.poll()
    watch.register(fd, 0)
    watch.poll()
    os._exit(0)
