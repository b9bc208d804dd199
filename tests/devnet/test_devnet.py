"""A short devnet of 4 `clearnode start` processes and 2 anvil chains, on each consensus
engine: the summary's invariants hold; and the watcher fails a run whose
validators' roots differ from each other or from its replica's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console

from clearing.genesis import ENGINES, OUR_ENGINE
from clearnode.client import Client
from consensus.compact import compute_tx_hash
from consensus.types import Block, BlockHeader, CommitCertificate, compute_txs_hash
from devnet.config import DevnetConfig
from devnet.dashboard import PlainObserver, render
from devnet.genesis import EXAMPLE_GENESIS
from devnet.market import (
    MARKET_MAKER,
    MEETS_CALL,
    MISSES_CALL,
    get_deposits,
    get_market_makers,
    make_members,
)
from devnet.network import Devnet, NodeView
from devnet.roster import describe_roster
from devnet.sections import Services
from lightclient.anchor import COMETBFT
from node.commands import main


@pytest.mark.slow
@pytest.mark.chain
@pytest.mark.multiprocess
@pytest.mark.beside_networks
@pytest.mark.parametrize("engine", ENGINES)
def test_short_devnet_holds_every_invariant(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # as short as the script allows: the crash comes once the called longs hold their
    # positions and an epoch (about 20 s) sized the default fund, the run goes on until
    # the margin calls it opened are due and the roll (its first expiry 45 s in) is shown
    argv = ["devnet", "--engine", engine, "--duration", "30", "--epoch-blocks", "20"]
    code = main([*argv, "--quiet", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, summary["failures"]
    assert summary["ok"] and summary["failures"] == [] and summary["roots_agree"]
    assert len(summary["validators"]) == 4 and len(summary["chains"]) == 2
    assert all(v["height"] >= summary["height"] > 5 for v in summary["validators"])
    assert summary["heights_per_s"] > 0 and summary["commit_latency_p50_ms"] is not None
    events = summary["events"]
    # every member's deposit, and the insurance fund's seed deposited to the house
    assert events["collateral_credited"] == len(get_deposits(make_members(8), 2)) + 1
    assert events["trade_batch"] >= 2 and events["venue_authorisation"] == 8
    # one market maker per chain, and the BTC short's profit on the chain it never used
    assert events["withdrawal"] == events["withdrawal_paid"] == 3
    (profit,) = summary["profit_withdrawals"]
    assert "member-4 took" in profit and "on chain 31338 (deposited only on [31337])" in profit
    for chain in summary["chains"]:
        assert chain["vault"]["USDC"] == chain["deposited"]["USDC"] - chain["paid_out"]["USDC"]
    assert summary["reports"] and all(
        r["verified"] and r["member_verified"] for r in summary["reports"]
    )
    unpublished = [n for n in summary["not_exercised"] if n.startswith("reports of epochs ")]
    assert unpublished == summary["not_exercised"]  # nothing else went unexercised
    published = {r["epoch"] for r in summary["reports"]}
    for line in unpublished:  # an epoch published is never listed as not published
        assert not published & set(json.loads(line.split(":")[0].split("epochs ")[1])), line
    assert events["liquidated"] >= 1  # the member levered just short of default
    assert events["collateral_seized"] >= 1 and events["insurance_used"] >= 1  # the defaulters
    assert events.get("deleveraged", 0) + events.get("contribution_mutualised", 0) >= 1
    # no backstops: liquidated lots reach the house, a market maker's bid wins an auction
    won = [a for a in summary["auctions"] if a["outcome"] == "won"]
    makers = {f"{m.name} ({MARKET_MAKER})" for m in get_market_makers(make_members(8))}
    assert won and all(a["winner"] in makers for a in won), summary["auctions"]
    assert summary["house_flat"] and "house account flat at the end: yes" in printed
    assert summary["privacy_routes"] >= 20  # every public route read, no leak among failures
    # on CometBFT, each validator's CometBFT too: no transaction on its TCP ports (metrics),
    # its RPC socket the node's user's alone and showing it the blocks' transactions, the p2p
    # port closed to a stranger's node and open to the other validators'
    audited = [v["name"] for v in summary["validators"]] if engine == COMETBFT else []
    assert summary["cometbft_audited"] == audited
    # the crash calls both sized longs (their first calls): one meets it, one is liquidated
    calls = summary["margin_calls"]
    met = next(c for c in calls if c["member"] == f"member-6 ({MEETS_CALL})")
    assert met["outcome"] == "met" and met["ended_height"] <= met["deadline_height"]
    missed = next(c for c in calls if c["member"] == f"member-7 ({MISSES_CALL})")
    assert missed["outcome"] == "expired -> liquidated"
    assert missed["ended_height"] == missed["deadline_height"]
    # the crash defaults member-0, a clearing member with two clients: the segregated one
    # is ported to its backup, the omnibus one (no backup) closed out
    ported, closed = summary["porting"]
    assert ported.startswith("ported: client-segregated (segregated) -> member-2 (market maker)")
    assert "when member-0 (levered BTC long) defaulted" in ported
    assert closed.startswith("closed out: client-omnibus at height")
    assert ported in printed and closed in printed
    for outcome in (won[0], met, missed):
        assert outcome["line"] in printed
    assert "margin call met: member-6" in met["line"] and "margin call not met" in missed["line"]
    # the short-dated future expired and settled; the template listed the next series in
    # that block, the validators' oracle priced it and the market makers traded it. The
    # members open their positions in the live series: on a loaded machine that can be
    # after the first one's expiry (45 s in), which then settles untraded
    first, *rolled = summary["rolls"]
    assert first["listed_height"] == 0 and first["settled_height"] is not None
    assert first["final_price"] > 0
    assert rolled and rolled[0]["listed_height"] == first["settled_height"]
    assert rolled[0]["priced_height"] > rolled[0]["listed_height"]
    assert rolled[0]["traded_height"] is not None and rolled[0]["settled_height"] is None
    assert events["instrument_listed"] == len(rolled) and first["line"] in printed
    assert_stopped_in_order(tmp_path)


def assert_stopped_in_order(out: Path) -> None:
    """Each validator stopped as one SIGTERM asks (its CometBFT first, which a second
    signal's exit at once skipped, leaving a CometBFT stuck mid-block running)."""
    logs = [(home / "node.log").read_text() for home in sorted(out.glob("node*"))]
    assert len(logs) == 4
    assert all('"message":"stopped"' in log and "exiting at once" not in log for log in logs)


def make_block(height: int) -> Block:
    header = BlockHeader(
        "test", height, 1_795_219_200_000 + height, bytes(32), b"", compute_txs_hash(()), bytes(32)
    )
    return Block(header, (), None)


def make_devnet(tmp_path: Path) -> Devnet:
    services = Services("", False, False, False, False, 0.0, [])
    doc = json.loads(EXAMPLE_GENESIS.read_text())
    return Devnet(DevnetConfig(), [], [], [], doc, tmp_path, PlainObserver(True), services)


def test_the_watcher_fails_roots_that_differ(tmp_path: Path) -> None:
    net = make_devnet(tmp_path)
    block = make_block(1)
    cert = CommitCertificate(1, 0, block.hash, ()).encode()
    good = make_devnet(tmp_path)
    good.replica.apply(1, block.encode(), cert, ["0x00"] * 4)  # learn the real root
    root = "0x" + good.replica.app.last_root.hex()
    net.replica.apply(1, block.encode(), cert, [root, root, root, "0x" + "00" * 32])
    assert net.failures == [
        f"height 1: validators' state roots differ: {[root] * 3 + ['0x' + '00' * 32]}"
    ]
    other = make_devnet(tmp_path)
    other.replica.apply(1, block.encode(), cert, ["0x" + "11" * 32] * 4)
    assert other.failures == [f"height 1: the replica's root {root} != validators' 0x{'11' * 32}"]


def test_a_batch_s_commit_latency_runs_from_its_sending_to_the_first_report_of_its_block(
    tmp_path: Path,
) -> None:
    """Timed from the venue's side (a block's time on CometBFT is the height before's
    commit): the earliest node's event counts, a transaction the venue did not send
    counts nothing, and the heights applied are forgotten."""
    net = make_devnet(tmp_path)
    net.nodes = [NodeView(cast(Client, None), cast(Client, None)) for _ in range(2)]
    batch, other = b"a batch", b"someone else's"
    net.submitted_ms[compute_tx_hash(batch)] = 1_000
    net.nodes[0].seen_ms.update({7: 1_090, 8: 2_000})
    net.nodes[1].seen_ms[7] = 1_070
    assert net.get_latency_p50_ms() is None
    net.note_committed(7, [other, batch])
    assert net.latencies_ms == [70] and net.get_latency_p50_ms() == 70
    assert net.submitted_ms == {} and [v.seen_ms for v in net.nodes] == [{8: 2_000}, {}]


def test_the_dashboard_renders_what_the_watcher_saw(tmp_path: Path) -> None:
    net = make_devnet(tmp_path)
    net.prices = {"index": {"BTC/0.001": 60_000_000}, "mark": {"BTC-PERP": 60_000_100}}
    net.replica.waterfall_log.append("h9 insurance_used member-0 42")
    console = Console(record=True, width=160)
    console.print(render(net, ["a log line"]))
    text = console.export_text()
    for shown in ("clearnode devnet", "BTC-PERP", "60000100", "insurance_used", "a log line"):
        assert shown in text


@pytest.mark.slow
@pytest.mark.chain
@pytest.mark.multiprocess
@pytest.mark.beside_networks
@pytest.mark.parametrize(
    ("engine", "signum", "to_devnet_first"),
    [
        pytest.param(COMETBFT, signal.SIGINT, False, id="ctrl-c"),  # a terminal: to the group
        pytest.param(OUR_ENGINE, signal.SIGTERM, True, id="timeout"),  # to the devnet, the group
    ],
)
def test_a_signal_stops_every_process_of_the_devnet(
    engine: str, signum: signal.Signals, to_devnet_first: bool, tmp_path: Path
) -> None:
    """Ctrl-C as a terminal sends it (SIGINT to the devnet's whole process group, its anvils
    too), on CometBFT, whose validators each run one more process; SIGTERM as `timeout`
    sends it (to the devnet, then to its group: here once its validators are stopping),
    on ours. Either stops every process the run started: the validators, their proving
    workers (at work: a report every two blocks) and CometBFTs, the anvils."""
    argv = ["devnet", "--engine", engine, "--epoch-blocks", "2"]
    devnet = subprocess.Popen(
        [sys.executable, "-m", "node.commands", *argv, "--duration", "120", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a group of its own, as a shell's job
    )
    nodes: list[int] = []
    try:
        assert devnet.stdout is not None
        started_lines = []
        for line in devnet.stdout:
            if line.startswith("validators commit blocks"):
                break
            started_lines.append(line.rstrip("\n"))
        else:
            raise AssertionError(describe_early_end(started_lines, tmp_path))
        roster = describe_roster(make_members(8))  # each member's key command, at the start
        assert started_lines[started_lines.index(roster[0]) :][: len(roster)] == roster
        nodes += [p for p in get_children(devnet.pid) if " start --home " in get_command(p)]
        started = wait_for_workers(devnet.pid, len(nodes))
        kinds = Counter(get_kind(get_command(p)) for p in started)
        assert (len(nodes), kinds["anvil"], kinds["cometbft"]) == (
            4, 2, 4 if engine == COMETBFT else 0
        )  # fmt: skip
        if to_devnet_first:
            devnet.send_signal(signum)
            wait_for_line(tmp_path / "node0" / "node.log", "received SIGTERM: stopping")
        os.killpg(devnet.pid, signum)
        printed = devnet.stdout.read()
        code = devnet.wait(60)
    finally:
        kill_run(devnet, nodes, tmp_path)
    assert code == 128 + signum
    name = signal.Signals(signum).name
    assert printed.endswith("every process it started is stopped\n"), printed
    assert f"clearnode devnet: stopped by {name}; checked so far: " in printed
    assert "no invariant broken" in printed and "Traceback" not in printed
    assert not [p for p in started if is_running(p)]
    assert not get_processes_of_run(devnet.pid, nodes, tmp_path)
    assert_stopped_in_order(tmp_path)


def describe_early_end(printed: list[str], out: Path) -> str:
    """Why a devnet ended before its validators committed: what it printed, and the end of
    each validator's log (the devnet's own lines do not say why a node stalled)."""
    logs = [
        f"--- {log.relative_to(out)}, last lines:\n" + "\n".join(log.read_text().splitlines()[-30:])
        for log in sorted(out.glob("node*/node.log"))
    ]
    return "\n".join(["the devnet ended before its validators committed a block:", *printed, *logs])


def get_kind(command: str) -> str:
    """What a command line runs: "anvil", "cometbft", or the module of `python -m`."""
    program, *args = command.split()
    if Path(program).name in ("anvil", "cometbft"):
        return Path(program).name
    return args[1] if args[:1] == ["-m"] else program


def kill_run(devnet: subprocess.Popen[str], nodes: list[int], out: Path) -> None:
    """What a failed test left running: the devnet's group, while the devnet is unreaped
    (its group's id then cannot be another's), and each validator's, while it runs on
    `out` (the same)."""
    if devnet.poll() is None:
        os.killpg(devnet.pid, signal.SIGKILL)
    for node in nodes:
        if str(out) in get_command(node):
            os.killpg(node, signal.SIGKILL)
    devnet.wait()


def wait_for_workers(devnet: int, count: int) -> list[int]:
    """Every process the devnet started, once `count` proving workers run among them (the
    first epoch's); polled: the workers say nothing to the devnet."""
    for _ in range(600):
        found = get_descendants(devnet)
        if sum("node.reports.worker" in get_command(p) for p in found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {count} proving workers after 120 s")


def wait_for_line(log: Path, text: str) -> None:
    """Polled: the line is written by a process that tells this test nothing."""
    for _ in range(3000):
        if text in log.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} not in {log} after 60 s")


def get_processes_of_run(devnet: int, nodes: list[int], out: Path) -> list[str]:
    """Every live process in the devnet's process group or a validator's, or whose
    command line names the run's directory."""
    found = []
    for pid in get_pids():
        try:
            command = get_command(pid)
            state, _, group = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):  # gone meanwhile
            continue
        if state != "Z" and (int(group) in [devnet, *nodes] or str(out) in command):
            found.append(f"{pid} {command}")
    return found


def get_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def get_descendants(pid: int) -> list[int]:
    children = get_children(pid)
    return children + [d for child in children for d in get_descendants(child)]


def get_children(pid: int) -> list[int]:
    """Every thread's children (a node starts its CometBFT from a worker thread, which
    /proc/PID/task/PID/children, the main thread's, does not list)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def get_command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def is_running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # reaped
        return False
