"""The report's state root followed to the chain: `clearnode verify` fails a report
whose root no quorum committed, says so when the report carries no anchor, and
reads the anchor only through the validator set it was given."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.commit import CommitSig
from proofs.report import Report
from proofs.verify import EXIT_INVALID, EXIT_VALID
from tests.lightclient.support import make_anchor
from tests.node.reports.support import run_verify
from tests.proofs.conftest import CHAIN_ID, Fixture

HEIGHT = 70  # the sample market's height


def _verify(signed: Fixture, report: Report, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "report.bin"
    path.write_bytes(report.encode())
    genesis = tmp_path / "genesis.json"
    validators = [
        {"pubkey": "0x" + v.public_key.hex(), "power": v.power} for v in signed.validators
    ]
    genesis.write_text(json.dumps({"chain_id": CHAIN_ID, "validators": validators}))
    return run_verify([str(path), "--validators", str(genesis)])


def test_an_anchored_root_passes_and_says_by_whom(signed: Fixture, tmp_path: Path) -> None:
    code, out = _verify(signed, signed.report, tmp_path)
    assert code == EXIT_VALID, out
    assert (
        f"ok    state root is the chain's after block {HEIGHT}: block {HEIGHT + 1}'s header "
        "commits to it, and its certificate carries precommits of 30 of 40 voting power "
        "(3 validators)" in out
    )


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("below quorum", "no quorum (signed power 20 of total 40)"),
        ("another root", "commits to state root 0x" + bytes(32).hex()),
        ("forged signature", "bad precommit signature"),
        ("stranger", "signer outside the validator set"),
        ("another chain", "is of chain 'clearnode-1'"),
        ("another height", f"header is of height {HEIGHT + 2}"),
    ],
)
def test_a_root_no_quorum_committed_is_invalid(
    signed: Fixture, tmp_path: Path, case: str, reason: str
) -> None:
    root, keys = signed.report.state_root, signed.keys
    outsider = Ed25519PrivateKey.from_private_bytes(bytes([0x77]) * 32)
    anchor = {
        "below quorum": lambda: make_anchor(CHAIN_ID, HEIGHT, root, keys[:2], set_keys=keys),
        "another root": lambda: make_anchor(CHAIN_ID, HEIGHT, bytes(32), keys),
        "another chain": lambda: make_anchor(1, HEIGHT, root, keys),
        "another height": lambda: make_anchor(CHAIN_ID, HEIGHT + 1, root, keys),
        "stranger": lambda: make_anchor(
            CHAIN_ID, HEIGHT, root, [*keys[:2], outsider], set_keys=keys
        ),
        "forged signature": lambda: make_anchor(CHAIN_ID, HEIGHT, root, keys[:3], set_keys=keys),
    }[case]()
    if case == "forged signature":
        first, second, third = anchor.commit.signatures
        forged = (first, second, CommitSig(third.validator, bytes(64)))
        anchor = replace(anchor, commit=replace(anchor.commit, signatures=forged))
    report = replace(signed.report, anchor=anchor)
    code, out = _verify(signed, report, tmp_path)
    assert code == EXIT_INVALID, out
    assert f"FAIL  state root is not the chain's after block {HEIGHT}: " in out and reason in out
    assert "solvency proofs of 4 accounts" in out  # only the anchor fails


def test_a_report_without_an_anchor_says_its_root_was_not_followed(
    signed: Fixture, tmp_path: Path
) -> None:
    code, out = _verify(signed, replace(signed.report, anchor=None), tmp_path)
    assert code == EXIT_VALID, out
    assert "not asked  state root not followed to the chain: the report carries no anchor" in out


def test_an_anchor_signed_by_a_changed_validator_set_is_not_checked(
    signed: Fixture, tmp_path: Path
) -> None:
    """Governance added a validator: block H+1 commits to (and is signed by) the new set,
    which `--validators genesis.json` does not hold; the verifier says it did not check
    rather than fail the report or pass it."""
    fifth = Ed25519PrivateKey.from_private_bytes(bytes([0x55]) * 32)
    anchor = make_anchor(CHAIN_ID, HEIGHT, signed.report.state_root, [*signed.keys, fifth])
    code, out = _verify(signed, replace(signed.report, anchor=anchor), tmp_path)
    assert code == EXIT_VALID, out
    assert (
        "not asked  state root not followed to the chain: block 71 is signed by the "
        "validator set 0x" in out
    )
    assert "the validator set changed since genesis" in out
    assert "FAIL" not in out and "state root is the chain's" not in out
