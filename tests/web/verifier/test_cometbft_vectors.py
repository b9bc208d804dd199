"""The browser verifier's CometBFT light client (web/verifier/src/cometbft.ts, anchor.ts)
on what a real CometBFT network signed and on its forgeries
(tests/lightclient/test_cometbft.py's CASES): the same hashes and the same verdicts, in the
same words, as lightclient/cometbft.py and anchor.py."""

from __future__ import annotations

from pathlib import Path

from tests.lightclient.test_cometbft import CASES, get_verdicts, to_request
from tests.web.verifier.node_cli import bundle_cli, run_cli


def test_cometbft_ts_judges_every_case_as_the_python_does(tmp_path: Path) -> None:
    bundle = bundle_cli("cometbft_cli", tmp_path)
    answer = run_cli(bundle, {"cases": [to_request(c) for c in CASES]}, timeout=60)
    for case, found in zip(CASES, answer["results"], strict=True):
        assert found == get_verdicts(case), case.name
