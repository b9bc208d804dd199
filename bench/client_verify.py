"""What a member's checks cost in clearnode-client, where py-ecc's reference does the group
arithmetic (the light SDK ships no native core), beside the native core of a node's install.

`python -m bench client_verify [--repeat R]` checks the committed report vector
`member-openings` (2 accounts, m = 32 values each, tests/vectors/reports/) as
`verify_report` does, each run in a fresh interpreter as a member's script would (so the
generators are decoded anew, from proofs/generators.bin for py-ecc: the fixed cost a
member pays once per process):

- `own_account_ms`: one's own commitments opened and compared with one's account under
  the report's root (what `openings` proves: the member section of `verify_report`);
- `report_ms`: the whole check with the genesis, the anchor left out: the validators'
  signatures, every account's solvency proof (one batch), the aggregates, the
  statement recomputed, and one's own account.

Figures are wall-clock medians of `--repeat` runs, per backend (`py-ecc`, `native`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from proofs.backends import get_backends

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "reports"
MEMBER = "0x503d11324918c1c52e90ee1e85bf56fe0038a54f"
"""The member whose openings the vector holds."""

SCRIPT = """
import json, sys, time
from pathlib import Path
from clearing.genesis import parse_genesis
from proofs.backends import get_backend
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, verify_member_openings
from proofs.pedersen import get_generators
from proofs.recompute import get_configured_genesis, get_scenario_names
from proofs.report import VotingPower, decode_report
from proofs.verify import get_sections

backend, which, folder, member = sys.argv[1:5]
report = decode_report((Path(folder) / "report.bin").read_bytes())
openings = MemberOpenings.from_json(json.loads((Path(folder) / "openings.json").read_text()))
genesis = parse_genesis(json.loads((Path(folder).parent / "genesis.json").read_text()))
address = bytes.fromhex(member[2:])
start = time.perf_counter()
gens = get_generators(get_backend(backend))
if which == "own":
    names = get_scenario_names(report, get_configured_genesis(report, genesis))
    verdict = verify_member_openings(gens, report, address, openings, None, names)
    verdict.add(check_member_account(report, openings))
    ok = not verdict.failures
else:
    validators = [VotingPower(v.pubkey, v.power) for v in genesis.validators]
    sections = get_sections(gens, report, validators, genesis.chain_id, genesis, None,
                            address, openings)
    ok = all(not v.failures for _, v in sections)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "ok": ok}))
"""


def time_check(backend: str, which: str) -> float:
    """Milliseconds of one check in a fresh interpreter (its imports not counted)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend, which, str(VECTORS / "member-openings"), MEMBER],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found: dict[str, Any] = json.loads(done.stdout)
    assert found["ok"], f"{backend} {which}: the vector does not verify"
    return float(found["ms"])


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench client_verify")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"accounts": 2, "repeat": args.repeat}
    for backend in get_backends():
        for which, name in (("own", "own_account_ms"), ("report", "report_ms")):
            runs = [time_check(backend, which) for _ in range(args.repeat)]
            figures[f"{backend}_{name}"] = round(statistics.median(runs))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:])))
