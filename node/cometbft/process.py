"""The `cometbft` process beside the app: found, checked to be the pinned release,
started on the node's CometBFT home, its log lines carried into the node's log, and
stopped with the node. A CometBFT that exits on its own stops the node (`CometBFTExited`):
a node that no longer orders blocks must not go on serving as if it did. A node that
dies, even by SIGKILL, takes its CometBFT with it: CometBFT stops itself when its ABCI
connections to the app close (and its next log line finds the pipe closed). One stuck
mid-block may not notice, and would keep the home's stores locked and answer on its RPC
port: the node writes its CometBFT's pid and its own in the home, and a node starting
again on that home kills one that outlived its node (`stop_outlived`). The kernel's
parent-death signal would not do: it follows the thread that started the process, and
trio starts processes from worker threads that end when idle.

CometBFT runs with umask 077: what it creates (its RPC socket, its stores of every
block's transactions) is the node's user's alone even in a home an operator opened up.

CometBFT refuses a peer of another network (chain id, which carries the genesis hash:
`lightclient.anchor.get_consensus_chain_id`) at its handshake, in a log line at info; the
node reads those lines (`find_other_network`) and warns about each such peer once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from node.cometbft.build import get_installed_version
from node.cometbft.home import RPC_SOCKET
from node.cometbft.pin import COMETBFT_VERSION

log = logging.getLogger("cometbft")

STOP_GRACE_S = 10.0
"""How long CometBFT gets to stop after SIGTERM (flushing its WAL and stores) before it is
killed."""
OUTLIVED_STOP_S = 10.0
"""How long a CometBFT that outlived its node gets to exit after SIGKILL."""
PID_FILE = "cometbft.pid"
"""In the CometBFT home: the pids of the CometBFT a node started there and of that node."""
KEPT_LINES = 20
"""Log lines kept to say why CometBFT exited."""
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}
PRIVATE_UMASK = 0o077
DIAL_RETRY = "Error reconnecting to peer. Trying again"
"""CometBFT's line (at info) for each failed redial of a persistent peer: `addr` is
`<node id>@<host>:<port>`, `err` the dial's error."""
PEER_GONE = ("EOF", "connection reset by peer", "broken pipe", "use of closed network connection")
"""A peer's connection ended by the peer (a stop, a restart), in CometBFT's `err`."""
PER_HEIGHT_CHATTER = frozenset({
    "received proposal", "received complete proposal block", "executed block",
    "finalized block", "committed state",
})  # fmt: skip
"""CometBFT's info lines that come with every height and say nothing its one line a
height, "finalizing commit of block" (height, hash, transactions), does not: logged at
debug, with the timeout every height ends in (the wait after a commit, step
RoundStepNewHeight). Kept, they were six of its seven lines a height, about 1.3 KB of
1.6. A timeout of any other step (a round that failed) stays."""
TIMED_OUT = "Timed out"
COMMIT_WAIT_STEP = "RoundStepNewHeight"
OTHER_NETWORK = re.compile(r"peer is on a different network\. Got ([^,\s]+), expected (\S+)")
"""CometBFT's words (p2p NodeInfo.CompatibleWith) for a peer whose network is not ours."""


@dataclass(frozen=True)
class OtherNetwork:
    """A peer CometBFT refused for running another network, as one of its lines says."""

    theirs: str
    ours: str
    address: str
    """`<node id>@<host>:<port>` on CometBFT's dials; empty on an inbound refusal, whose
    line names no peer."""


@dataclass(frozen=True)
class DialFailure:
    """A failed redial of a persistent peer, as CometBFT's line says (it retries every 5 s)."""

    node_id: str
    address: str
    """HOST:PORT as configured."""
    error: str
    other_network: bool = False
    """The peer runs another network: `find_other_network` reports it from the same line."""


def find_dial_failure(entry: dict[str, object]) -> DialFailure | None:
    if entry.get("_msg") != DIAL_RETRY:
        return None
    node_id, _, address = str(entry.get("addr", "")).partition("@")
    if not address:
        return None
    other = find_other_network(entry) is not None
    return DialFailure(node_id, address, str(entry.get("err", "")), other)


def get_level(entry: dict[str, object]) -> int:
    """A CometBFT line's level in our log: its own, but a height's chatter is debug and a
    peer down or restarting is no error (the node says once when a persistent peer stays
    unreachable: PeerLinks)."""
    level = LEVELS.get(str(entry.get("level", "info")), logging.INFO)
    message = entry.get("_msg")
    if message in PER_HEIGHT_CHATTER or (
        message == TIMED_OUT and entry.get("step") == COMMIT_WAIT_STEP
    ):
        return min(level, logging.DEBUG)
    if message == "Error dialing peer":
        return min(level, logging.INFO)
    if message == "Stopping peer for error":
        churn = any(word in str(entry.get("err", "")) for word in PEER_GONE)
        return min(level, logging.INFO if churn else logging.WARNING)
    return level


def find_other_network(entry: dict[str, object]) -> OtherNetwork | None:
    """The refusal of another network a CometBFT log entry (its fields but the message)
    reports, if it does."""
    found = OTHER_NETWORK.search(str(entry.get("err", "")))
    if found is None:
        return None
    return OtherNetwork(found[1], found[2], str(entry.get("addr", "")))


class CometBFTError(Exception):
    """The CometBFT binary is missing or is not the pinned release."""


class CometBFTExited(Exception):
    """CometBFT exited while the node ran; its last log lines say why."""

    def __init__(self, returncode: int, last_lines: list[str]) -> None:
        tail = "\n".join(last_lines)
        super().__init__(f"cometbft exited with code {returncode}; its last lines:\n{tail}")
        self.returncode = returncode
        self.last_lines = last_lines


class StoppedMidBlock(Exception):
    """CometBFT stopped between a block's FinalizeBlock and its Commit (killed after its
    grace): the app applied the block in memory, and a CometBFT started beside it would
    take the height as committed without the node storing it. The node stops; started
    again, it loads its store and CometBFT replays the block."""

    def __init__(self, height: int) -> None:
        super().__init__(
            f"cometbft stopped between FinalizeBlock and Commit of block {height}: the node "
            "stops, and CometBFT replays the block when it starts again"
        )
        self.height = height


def find_binary() -> Path:
    """The pinned `cometbft`: beside this Python (the venv `make install` built it into),
    else on PATH; refused if its version is not the pin."""
    beside = Path(sys.executable).parent / "cometbft"
    found = beside if beside.exists() else shutil.which("cometbft")
    if found is None:
        raise CometBFTError(f"no cometbft binary: `make install` builds {COMETBFT_VERSION}")
    version = get_installed_version(Path(found))
    if version != COMETBFT_VERSION.removeprefix("v"):
        raise CometBFTError(f"{found} is version {version!r}, this node runs {COMETBFT_VERSION}")
    return Path(found)


def log_line(line: str) -> dict[str, object]:
    """One CometBFT JSON log line as a record of the `cometbft` logger, at its level
    (`get_level`); its fields but the level and time, the message as `_msg` (none for a
    line that is no JSON object)."""
    try:
        entry = json.loads(line)
    except ValueError:
        log.info("%s", line)
        return {}
    if not isinstance(entry, dict):
        log.info("%s", line)
        return {}
    level = get_level(entry)
    entry.pop("level", None)
    entry.pop("ts", None)
    extra = " ".join(f"{k}={v}" for k, v in entry.items() if k != "_msg")
    log.log(level, "%s %s", entry.get("_msg", ""), extra)
    return entry


async def run_cometbft(
    binary: Path,
    home: Path,
    on_other_network: Callable[[OtherNetwork], None],
    on_dial_failure: Callable[[DialFailure], None] = lambda failure: None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs `cometbft start` on `home` until cancelled (then stops it: SIGTERM, a kill
    after STOP_GRACE_S); reports its pid when started, each peer its log says it refused
    for another network to `on_other_network`, and each failed redial of a persistent
    peer to `on_dial_failure`."""
    await stop_outlived(binary, home)
    remove_stale_socket(home / RPC_SOCKET)
    process = await trio.lowlevel.open_process(
        get_command(binary, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        umask=PRIVATE_UMASK,
    )
    (home / PID_FILE).write_text(f"{process.pid} {os.getpid()}\n")
    last_lines: deque[str] = deque(maxlen=KEPT_LINES)
    assert process.stdout is not None
    try:
        task_status.started(process.pid)
        buffer = b""
        async for chunk in process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                last_lines.append(line)
                entry = log_line(line)
                other = find_other_network(entry)
                if other is not None:
                    on_other_network(other)
                failure = find_dial_failure(entry)
                if failure is not None:
                    on_dial_failure(failure)
        returncode = await process.wait()
    finally:
        with trio.CancelScope(shield=True):
            await stop(process)
    raise CometBFTExited(returncode, list(last_lines))


def get_command(binary: Path, home: Path) -> list[str]:
    return [str(binary), "start", "--home", str(home)]


def get_parent(pid: int, command: list[str]) -> int | None:
    """The parent of process `pid` if it runs `command`; None if it is gone, a zombie, or
    another process that took its pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        state, parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError):
        return None
    if state == "Z" or cmdline != [part.encode() for part in command]:
        return None
    return int(parent)


async def stop_outlived(binary: Path, home: Path) -> None:
    """Kill the CometBFT a node started on this home if it outlived that node (its parent
    is no longer the node's process): CometBFT's stores recover from a kill as from a
    crash. One whose node still runs (a second node started on the home by mistake) is
    left be, and so is a pid file naming any other process."""
    try:
        pid, node_pid = (int(n) for n in (home / PID_FILE).read_text().split())
    except (OSError, ValueError):
        return
    command = get_command(binary, home)
    parent = get_parent(pid, command)
    if parent is None or parent == node_pid:
        return
    log.warning("cometbft (pid %d) outlived the node that started it on %s: killed", pid, home)
    with contextlib.suppress(ProcessLookupError):  # it may end meanwhile
        os.kill(pid, signal.SIGKILL)
    with trio.move_on_after(OUTLIVED_STOP_S):
        while get_parent(pid, command) is not None:
            await trio.sleep(0.05)
        return
    raise CometBFTError(f"cometbft (pid {pid}) on {home} runs on after SIGKILL")


def remove_stale_socket(path: Path) -> None:
    """Removes the socket file a killed CometBFT left (it would not listen over it, and
    exit): one nothing answers on. One that answers is a running CometBFT's, left be."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


async def stop(process: trio.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    with trio.move_on_after(STOP_GRACE_S):
        await process.wait()
        return
    log.error("cometbft did not stop within %.0f s of SIGTERM: killed", STOP_GRACE_S)
    process.kill()
    await process.wait()
