"""`clearnode wal repair --home DIR` (docs/operator.md, "WAL repair"): a torn tail is cut at
the last whole frame, a copy of the file kept; a whole log is left as it is; a home a node
runs on is refused. `clearnode start` holds its home, and names the command when its WAL
is torn."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import trio

from consensus.wal import FileWalStorage, Wal, encode_frame
from node.commands import main
from node.home_lock import hold_home
from tests.node.netproc import CLEARNODE, ROOT, ProcessNetwork, running
from tests.node.test_network_processes import wait_until

RECORDS = [b"height 1", b"vote", b"x" * 300]
TORN_TAILS = {
    "truncated frame header": b"\x00\x00\x01",
    "truncated frame payload": (100).to_bytes(4, "big") + b"\x00" * 14,
    "checksum mismatch": encode_frame(b"precommit")[:-1] + b"?",
}
"""What a power cut mid-append leaves after the whole frames, by what the reader says."""


def make_home(tmp_path: Path) -> tuple[Path, Path]:
    """A home as `init --ceremony` makes it, and where its WAL is."""
    home = tmp_path / "home"
    assert main(["init", "--ceremony", "--home", str(home)]) == 0
    return home, home / "data" / "consensus.wal"


def write_wal(path: Path, tail: bytes = b"") -> bytes:
    wal = Wal(FileWalStorage(path))
    for record in RECORDS:
        wal.append(record, sync=True)
    with open(path, "ab") as log:
        log.write(tail)
    return path.read_bytes()


def repair(home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["wal", "repair", "--home", str(home)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("reason", TORN_TAILS)
def test_a_torn_tail_is_cut_at_the_last_whole_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    home, path = make_home(tmp_path)
    torn = write_wal(path, TORN_TAILS[reason])
    whole = len(torn) - len(TORN_TAILS[reason])
    assert repair(home, capsys) == (0, (
        f"clearnode wal repair: {path}: cut at byte {whole} of {len(torn)} ({reason}): "
        f"3 whole records kept, the torn tail's {len(torn) - whole} bytes dropped; the file "
        f"as it was is {path}.before-repair. Start the node again.\n"
    ))  # fmt: skip
    assert Wal(FileWalStorage(path)).records == RECORDS  # opens: no WalCorrupted
    assert path.stat().st_size == whole
    assert Path(f"{path}.before-repair").read_bytes() == torn


def test_a_whole_or_absent_wal_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, path = make_home(tmp_path)
    assert repair(home, capsys) == (
        0, f"clearnode wal repair: {path}: no WAL (this node never ran); nothing to repair\n"
    )  # fmt: skip
    assert not path.exists()
    whole = write_wal(path)
    assert repair(home, capsys) == (0, (
        f"clearnode wal repair: {path}: whole, 3 records in {len(whole)} bytes; "
        "nothing to repair\n"
    ))  # fmt: skip
    assert path.read_bytes() == whole and not Path(f"{path}.before-repair").exists()


def test_a_home_held_by_another_process_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, path = make_home(tmp_path)
    torn = write_wal(path, TORN_TAILS["checksum mismatch"])
    with hold_home(home):  # another open file description: as another process would
        assert repair(home, capsys) == (2, (
            f"clearnode wal repair: {home}: a node runs on this home (it holds its lock); "
            "stop it first\n"
        ))  # fmt: skip
    assert path.read_bytes() == torn and not Path(f"{path}.before-repair").exists()
    assert repair(home, capsys)[0] == 0  # the holder gone, the lock is free


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLEARNODE), *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.beside_networks  # one validator, a quorum alone: no peer's timeout to miss
async def test_a_running_node_holds_its_home_and_a_torn_wal_is_repaired_by_command(
    tmp_path: Path,
) -> None:
    """One validator (a quorum alone) run by `clearnode start`: repair and a second start
    are refused while it runs; killed with a torn WAL, it refuses to start, naming the
    command; repaired, it starts and commits again."""
    with running(ProcessNetwork(tmp_path, validators=1)) as net:
        (home,) = net.homes
        await wait_until("a commit", lambda: len(home.get_roots()) >= 2)
        held = f"{home.path}: a node runs on this home (it holds its lock); stop it first"
        for command in ("wal repair", "start"):
            argv = [*command.split(), "--home", str(home.path)]
            done = await trio.to_thread.run_sync(run_cli, *argv)
            assert (done.returncode, done.stdout) == (2, f"clearnode {command}: {held}\n")
        net.kill(home)
        tip = len(home.get_roots())
        wal = home.path / "data" / "consensus.wal"
        with open(wal, "ab") as log:  # the power went mid-append
            log.write(TORN_TAILS["truncated frame payload"])
        done = await trio.to_thread.run_sync(run_cli, "start", "--home", str(home.path))
        last = done.stderr.splitlines()[-1]  # after the JSON log lines, no traceback
        assert done.returncode == 2 and "Traceback" not in done.stderr, done
        assert last.startswith(f"clearnode start: WAL {wal} is corrupted at byte offset"), last
        assert last.endswith(
            f"`clearnode wal repair --home {home.path}` does it (docs/operator.md)"
        )
        done = await trio.to_thread.run_sync(run_cli, "wal", "repair", "--home", str(home.path))
        assert done.returncode == 0 and "whole records kept" in done.stdout, done
        net.start(home)
        await wait_until("commits after the repair", lambda: len(home.get_roots()) > tip + 1)
