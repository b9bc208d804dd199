"""A member's account proof file checked against a state root: a valid one verifies, a
changed balance, another root or another height is refused with its typed error, and
`python -m proofs.verify --account-proof` says so with its exit code."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from clearing.transition.root import compute_state_root, encode_account, get_account_proof
from clearing.transition.snapshot import decode_member
from proofs.account_proof import (
    AccountProofFile,
    BadProofFile,
    NotInRoot,
    WrongHeight,
    WrongRoot,
    check_account_proof,
)
from proofs.report_check import EXIT_INVALID, EXIT_USAGE, EXIT_VALID
from proofs.verify import main
from tests.clearing.default.test_margin_call import new_box
from tests.clearing.support import USDC
from tests.node.test_api import ALICE, BOB


def proof_file(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    box = new_box()
    box.apply([box.credit(ALICE.address, USDC, 10**6), box.credit(BOB.address, USDC, 5)])
    found = get_account_proof(box.state, ALICE.address)
    assert found is not None
    account, proof = found
    obj = {
        "chainId": box.chain_id,
        "member": "0x" + ALICE.address.hex(),
        "height": box.state.height,
        "stateRoot": "0x" + compute_state_root(box.state).hex(),
        "account": "0x" + account.hex(),
        "proof": "0x" + proof.encode().hex(),
    }
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(obj))
    return path, obj


def test_a_valid_proof_verifies_and_shows_the_account(tmp_path: Path) -> None:
    path, obj = proof_file(tmp_path)
    found = AccountProofFile.from_json(path.read_bytes())
    member = check_account_proof(found, found.state_root, found.height)
    assert sum(member.sub_accounts[0].collateral.values()) == 10**6
    args = ["--account-proof", str(path), "--state-root", str(obj["stateRoot"])]
    assert main([*args, "--height", str(obj["height"])]) == EXIT_VALID


def test_a_tampered_balance_is_not_in_the_root(tmp_path: Path) -> None:
    path, _ = proof_file(tmp_path)
    found = AccountProofFile.from_json(path.read_bytes())
    member = decode_member(found.account)
    member.sub_accounts[0].cash += 1
    tampered = replace(found, account=encode_account(member))
    with pytest.raises(NotInRoot) as refused:
        check_account_proof(tampered, found.state_root)
    assert refused.value.member == ALICE.address


def test_a_wrong_root_or_height_is_refused(tmp_path: Path) -> None:
    path, obj = proof_file(tmp_path)
    found = AccountProofFile.from_json(path.read_bytes())
    other = bytes(32)
    with pytest.raises(WrongRoot) as wrong_root:
        check_account_proof(found, other)
    assert (wrong_root.value.expected, wrong_root.value.found) == (other, found.state_root)
    with pytest.raises(WrongHeight) as wrong_height:
        check_account_proof(found, found.state_root, found.height + 1)
    assert wrong_height.value.found == found.height
    assert main(["--account-proof", str(path), "--state-root", "0x" + other.hex()]) == (
        EXIT_INVALID
    )
    root = str(obj["stateRoot"])
    height = str(found.height + 1)
    assert main(["--account-proof", str(path), "--state-root", root, "--height", height]) == (
        EXIT_INVALID
    )


def test_a_file_that_is_no_proof_is_refused(tmp_path: Path) -> None:
    path, obj = proof_file(tmp_path)
    path.write_text(json.dumps({**obj, "proof": "0x00"}))
    with pytest.raises(BadProofFile):
        AccountProofFile.from_json(path.read_bytes())
    assert main(["--account-proof", str(path), "--state-root", str(obj["stateRoot"])]) == (
        EXIT_INVALID
    )
    assert main(["--account-proof", str(path)]) == EXIT_USAGE
