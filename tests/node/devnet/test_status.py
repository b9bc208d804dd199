"""Each validator's status page, fetched over HTTP during a real devnet run
after the crash and the first report, and rendered by headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from node.devnet.dashboard import Observers, PlainObserver
from node.devnet.orchestrator import Devnet, DevnetConfig, run_devnet
from node.devnet.status import StatusServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Probe:
    """Fetches validator 1's page once the crash and a report are behind us."""

    def __init__(self, status: StatusServer, shot: Path) -> None:
        self.status, self.shot, self.page = status, shot, ""

    def update(self, devnet: Devnet) -> None:
        if self.page or not devnet.reports or not devnet.waterfall_log:
            return
        url = f"{self.status.url}/validator/1"
        with urllib.request.urlopen(url, timeout=10) as answer:
            self.page = answer.read().decode()
        if CHROMIUM:
            subprocess.run(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--screenshot={self.shot}", "--window-size=1100,1500", url],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip

    def log(self, line: str) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.mark.slow
@pytest.mark.chain
def test_status_page_shows_real_data(tmp_path: Path) -> None:
    status = StatusServer()
    probe = Probe(status, tmp_path / "status.png")
    observers = Observers(PlainObserver(quiet=True), status, probe)  # type: ignore[arg-type]
    try:
        summary = run_devnet(DevnetConfig(duration_s=1, out_dir=tmp_path), observers)
    finally:
        observers.close()
    assert summary.ok, summary.failures
    page = probe.page
    assert "clearnode status: validator-1" in page
    for needle in ("validator-3", "31337", "31338", "member-5", "collateral_seized",
                   "epoch 1 at height 8", "VALID"):  # fmt: skip
        assert needle in page, needle
    assert "INVALID" not in page and "quantity" not in page  # health without positions
    # `make test` installs Debian's chromium, so a missing browser is a broken
    # set-up, not a reason to pass without the screenshot.
    assert CHROMIUM is not None, "chromium is missing: run `make test`, which installs it"
    shot = (tmp_path / "status.png").read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
