"""What a member's checks cost in clearnode-client, where the pure-Python group does the
arithmetic (the light SDK ships no native core), beside the native core of a node's
install and py-ecc's reference (what clearnode-client ran before the pure-Python group).

`python -m bench client_verify [--repeat R] [--accounts A] [--backends NAME,...]` times
`verify_report`'s checks, each run in a fresh interpreter as a member's script would (so
the generators are read anew from proofs/generators.bin by the pure-Python backends: the
fixed cost a member pays once per process):

- `own_account_ms`: one's own commitments opened and compared with one's account under
  the root of the committed report vector `member-openings` (2 accounts, m = 32 values
  each, tests/vectors/reports/): what `openings` proves, the member section;
- `report_ms`: that vector's whole check with the genesis, the anchor left out: the
  validators' signatures, every account's solvency proof (one batch), the aggregates,
  the statement recomputed, and one's own account;
- `sample_report_ms`: a report of `--accounts` accounts (default 12; the sample book of
  proofs/sample.py on a form of m = 32 values, proven here with the native core) checked
  from its validators: signatures, every proof, aggregates, clearing members, defaults,
  coverage; its statement read, as no genesis recomputes a sample form (that check is
  the same for every backend and part of `report_ms`).

Figures are wall-clock medians of `--repeat` runs, per backend (`pure-python`, `native`,
`py-ecc`; the last takes seconds a check).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proofs.backends import get_backends

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "reports"
MEMBER = "0x503d11324918c1c52e90ee1e85bf56fe0038a54f"
"""The member whose openings the vector holds."""
SAMPLE_SHAPE = (3, 12, 16)  # collaterals, instruments, scenarios: 16 inputs + 16 scenarios
SAMPLE_CHAIN_ID = 4242

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
if which == "sample":
    given = json.loads((Path(folder) / "validators.json").read_text())
    validators = [VotingPower(bytes.fromhex(v["pubkey"]), v["power"]) for v in given]
else:
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
elif which == "report":
    validators = [VotingPower(v.pubkey, v.power) for v in genesis.validators]
    sections = get_sections(gens, report, validators, genesis.chain_id, genesis, None,
                            address, openings)
    ok = all(not v.failures for _, v in sections)
else:
    sections = get_sections(gens, report, validators, report.chain_id)
    ok = all(not v.failures for _, v in sections)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "ok": ok}))
"""

CHECKS = [("own", "own_account_ms"), ("report", "report_ms"), ("sample", "sample_report_ms")]


def write_sample_report(folder: Path, accounts: int) -> None:
    """A signed report of `accounts` sample accounts, and its validators, in `folder`."""
    from proofs.drafting import add_signatures, build_report, sign_report
    from proofs.native_group import FAST
    from proofs.pedersen import get_generators
    from proofs.sample import (
        SAMPLE_HEIGHT,
        SAMPLE_MARKET,
        SAMPLE_MARKET_PROOF,
        make_sample_book,
        make_sample_form,
        with_sample_ledger,
    )

    form = make_sample_form(*SAMPLE_SHAPE, seed=1)
    book = make_sample_book(form, accounts, seed=2)
    proof = with_sample_ledger(SAMPLE_MARKET_PROOF, form, book)
    report = build_report(get_generators(FAST), 1, proof.get_root(SAMPLE_MARKET), form, book,
                          b"bench", chain_id=SAMPLE_CHAIN_ID, height=SAMPLE_HEIGHT,
                          market=SAMPLE_MARKET,
                          market_proof=proof)  # fmt: skip
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)]
    report = add_signatures(report, [sign_report(report, k) for k in keys[:3]])
    (folder / "report.bin").write_bytes(report.encode())
    validators = [{"pubkey": k.public_key().public_bytes_raw().hex(), "power": 10} for k in keys]
    (folder / "validators.json").write_text(json.dumps(validators))


def time_check(backend: str, which: str, folder: Path) -> float:
    """Milliseconds of one check in a fresh interpreter (its imports not counted)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend, which, str(folder), MEMBER],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found: dict[str, Any] = json.loads(done.stdout)
    assert found["ok"], f"{backend} {which}: the report does not verify"
    return float(found["ms"])


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench client_verify")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=12, help="the sample report's (even)")
    parser.add_argument("--backends", default=",".join(get_backends()))
    args = parser.parse_args(argv)
    figures: dict[str, object] = {
        "accounts": 2, "sample_accounts": args.accounts, "repeat": args.repeat,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp)
        write_sample_report(sample, args.accounts)
        for backend in args.backends.split(","):
            for which, name in CHECKS:
                folder = sample if which == "sample" else VECTORS / "member-openings"
                runs = [time_check(backend, which, folder) for _ in range(args.repeat)]
                figures[f"{backend}_{name}"] = round(statistics.median(runs))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:])))
