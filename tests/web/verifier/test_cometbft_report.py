"""A report of a CometBFT network (tests/vectors/cometbft/: one `clearnode devnet --engine
cometbft` served, with its genesis): `clearnode verify` and the browser verifier both
follow its state root to CometBFT's chain, and both refuse it with the same words once
one precommit of the anchor's commit is forged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lightclient.cometbft import CometCommit
from proofs.report import decode_report
from tests.node.reports.support import run_verify
from tests.web.verifier.node_cli import bundle_cli, run_cli

VECTOR = Path(__file__).parents[2] / "vectors" / "cometbft"
GENESIS = VECTOR / "genesis.json"
REPORT = bytes.fromhex((VECTOR / "report.hex").read_text().strip())
NOW_MS = json.loads(GENESIS.read_text())["genesis_time_ms"] + 3_600_000


def forge_a_precommit(data: bytes) -> bytes:
    report = decode_report(data)
    assert report.anchor is not None and isinstance(report.anchor.commit, CometCommit)
    commit = report.anchor.commit
    first = next(i for i, s in enumerate(commit.signatures) if s.signature)
    sig = commit.signatures[first]
    forged = replace(sig, signature=bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    signatures = (*commit.signatures[:first], forged, *commit.signatures[first + 1 :])
    anchor = replace(report.anchor, commit=replace(commit, signatures=signatures))
    return replace(report, anchor=anchor).encode()


def test_both_verifiers_follow_a_cometbft_report_to_its_chain(tmp_path: Path) -> None:
    forged = forge_a_precommit(REPORT)
    python = []
    for name, data in (("honest", REPORT), ("forged", forged)):
        (tmp_path / name).write_bytes(data)
        code, text = run_verify(
            [str(tmp_path / name), "--genesis", str(GENESIS), "--now", str(NOW_MS)]
        )
        fails = [
            line.strip()[len("FAIL  ") :]
            for line in text.splitlines()
            if line.strip().startswith("FAIL")
        ]
        python.append((code, fails, text))
    assert python[0][0] == 0 and "state root is the chain's after block" in python[0][2], python[0][
        2
    ]
    assert python[1][0] != 0 and any("bad precommit signature" in f for f in python[1][1])
    bundle = bundle_cli("verify_cli", tmp_path)
    request = {
        "genesis_json": GENESIS.read_text(),
        "now_ms": NOW_MS,
        "reports": [REPORT.hex(), forged.hex()],
    }
    honest, forged_answer = run_cli(bundle, request, timeout=300)["results"]
    assert honest["outcome"] == "VALID", honest
    assert forged_answer["outcome"] == "INVALID"
    assert forged_answer["failures"] == python[1][1]
