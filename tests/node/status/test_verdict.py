"""The status page's report verdict: the public checks plus the committed hash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.validator_set import install_validators
from clearnode.client.sandbox_keys import derive_ed25519_key
from lightclient.anchor import StateAnchor
from node.reports.store import CommitRecord
from node.status import verdict as verdict_module
from node.status.verdict import ReportVerdicts, check_report
from node.storage import NodeStore
from proofs.drafting import add_signatures, build_report, sign_report
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.report import VotingPower
from proofs.sample import (
    SAMPLE_HEIGHT,
    SAMPLE_MARKET,
    SAMPLE_MARKET_PROOF,
    make_sample_book,
    make_sample_form,
    with_sample_ledger,
)
from proofs.statement import SolvencyStatement, get_statement
from tests.lightclient.support import GENESIS_HASH, make_anchor, make_set_change
from tests.node.reports.support import SEED, epoch_report_inputs, store_chain_to_anchor

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)]
VALIDATORS = [VotingPower(k.public_key().public_bytes_raw(), 10) for k in KEYS]
CHAIN_ID = 4242


def signed_report(signers: int, leave_out_a_pair: bool = False) -> tuple[bytes, bytes]:
    """A report of a two-account book signed by `signers` validators; or of a book of two
    offsetting pairs, one pair left out (the book stays flat; the root lists all four)."""
    form = make_sample_form(collaterals=1, instruments=2, scenarios=2, seed=3)
    book = make_sample_book(form, accounts=4 if leave_out_a_pair else 2, seed=4)
    market_proof = with_sample_ledger(SAMPLE_MARKET_PROOF, form, book)
    proven = dict(list(book.items())[2:] if leave_out_a_pair else book.items())
    report = build_report(
        get_generators(FAST),
        5,
        market_proof.get_root(SAMPLE_MARKET),
        form,
        proven,
        b"s" * 32,
        chain_id=CHAIN_ID,
        height=SAMPLE_HEIGHT,
        market=SAMPLE_MARKET,
        market_proof=market_proof,
    )
    report = add_signatures(report, [sign_report(report, k) for k in KEYS[:signers]])
    return report.encode(), report.get_hash()


def test_a_committed_quorum_report_is_valid() -> None:
    encoded, report_hash = signed_report(3)
    result = check_report(encoded, report_hash, VALIDATORS, CHAIN_ID, None)
    assert result["verdict"] == "VALID", result["failures"]
    assert result["epoch"] == 5 and result["accounts"] == 2


def test_uncommitted_swapped_under_signed_or_garbled_reports_are_invalid() -> None:
    encoded, report_hash = signed_report(3)
    assert "not committed" in check_report(encoded, None, VALIDATORS, CHAIN_ID, None)["failures"][0]
    swapped = check_report(encoded, bytes(32), VALIDATORS, CHAIN_ID, None)
    assert swapped["verdict"] == "INVALID" and "differs" in swapped["failures"][0]
    thin, thin_hash = signed_report(2)
    assert check_report(thin, thin_hash, VALIDATORS, CHAIN_ID, None)["verdict"] == "INVALID"
    assert (
        check_report(b"\x00garbage", report_hash, VALIDATORS, CHAIN_ID, None)["verdict"]
        == "INVALID"
    )


def test_a_report_leaving_an_account_out_is_invalid() -> None:
    encoded, report_hash = signed_report(3, leave_out_a_pair=True)
    result = check_report(encoded, report_hash, VALIDATORS, CHAIN_ID, None)
    assert result["verdict"] == "INVALID"
    assert any("is under the state root, not in the report" in f for f in result["failures"])


def test_a_report_of_another_chain_is_invalid() -> None:
    encoded, report_hash = signed_report(3)
    result = check_report(encoded, report_hash, VALIDATORS, CHAIN_ID + 1, None)
    assert result["verdict"] == "INVALID"


def test_a_report_over_a_statement_the_genesis_does_not_give_is_invalid() -> None:
    box, inputs = epoch_report_inputs()
    validators = [VotingPower(v.pubkey, v.power) for v in box.genesis.validators]

    def check(statement: SolvencyStatement) -> dict[str, Any]:
        report = build_report(
            get_generators(FAST), inputs.epoch, inputs.state_root, statement, inputs.accounts,
            SEED, chain_id=box.chain_id, height=inputs.height, market=inputs.market,
            market_proof=inputs.market_proof,
        )  # fmt: skip
        report = add_signatures(report, [sign_report(report, k) for k in box.validator_keys])
        return check_report(report.encode(), report.get_hash(), validators, box.chain_id,
                            box.genesis)  # fmt: skip

    honest = SolvencyStatement(inputs.input_labels, get_statement(inputs).offsets, inputs.rows)
    assert check(honest)["verdict"] == "VALID"
    zeroed = replace(honest, rows=tuple(tuple(0 for _ in r) for r in honest.rows))
    result = check(zeroed)
    assert result["verdict"] == "INVALID"
    assert "column 'cash': the report has 0, recomputed 2" in result["failures"][0]


async def test_a_verifier_failure_is_shown_and_the_node_goes_on(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    """The verdict is display only: a bug in the verifier (as a race in its
    generator cache once was) must not end the status service, nor the node."""

    def broken(*_: Any) -> dict[str, Any]:
        raise ValueError("msm of 4199 points and 4201 scalars")

    monkeypatch.setattr(verdict_module, "check_report", broken)
    store = SimpleNamespace(
        get_latest_epoch=lambda: 7,
        get_commit=lambda epoch: SimpleNamespace(report_hash=bytes(32), height=70),
        get_report=lambda epoch: b"report",
    )
    genesis = SimpleNamespace(validators=[], chain_id=CHAIN_ID)
    blocks = SimpleNamespace(load_block=lambda height: None)
    state = SimpleNamespace(validator_sets={}, genesis=genesis)
    verdicts = ReportVerdicts(store, blocks, genesis, GENESIS_HASH, lambda: state)  # type: ignore[arg-type]
    with trio.move_on_after(3 * verdict_module.POLL_S):
        await verdicts.run()
    latest = verdicts.get()
    assert latest["verdict"] == "NOT CHECKED" and latest["commit_height"] == 70
    assert "ValueError: msm of 4199 points" in latest["failures"][0]


@pytest.mark.parametrize("after_the_change", [False, True])
async def test_a_report_is_checked_from_the_genesis_set_to_the_one_that_checked_it(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, after_the_change: bool
) -> None:
    """Governance replaced validator-0 with validator-4 at the end of block 3 (block 4's
    header names the new set, which signs from block 5), and the new set signed the
    report. Committed in block 4, its commitment was checked by the new set: the served
    anchor carries the change and the verdict, walked from the genesis set as a member's,
    is VALID. Committed in block 3, the old set checked it: the anchor stops before the
    change, and the new set's signatures are a stranger's."""
    box, inputs = epoch_report_inputs()
    genesis_keys, new_key = box.validator_keys, derive_ed25519_key("validator-4")
    new_keys = [*genesis_keys[1:], new_key]
    records = dict(box.state.validators)
    first = records.pop(box.genesis.validators[0].pubkey)
    added = replace(first, name="validator-4", pubkey=new_key.public_key().public_bytes_raw())
    height = box.state.height
    box.state.height = 3
    install_validators(box.state, {**records, added.pubkey: added}, {})
    box.state.height = height
    report = build_report(
        get_generators(FAST), inputs.epoch, inputs.state_root, get_statement(inputs),
        inputs.accounts, SEED, chain_id=box.chain_id, height=inputs.height, market=inputs.market,
        market_proof=inputs.market_proof,
    )  # fmt: skip
    report = add_signatures(report, [sign_report(report, k) for k in new_keys])
    blocks = NodeStore(tmp_path / "node.sqlite3")
    change = make_set_change(box.chain_id, 4, genesis_keys, new_keys)
    store_chain_to_anchor(blocks, StateAnchor(change.header, change.commit))
    anchor = make_anchor(box.chain_id, inputs.height, inputs.state_root, new_keys)
    store_chain_to_anchor(blocks, anchor)
    commit = CommitRecord(inputs.epoch, report.get_hash(), 4 if after_the_change else 3)
    store = SimpleNamespace(
        get_latest_epoch=lambda: inputs.epoch,
        get_commit=lambda epoch: commit,
        get_report=lambda epoch: report.encode(),
    )
    verdicts = ReportVerdicts(store, blocks, box.genesis, GENESIS_HASH, lambda: box.state)  # type: ignore[arg-type]
    with trio.move_on_after(2 * verdict_module.POLL_S):
        await verdicts.run()
    latest = verdicts.get()
    if after_the_change:
        assert latest["verdict"] == "VALID", latest["failures"]
    else:
        assert latest["verdict"] == "INVALID"
        assert f"signature by {added.pubkey.hex()}, not in the validator set" in latest["failures"]
