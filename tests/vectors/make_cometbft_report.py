"""Capture the CometBFT report vector: `python -m tests.vectors.make_cometbft_report`
(about a minute).

Runs `clearnode devnet --engine cometbft` as an operator would, keeps its genesis and the
first solvency report it verified, and writes them to tests/vectors/cometbft/
(`genesis.json`, `report.hex`). A report's anchor carries CometBFT's signed header and
commit, whose times and signatures differ on every run, so the vector is captured once
and committed (again whenever the report's format or what consensus signs changes);
tests/web/verifier/test_cometbft_report.py reads it and never runs this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).parent / "cometbft"
DURATION_S = 75  # the first report of 30 s epochs, built, committed and verified


def capture(out: Path) -> tuple[bytes, bytes]:
    """The devnet's genesis and the first report it served, as bytes."""
    command = [sys.executable, "-m", "node.commands", "devnet", "--engine", "cometbft", "--quiet",
               "--duration", str(DURATION_S), "--out", str(out)]  # fmt: skip
    subprocess.run(command, check=True)
    reports = sorted(out.glob("report-epoch-*.json"), key=lambda p: int(p.stem.split("-")[-1]))
    if not reports:
        raise SystemExit(f"the devnet served no report in {DURATION_S} s: see {out}")
    report = bytes.fromhex(json.loads(reports[0].read_text())["report"])
    return (out / "genesis.json").read_bytes(), report


def main() -> None:
    with tempfile.TemporaryDirectory() as base:
        genesis, report = capture(Path(base) / "devnet")
    (OUT / "genesis.json").write_bytes(genesis)
    (OUT / "report.hex").write_text(report.hex() + "\n")


if __name__ == "__main__":
    main()
