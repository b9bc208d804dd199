"""The browser verifier in headless Chromium against `clearnode verify` on one report.

`python -m bench verifier_page [REPORT.bin GENESIS.json]` (default: the committed valid
vector, tests/vectors/reports/valid) opens the page `make install` built
(node/verifier/verify.html) from a file, as a member's saved copy, and verifies the
report with the genesis: the first run in a fresh tab (cold: wasm compiled, generators
derived) and the median of three more (warm); then the CLI's own check of the same.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from node.verifier.service import PAGE
from proofs import report_check
from proofs.report import decode_report
from tests.node.reports.support import run_verify
from tests.web.verifier.cdp import open_browser

VECTOR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "reports"
DEFAULT_FILES = (VECTOR / "valid" / "report.bin", VECTOR / "genesis.json")
WARM_RUNS = 3


def run(argv: list[str]) -> dict[str, Any]:
    report_file, genesis_file = (Path(argv[0]), Path(argv[1])) if argv else DEFAULT_FILES
    if not PAGE.exists():
        raise SystemExit("the verifier page is not built: run `make install`")
    report = report_file.read_bytes()
    genesis = genesis_file.read_text()
    # the full check on the genesis's next day: the same work whenever the bench runs
    now = ["--now", str(json.loads(genesis)["genesis_time_ms"] + 86_400_000)]
    args = ", ".join(json.dumps(x) for x in (report.hex(), genesis))
    call = f"window.clearnodeVerifier.verify({args}, '', undefined, '', {{nowMs: {now[1]}}})"
    timings = []
    with open_browser() as browser:
        tab = browser.open_page(PAGE.as_uri())
        for _ in range(1 + WARM_RUNS):
            started = time.perf_counter()
            outcome = browser.evaluate(tab, call)["outcome"]
            timings.append(1000 * (time.perf_counter() - started))
    started = time.perf_counter()
    code, _ = run_verify([str(report_file), "--genesis", str(genesis_file), *now])
    cli_ms = 1000 * (time.perf_counter() - started)
    return {
        "page_bytes": PAGE.stat().st_size,
        "accounts": len(decode_report(report).accounts),
        "outcome": outcome,
        "cli_valid": code == report_check.EXIT_VALID,
        "page_cold_ms": round(timings[0]),
        "page_warm_ms": round(statistics.median(timings[1:])),
        "cli_in_process_ms": round(cli_ms),
    }
