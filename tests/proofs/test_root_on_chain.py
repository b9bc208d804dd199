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
from proofs.report import Report, add_signatures, sign_report
from proofs.verify import EXIT_INVALID, EXIT_VALID
from tests.lightclient.support import make_anchor, make_set_change
from tests.node.reports.support import run_verify
from tests.proofs.conftest import CHAIN_ID, Fixture

HEIGHT = 70  # the sample market's height


def resign(report: Report, keys: list[Ed25519PrivateKey]) -> Report:
    unsigned = replace(report, signatures=())
    return add_signatures(unsigned, [sign_report(unsigned, k) for k in keys])


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
    assert "the anchor does not carry the change of the validator set that leads to it" in out
    assert "FAIL" not in out and "state root is the chain's" not in out


def test_a_report_signed_after_set_changes_is_followed_to_its_signers(
    signed: Fixture, tmp_path: Path
) -> None:
    """Governance added a fifth validator before the epoch's block and then removed the
    first: the genesis set signs the first change, the set it made the second; block
    H+1 is signed by the second set's, the report by the last, none of which
    `--validators genesis.json` holds."""
    keys = signed.keys
    fifth, sixth = (Ed25519PrivateKey.from_private_bytes(bytes([b]) * 32) for b in (0x55, 0x56))
    added, removed = [*keys, fifth], [*keys[2:], fifth, sixth]
    first = make_set_change(CHAIN_ID, HEIGHT - 10, keys, added)
    second = make_set_change(CHAIN_ID, HEIGHT + 3, added, removed)
    report = resign(signed.report, removed)
    anchor = make_anchor(CHAIN_ID, HEIGHT, report.state_root, added, set_changes=[first, second])
    code, out = _verify(signed, replace(report, anchor=anchor), tmp_path)
    assert code == EXIT_VALID, out
    assert (
        "ok    quorum of 4 validator signatures over chain 4242, epoch 42 and the report "
        f"hash, by the validator set in force from block {HEIGHT + 4}" in out
    )
    assert (
        "ok    validator set followed through 2 changes since the set given, each committed "
        f"by the set before it (the last in block {HEIGHT + 3})" in out
    )
    assert "precommits of 50 of 50 voting power (5 validators)" in out
    assert "not asked  state root" not in out

    code, out = _verify(signed, replace(report, anchor=replace(anchor, set_changes=(first,))),
                        tmp_path)  # fmt: skip
    assert code == EXIT_INVALID, out  # the last set is not shown: its signature is a stranger's
    assert f"FAIL  signature by {sixth.public_key().public_bytes_raw().hex()}, not in" in out


def test_a_set_change_no_quorum_of_the_set_before_it_signed_is_invalid(
    signed: Fixture, tmp_path: Path
) -> None:
    """Strangers elect themselves: the change is signed by keys the genesis does not hold."""
    strangers = [Ed25519PrivateKey.from_private_bytes(bytes([0x60 + i]) * 32) for i in range(4)]
    forged = make_set_change(CHAIN_ID, HEIGHT - 10, strangers, strangers, set_keys=signed.keys)
    report = resign(signed.report, strangers)
    anchor = make_anchor(CHAIN_ID, HEIGHT, report.state_root, strangers, set_changes=[forged])
    code, out = _verify(signed, replace(report, anchor=anchor), tmp_path)
    assert code == EXIT_INVALID, out
    assert (
        f"FAIL  validator set not followed from the set given: the validator-set change in "
        f"block {HEIGHT - 10} is not the chain's: its header is not committed: invalid commit "
        f"at height {HEIGHT - 10}: signer outside the validator set" in out
    )
    assert "FAIL  signature by" in out  # checked against the genesis set: strangers
