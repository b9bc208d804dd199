"""What a failed process-network test shows of its nodes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.node.node_logs import get_networks_logs, print_last_logs


def _line(level: str, logger: str, message: str) -> str:
    return json.dumps({"level": level, "logger": logger, "message": message}, separators=(",", ":"))


def write_log(home: Path) -> None:
    home.mkdir()
    lines = [
        _line("warning", "node.p2p.door", "old warning"),
        *(_line("warning", "consensus.proposal_times", f"late {i}") for i in range(9)),
        _line("error", "libp2p.protocol_muxer", "handshake noise"),
        *(_line("info", "consensus.engine", f"committed height {h} round 0") for h in (1, 2, 3)),
        _line("info", "node.api", "served"),
    ]
    (home / "node.log").write_text("\n".join(lines) + "\n")


def test_a_failed_network_prints_each_node_s_last_warnings_then_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "v0"
    write_log(home)
    print_last_logs([home, tmp_path / "never-started"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "--- v0: 15 log lines; the last warnings, then commits"
    assert [json.loads(line)["message"] for line in out[1:]] == [
        *(f"late {i}" for i in range(1, 9)),
        "committed height 2 round 0",
        "committed height 3 round 0",
    ]


@dataclass
class Network:
    homes: list[Path]


def test_a_test_s_networks_are_found_among_its_fixtures(tmp_path: Path) -> None:
    write_log(tmp_path / "v0")
    write_log(tmp_path / "v1")
    logs = get_networks_logs(
        {"tmp_path": tmp_path, "net": Network([tmp_path / "v0", tmp_path / "v1"])}
    )
    assert logs is not None
    headers = [line for line in logs.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- v{i}: 15 log lines; the last warnings, then commits" for i in (0, 1)]
    assert get_networks_logs({"tmp_path": tmp_path}) is None
