"""The members' history below a restored snapshot, rebuilt once its blocks are backfilled.

A node restored by state sync holds the history from its snapshot's height H + 1 on
(`history_first_height`). History rows are made by applying blocks, and applying block h
needs the state after h - 1: rebuilding the rows below H means replaying the chain from
genesis. Once backfill holds every block (node/statesync/backfill.py, with `[storage]
blocks_kept = 0`), the node does so in a child process (`python -m node.history.replay`,
node/child_process.py) at a lower CPU priority than its own: one replay holds the GIL
for about 17 ms a block on this project's machines, which on the node's loop would stall
consensus. The child reads the blocks from the node's SQLite file through a read-only
connection of its own, checks each block's state root against the stored one, and sends
the rows back in batches; the node writes them (`NodeStore.save_history_below`), and
moves the first height whose history it holds down once the replay reaches it. Rows
written below that height are served by nothing until then, so a member never reads a
history with a gap; a replay cut short by a restart starts again from genesis.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import subprocess
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from clearing.genesis import Genesis
from node.child_process import MAX_FRAME_BYTES, read_request, start_child, write_answer
from node.framing import FrameReader, encode_frame
from node.history.indexer import replay_history
from node.storage import NodeStore, StorageError, iter_stored_blocks

log = logging.getLogger(__name__)

REPLAY_NICENESS = 10


@dataclass(frozen=True)
class Replay:
    """Replay blocks 1 to `up_to` of the store at `path`, sending the history of those
    from `write_from` on."""

    path: Path
    genesis: Genesis
    write_from: int
    up_to: int


class HistoryNotRebuilt(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the members' history below the snapshot is not rebuilt: {reason}")
        self.reason = reason


async def rebuild_history(store: NodeStore, genesis: Genesis, floor: int) -> None:
    """The history of heights `floor` up to the first one held, replayed from genesis in
    a child process once every block from genesis is held; HistoryNotRebuilt if a block
    gives another state root or the replay ends before the first height held."""
    below = store.history_first_height()
    if below <= floor:
        return
    if store.first_height() > 1:
        log.info("the members' history below height %d is not rebuilt: it is replayed from "
                 "genesis, and blocks are held from %d ([storage] blocks_kept = 0 keeps them "
                 "all)", below, store.first_height())  # fmt: skip
        return
    log.info("rebuilding the members' history of heights %d to %d: replaying the chain "
             "from genesis", floor, below - 1)  # fmt: skip
    replay = Replay(store.path, genesis, floor, below - 1)
    command = [sys.executable, "-m", "node.history.replay"]
    run = partial(trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  check=False)  # fmt: skip
    failure = None
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(run)
        try:
            await receive_history(process, store, replay)
        except HistoryNotRebuilt as exc:  # raised from the nursery, not inside a group
            failure = exc
        finally:
            process.kill()
    if failure is not None:
        raise failure
    log.info("members' history rebuilt: held from height %d", floor)


async def receive_history(process: trio.Process, store: NodeStore, replay: Replay) -> None:
    assert process.stdin is not None and process.stdout is not None
    await process.stdin.send_all(encode_frame(pickle.dumps(replay), MAX_FRAME_BYTES))
    answers = FrameReader(process.stdout.receive_some)
    while (answer := await answers.read_frame(MAX_FRAME_BYTES)) is not None:
        kind, value = pickle.loads(answer)
        if kind == "refused":
            raise HistoryNotRebuilt(value)
        held_from = replay.write_from if kind == "done" else None
        below = replay.up_to + 1
        if not await trio.to_thread.run_sync(store.save_history_below, value, below, held_from):
            raise HistoryNotRebuilt("pruning passed the heights rebuilt meanwhile")
        if kind == "done":
            return
    raise HistoryNotRebuilt(f"the replay process exited ({await process.wait()})")


def main() -> int:
    """Replay the one request on stdin, sending ("batch", rows) answers, then ("done", [])
    or ("refused", why)."""
    request = read_request(start_child(REPLAY_NICENESS))
    if request is None:
        return 0
    replay: Replay = pickle.loads(request)
    db = sqlite3.connect(f"file:{replay.path}?mode=ro", uri=True)
    blocks = iter_stored_blocks(db, 0, replay.up_to, nullcontext())
    reached = 0
    try:
        for batch in replay_history(replay.genesis, blocks, replay.write_from):
            write_answer(("batch", batch))
            reached = batch[-1].height
    except StorageError as exc:
        write_answer(("refused", str(exc)))
        return 0
    if reached != replay.up_to:
        write_answer(("refused", f"the blocks held end at {reached}, not {replay.up_to}"))
        return 0
    write_answer(("done", []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
