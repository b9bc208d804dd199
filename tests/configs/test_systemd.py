"""configs/systemd/clearnode.service: systemd accepts it (`systemd-analyze verify`, where
systemd is installed), and its command line is one `clearnode start` takes, with the
home it may write."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from node.commands import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "configs" / "systemd" / "clearnode.service"


def read_service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def test_the_unit_starts_clearnode_on_the_home_it_may_write() -> None:
    service = read_service()
    program, *argv = shlex.split(service["ExecStart"])
    assert Path(program).name == "clearnode"
    args = build_parser("start").parse_args(argv)
    assert args.command == "start"
    assert str(args.home) == service["ReadWritePaths"]
    assert service["ProtectSystem"] == "strict" and service["User"] != "root"
    # exit 2 is `clearnode start`'s refusal of a bad home or config: never restarted
    assert service["RestartPreventExitStatus"] == "2"
    # the node stops its CometBFT child in order: a stop signals the node alone
    assert service["KillMode"] == "mixed"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """Verified as installed: the command pointed at this environment's clearnode."""
    installed = UNIT.read_text().replace(
        "/opt/clearnode/.venv/bin/clearnode", str(Path(sys.executable).parent / "clearnode")
    )
    unit = tmp_path / UNIT.name
    unit.write_text(installed)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
