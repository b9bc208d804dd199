"""`clearnode verify` and `python -m proofs.verify`: verdicts and exit codes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from node.commands import main as clearnode_main
from proofs.openings import get_member_openings
from proofs.report_check import EXIT_INVALID, EXIT_PARTIAL, EXIT_USAGE
from proofs.verify import main
from tests.proofs.conftest import CHAIN_ID, EPOCH, SEED, Fixture

ROOT = Path(__file__).resolve().parents[2]
# a sample report has no genesis: its validators stand in for one, and the member says
# what that leaves out
WEAK = ["--skip", "statement,anchor"]
PARTIAL = (
    "VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: the statement recomputed from the "
    "genesis; the state root followed to the chain within the trusting period"
)


@pytest.fixture
def files(signed: Fixture, tmp_path: Path) -> dict[str, Path]:
    report = tmp_path / "report.bin"
    report.write_bytes(signed.report.encode())
    validators = tmp_path / "genesis.json"
    validators.write_text(
        json.dumps(
            {
                "chain_id": CHAIN_ID,
                "validators": [
                    {"pubkey": "0x" + v.public_key.hex(), "power": v.power}
                    for v in signed.validators
                ],
            }
        )
    )
    owner = signed.report.accounts[0].owner
    accounts = {sub: signed.book[(o, sub)] for (o, sub) in signed.book if o == owner}
    openings = get_member_openings(
        SEED, EPOCH, owner, signed.report.statement.input_labels, accounts
    )
    opened = tmp_path / "openings.json"
    opened.write_text(json.dumps(openings.to_json()))
    return {"report": report, "validators": validators, "openings": opened}


def test_valid_report_and_openings(
    files: dict[str, Path], signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    member = "0x" + signed.report.accounts[0].owner.hex()
    argv = [
        str(files["report"]),
        "--validators",
        str(files["validators"]),
        "--member",
        member,
        "--openings",
        str(files["openings"]),
        *WEAK,
    ]
    assert main(argv) == EXIT_PARTIAL
    out = capsys.readouterr().out
    assert out.startswith(PARTIAL + "\nno genesis: the validator set of the file given (sha256 0x")
    assert "FAIL" not in out
    # a sample statement has no genesis to be recomputed from, nor its openings an account
    # under a real state root, and says so, at the end, with what the member skipped
    not_checked = out.split("\nnot checked\n")[1].splitlines()
    assert [line.split("  ")[1] for line in not_checked] == ["not asked"] * 6
    assert "not asked  state root not followed to the chain: no genesis hash" in not_checked[0]
    assert "not asked  statement not checked: its rows" in not_checked[1]
    assert "not asked  reserves: without --genesis the vaults are not known" in not_checked[2]
    assert "not asked  your openings not compared with your account" in not_checked[3]
    assert not_checked[4:] == [
        "  not asked  the statement recomputed from the genesis: skipped (--skip statement)",
        "  not asked  the state root followed to the chain within the trusting period: skipped "
        "(--skip anchor)",
    ]
    assert f"ok    report is for chain {CHAIN_ID}" in out
    assert f"validator signatures over chain {CHAIN_ID}, epoch {EPOCH}" in out
    assert clearnode_main(["verify", *argv]) == EXIT_PARTIAL


def test_the_weak_check_is_refused_unless_asked_for_by_name(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Copied from a page without a genesis, the command checks nothing and says what to
    add; a validator set alone stands in for the genesis only when the member skips what
    needs one."""
    report, validators = str(files["report"]), str(files["validators"])
    assert main([report]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "the full check needs the chain's genesis: add --genesis FILE, or --node URL " in err
    assert "--skip statement,anchor" in err
    assert main([report, "--validators", validators]) == EXIT_USAGE
    assert "--validators stands in for a genesis only with --skip statement" in (
        capsys.readouterr().err
    )
    assert main([report, "--validators", validators, "--skip", "statement"]) == EXIT_USAGE
    assert "add --checkpoint HEIGHT:TIME_MS:HASH, or --skip anchor" in capsys.readouterr().err
    assert main([report, "--validators", validators, "--skip", "statement,proofs"]) == EXIT_USAGE
    assert "--skip 'statement,proofs': no check proofs" in capsys.readouterr().err
    assert main([report, "--validators", validators, *WEAK]) == EXIT_PARTIAL


def test_tampered_report_names_what_failed(
    files: dict[str, Path], signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    aggregates = list(signed.report.aggregates)
    aggregates[0] = dataclasses.replace(aggregates[0], total=aggregates[0].total + 1)
    tampered = dataclasses.replace(signed.report, aggregates=tuple(aggregates))
    files["report"].write_bytes(tampered.encode())
    argv = [str(files["report"]), "--validators", str(files["validators"]), *WEAK]
    assert main(argv) == EXIT_INVALID
    out = capsys.readouterr().out
    assert "FAIL  invalid signature" in out
    assert f"FAIL  sum of commitments to {aggregates[0].label!r}" in out
    assert "VERDICT: INVALID (" in out


def test_undecodable_report_is_invalid_and_bad_usage_is_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x93\x01\x02")
    weak = ["--validators", str(files["validators"]), *WEAK]
    assert main([str(junk), *weak]) == EXIT_INVALID
    assert main([str(tmp_path / "missing.bin"), *weak]) == EXIT_USAGE
    assert main([str(files["report"]), "--member", "0x12", *weak]) == EXIT_USAGE
    member = ["--member", "0x" + "ab" * 20, "--openings", str(files["openings"])]
    assert main([str(files["report"]), *member, *weak]) == EXIT_INVALID
    assert main([]) == EXIT_USAGE  # neither a report nor --account-proof


def test_module_entry_point_runs_as_a_process(files: dict[str, Path]) -> None:
    hexed = files["report"].with_suffix(".json")
    hexed.write_text(json.dumps({"report": files["report"].read_bytes().hex()}))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "proofs.verify",
            str(hexed),
            "--validators",
            str(files["validators"]),
            *WEAK,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_PARTIAL, done.stdout + done.stderr
    assert done.stdout.startswith(PARTIAL)


def test_known_account_values_are_compared(
    files: dict[str, Path], signed: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = signed.report.accounts[0].owner
    labels = signed.report.statement.input_labels
    known = {
        str(sub): dict(zip(labels, signed.book[(o, sub)], strict=True))
        for (o, sub) in signed.book
        if o == owner
    }
    path = tmp_path / "known.json"
    path.write_text(json.dumps(known))
    argv = [
        str(files["report"]),
        "--member",
        "0x" + owner.hex(),
        "--openings",
        str(files["openings"]),
        "--known",
        str(path),
        "--validators",
        str(files["validators"]),
        *WEAK,
    ]
    assert main(argv) == EXIT_PARTIAL
    first = next(iter(known))
    known[first]["cash"] += 1
    path.write_text(json.dumps(known))
    assert main(argv) == EXIT_INVALID
    assert "'cash' is" in capsys.readouterr().out
    path.write_text("[1, 2]")
    assert main(argv) == EXIT_USAGE


def test_a_report_of_another_chain_is_invalid(
    files: dict[str, Path], signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chain comes from the validators' file given, or --chain-id; the report names its
    own."""
    report, validators = str(files["report"]), str(files["validators"])
    weak = [report, "--validators", validators, *WEAK]
    assert main([*weak, "--chain-id", str(CHAIN_ID + 1)]) == EXIT_INVALID
    assert f"FAIL  report is for chain {CHAIN_ID}, not chain {CHAIN_ID + 1}" in (
        capsys.readouterr().out
    )
    genesis = json.loads(files["validators"].read_text())
    files["validators"].write_text(json.dumps({**genesis, "chain_id": CHAIN_ID + 1}))
    assert main(weak) == EXIT_INVALID
    files["validators"].write_text(json.dumps(genesis["validators"]))  # a bare list
    assert main(weak) == EXIT_PARTIAL
    assert f"not asked  chain id {CHAIN_ID} read from the report" in capsys.readouterr().out
    assert main([*weak, "--chain-id", str(CHAIN_ID)]) == EXIT_PARTIAL


def test_a_version_1_report_is_refused(
    files: dict[str, Path], signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    files["report"].write_bytes(msgpack.packb([1, *fields[2:]], use_bin_type=True))
    argv = [str(files["report"]), "--validators", str(files["validators"]), *WEAK]
    assert main(argv) == EXIT_INVALID
    assert "report version 1 is not supported" in capsys.readouterr().out
