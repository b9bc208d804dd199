"""Reports: completeness, every kind of tampering rejected, signatures, encoding."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack
import pytest

from clearing.attestation import Attestation
from clearing.errors import BadSignature
from clearing.governance.configuration import MAX_CONFIGURATION_BYTES
from clearing.report_commitment import (
    ReportCommitment,
    check_report_commitment,
    compute_report_signing_bytes,
)
from clearing.state import DefaultRecord
from clearing.transition.reported_accounts import AccountKey
from devnet.sandbox import Sandbox
from proofs.aggregate import AggregateEntry, AggregateError
from proofs.bulletproofs import prove_range
from proofs.checks import verify_report
from proofs.drafting import add_signatures, build_report, complete_report, draft_report, sign_report
from proofs.errors import ProverError, ReportDecodeError
from proofs.group import R
from proofs.report import (
    REPORT_VERSION,
    AccountEntry,
    Report,
    UnsupportedReportVersion,
    ValidatorSignature,
    VotingPower,
    decode_report,
)
from proofs.sample import SAMPLE_HEIGHT, SAMPLE_MARKET
from proofs.statement import SolvencyStatement, start_transcript
from tests.clearing.support import new_sandbox
from tests.lightclient.support import anchor_report
from tests.proofs.conftest import CHAIN_ID, EPOCH, MARKET_PROOF, SEED, STATE_ROOT, Fixture


def _replace_account(report: Report, index: int, **changes: object) -> Report:
    accounts = list(report.accounts)
    accounts[index] = dataclasses.replace(accounts[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(report, accounts=tuple(accounts))


def _failures(f: Fixture, report: Report, with_validators: bool = False) -> list[str]:
    verdict = verify_report(f.gens, report, f.validators if with_validators else None)
    return verdict.failures


def build_sample(signed: Fixture, book: Mapping[AccountKey, Sequence[int]], **extra: Any) -> Report:
    """The sample report of `book` (the fixture's epoch, root, form, seed, chain, market)."""
    return build_report(
        signed.gens, EPOCH, STATE_ROOT, signed.form, book, SEED,
        chain_id=CHAIN_ID, height=SAMPLE_HEIGHT, market=SAMPLE_MARKET, market_proof=MARKET_PROOF,
        **extra,
    )  # fmt: skip


def test_honest_report_verifies_and_round_trips(signed: Fixture) -> None:
    verdict = verify_report(signed.gens, signed.report, signed.validators)
    assert verdict.ok, verdict.failures
    assert decode_report(signed.report.encode()) == signed.report


def test_building_is_deterministic(signed: Fixture) -> None:
    again = build_sample(signed, signed.book)
    assert again.get_hash() == signed.report.get_hash()


def test_proofs_made_elsewhere_complete_the_same_report(signed: Fixture) -> None:
    """Validators proving an epoch between them: the parts make the report one node
    builds alone, byte for byte; a forged or malformed proof, or one made for another
    account, is refused and its account proven here."""
    draft = draft_report(signed.gens, EPOCH, STATE_ROOT, signed.form, signed.book, SEED,
                         chain_id=CHAIN_ID, height=SAMPLE_HEIGHT, market=SAMPLE_MARKET,
                         market_proof=MARKET_PROOF)  # fmt: skip
    keys = list(draft.jobs)
    halves = [draft.prove(keys[:2]), draft.prove(keys[2:])]
    report, refused = complete_report(signed.gens, draft, {**halves[0], **halves[1]})
    unsigned = dataclasses.replace(signed.report, signatures=(), anchor=None)
    assert (report.encode(), refused) == (unsigned.encode(), [])
    partial, refused = complete_report(signed.gens, draft, halves[0])
    assert (partial.encode(), refused) == (unsigned.encode(), [])

    forged = bytearray(halves[1][keys[2]])
    forged[-1] ^= 1  # the last scalar: still decodes
    bad = {keys[0]: halves[1][keys[3]], keys[2]: bytes(forged), keys[3]: b"short"}
    report, refused = complete_report(signed.gens, draft, {**halves[0], **bad})
    assert (report.encode(), refused) == (unsigned.encode(), sorted([keys[0], keys[2], keys[3]]))


def test_changed_commitment_is_rejected(signed: Fixture) -> None:
    entry = signed.report.accounts[0]
    other = signed.report.accounts[1].commitments[2]
    tampered = _replace_account(
        signed.report, 0, commitments=(*entry.commitments[:2], other, *entry.commitments[3:])
    )
    failures = _failures(signed, tampered)
    assert any("solvency proof does not verify" in f for f in failures)
    assert any("does not open to the published total" in f for f in failures)


def test_changed_proof_byte_is_rejected(signed: Fixture) -> None:
    entry = signed.report.accounts[2]
    for position in (0, 100, 200, 300, len(entry.proof) - 1):
        proof = bytearray(entry.proof)
        proof[position] ^= 0x04
        failures = _failures(signed, _replace_account(signed.report, 2, proof=bytes(proof)))
        assert any(entry.describe() in f for f in failures), position


@pytest.mark.parametrize("change", ["row", "offset", "drop_scenario", "label"])
def test_changed_statement_is_rejected(signed: Fixture, change: str) -> None:
    st = signed.report.statement
    rows = [list(r) for r in st.rows]
    offsets = list(st.offsets)
    labels = list(st.input_labels)
    if change == "row":
        rows[1][3] += 1
    elif change == "offset":
        offsets[0] -= 1
    elif change == "drop_scenario":
        rows.pop()
    else:
        labels[-1] = "position:OTHER"
    statement = SolvencyStatement(tuple(labels), tuple(offsets), tuple(map(tuple, rows)))
    tampered = dataclasses.replace(signed.report, statement=statement)
    failures = _failures(signed, tampered, with_validators=True)
    assert any("invalid signature" in f for f in failures)
    assert any("solvency proof does not verify" in f or "malformed" in f for f in failures)


@pytest.mark.parametrize("field", ["blinding_sum", "total"])
def test_changed_aggregate_is_rejected(signed: Fixture, field: str) -> None:
    aggregates = list(signed.report.aggregates)
    first = aggregates[0]
    aggregates[0] = dataclasses.replace(first, **{field: getattr(first, field) + 1})
    tampered = dataclasses.replace(signed.report, aggregates=tuple(aggregates))
    failures = _failures(signed, tampered)
    assert failures and all(first.label in f for f in failures)


def test_missing_aggregate_or_unflat_book_is_rejected(signed: Fixture) -> None:
    tampered = dataclasses.replace(signed.report, aggregates=signed.report.aggregates[1:])
    assert any("aggregates cover" in f for f in _failures(signed, tampered))
    flat = signed.report.aggregates
    last = flat[-1]
    assert last.label.startswith("position:")
    unflat = (*flat[:-1], AggregateEntry(last.label, 5, last.blinding_sum))
    failures = _failures(signed, dataclasses.replace(signed.report, aggregates=unflat))
    assert any("book not flat" in f for f in failures)


def test_honest_builder_refuses_an_unflat_book(signed: Fixture) -> None:
    book = {k: list(v) for k, v in signed.book.items()}
    first = sorted(book)[0]
    book[first][-1] += 1
    book[first][0] += 10**9  # keep it solvent: only flatness is wrong
    with pytest.raises(AggregateError):
        build_sample(signed, book)


def test_an_account_in_default_is_listed_in_the_clear_and_the_rest_verifies(
    signed: Fixture,
) -> None:
    book = {k: list(v) for k, v in signed.book.items()}
    defaulter = sorted(book)[0]
    book[defaulter][0] = -(10**9)
    report = build_sample(signed, book)
    assert [d.key for d in report.in_default] == [defaulter]
    assert report.in_default[0].inputs == tuple(book[defaulter])
    assert defaulter not in {a.key for a in report.accounts}
    verdict = verify_report(signed.gens, report, None)
    assert verdict.ok, verdict.failures
    assert decode_report(report.encode()) == report


def test_a_solvent_account_cannot_be_published_as_in_default(signed: Fixture) -> None:
    book = {k: list(v) for k, v in signed.book.items()}
    defaulter = sorted(book)[0]
    book[defaulter][0] = -(10**9)
    report = build_sample(signed, book)
    (entry,) = report.in_default
    healed = dataclasses.replace(entry, inputs=(10**12, *entry.inputs[1:]))
    failures = _failures(signed, dataclasses.replace(report, in_default=(healed,)))
    assert any("listed in default but meets the statement" in f for f in failures)
    moved = (*entry.inputs[:-1], entry.inputs[-1] + 1)  # its published lots changed
    failures = _failures(
        signed, dataclasses.replace(report, in_default=(dataclasses.replace(entry, inputs=moved),))
    )
    assert any("book not flat" in f for f in failures)


def test_an_out_of_range_input_is_still_refused(signed: Fixture) -> None:
    book = {k: list(v) for k, v in signed.book.items()}
    book[sorted(book)[0]][0] = 2**70
    with pytest.raises(ProverError):
        build_sample(signed, book)


@pytest.mark.parametrize("case", ["insolvent", "too_large", "wrapped_position"])
def test_forged_proof_of_an_out_of_range_value_is_rejected(signed: Fixture, case: str) -> None:
    """A cheating prover commits to the real inputs but proves the values reduced
    into [0, 2^64) (what a wrap-around would need); verification rejects it."""
    report = signed.report
    st = report.statement
    index = 0
    entry = report.accounts[index]
    inputs = list(signed.book[entry.key])
    if case == "insolvent":
        inputs[0] = -(10**12)
    elif case == "too_large":
        inputs[1] = 2**64  # collateral: offset 0, so the range value is 2^64
    else:
        inputs[-1] = R - 2**70  # a short position of 2^70 lots, wrapped mod the group order
    from proofs.drafting import get_blindings

    blindings = get_blindings(SEED, EPOCH, entry.key, st.input_labels)
    commitments = tuple(
        signed.gens.group.encode(signed.gens.commit(x, r))
        for x, r in zip(inputs, blindings, strict=True)
    )
    values = [v % R % (1 << 64) for v in st.compute_values(inputs)]
    transcript = start_transcript(st, report.get_context(entry), commitments)
    forged = prove_range(signed.gens, transcript, values, st.compute_blindings(blindings))
    tampered = _replace_account(report, index, commitments=commitments, proof=forged.encode())
    assert any("solvency proof does not verify" in f for f in _failures(signed, tampered))


def test_signatures_need_a_quorum_of_known_valid_keys(signed: Fixture) -> None:
    report = signed.report
    two = dataclasses.replace(report, signatures=report.signatures[:2])
    assert any("not more than 2/3" in f for f in _failures(signed, two, True))
    stranger = add_signatures(two, [sign_report(report, signed.keys[3])])
    assert _failures(signed, stranger, True) == []
    bad = report.signatures[0]
    forged = dataclasses.replace(bad, signature=bytes(64))
    broken = dataclasses.replace(report, signatures=(forged, *report.signatures[1:]))
    assert any("invalid signature" in f for f in _failures(signed, broken, True))
    outsider = dataclasses.replace(signed.validators[0], public_key=bytes(32))
    verdict = verify_report(signed.gens, report, [outsider, *signed.validators[1:]])
    assert any("not in the validator set" in f for f in verdict.failures)


def _clearing_box() -> Sandbox:
    """The example genesis (chain CHAIN_ID, 4 validators of power 10) at the end of EPOCH."""
    box = new_sandbox()
    assert box.chain_id == CHAIN_ID
    box.state.height = EPOCH * box.genesis.epoch_length_blocks
    return box


def _validators(box: Sandbox) -> list[VotingPower]:
    return [VotingPower(k.public_key().public_bytes_raw(), 10) for k in box.validator_keys]


def _attestations(report: Report) -> tuple[Attestation, ...]:
    return tuple(Attestation(s.public_key, s.signature) for s in report.signatures)


@pytest.mark.parametrize("other", ["chain", "epoch", "hash"])
def test_signatures_over_another_chain_epoch_or_hash_are_refused(
    signed: Fixture, other: str
) -> None:
    """A quorum signing the report's hash for another chain or epoch, or another
    hash, is no quorum here: not in proofs, not in clearing."""
    box = _clearing_box()
    report = signed.report
    chain, epoch, report_hash = CHAIN_ID, EPOCH, report.get_hash()
    if other == "chain":
        chain += 1
    elif other == "epoch":
        epoch += 1
    else:
        report_hash = bytes(32)
    message = compute_report_signing_bytes(chain, epoch, report_hash)
    signatures = [
        ValidatorSignature(k.public_key().public_bytes_raw(), k.sign(message))
        for k in box.validator_keys[:3]
    ]
    wrong = add_signatures(dataclasses.replace(report, signatures=()), signatures)
    failures = verify_report(signed.gens, wrong, _validators(box), CHAIN_ID).failures
    assert sum("invalid signature" in f for f in failures) == 3
    assert "signed power 0 of 40 is not more than 2/3" in failures
    tx = ReportCommitment(EPOCH, report.get_hash(), _attestations(wrong))
    with pytest.raises(BadSignature):
        check_report_commitment(box.state, CHAIN_ID, tx)


def test_the_published_signatures_are_the_ones_clearing_checks(signed: Fixture) -> None:
    """One signature per validator: the report's own quorum commits its hash."""
    box = _clearing_box()
    unsigned = dataclasses.replace(signed.report, signatures=())
    report = add_signatures(unsigned, [sign_report(unsigned, k) for k in box.validator_keys[:3]])
    report = anchor_report(report, box.validator_keys[:3], box.validator_keys)
    assert report.get_signing_bytes() == compute_report_signing_bytes(
        CHAIN_ID, EPOCH, report.get_hash()
    )
    assert verify_report(signed.gens, report, _validators(box), CHAIN_ID).ok
    tx = ReportCommitment(EPOCH, report.get_hash(), _attestations(report))
    check_report_commitment(box.state, CHAIN_ID, tx)  # raises if refused
    with pytest.raises(BadSignature):
        check_report_commitment(box.state, CHAIN_ID + 1, tx)


def test_a_report_relabelled_to_another_chain_is_refused(signed: Fixture) -> None:
    moved = dataclasses.replace(signed.report, chain_id=CHAIN_ID + 1)
    assert any("invalid signature" in f for f in _failures(signed, moved, True))
    verdict = verify_report(signed.gens, signed.report, signed.validators, CHAIN_ID + 1)
    assert verdict.failures == [f"report is for chain {CHAIN_ID}, not chain {CHAIN_ID + 1}"]
    assert verify_report(signed.gens, signed.report, signed.validators, CHAIN_ID).ok


def test_a_version_1_report_is_refused_with_a_typed_error(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    old = msgpack.packb([1, *fields[2:]], use_bin_type=True)
    with pytest.raises(UnsupportedReportVersion) as info:
        decode_report(old)
    assert info.value.version == 1
    assert "version 1 is not supported" in str(info.value)


def test_a_version_3_report_without_defaults_is_refused(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    old = msgpack.packb([3, *fields[1:8], fields[11]], use_bin_type=True)
    with pytest.raises(UnsupportedReportVersion, match="version 3 is not supported"):
        decode_report(old)


def test_a_version_4_report_without_its_market_is_refused_saying_why(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    old = msgpack.packb([4, *fields[1:9], fields[11]], use_bin_type=True)
    with pytest.raises(UnsupportedReportVersion) as info:
        decode_report(old)
    assert info.value.version == 4
    assert "does not carry the marks its statement is computed from" in str(info.value)
    assert f"this reads version {REPORT_VERSION}" in str(info.value)


def test_a_version_5_report_without_an_anchor_slot_is_refused_saying_why(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    old = msgpack.packb([5, *fields[1:12]], use_bin_type=True)
    with pytest.raises(UnsupportedReportVersion, match="no place for the anchor"):
        decode_report(old)


def test_a_version_6_report_without_its_configuration_is_refused_saying_why(
    signed: Fixture,
) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    accounts_root, _, _, _, _, records_hash = fields[10]
    old = msgpack.packb([6, *fields[1:10], [accounts_root, records_hash], *fields[12:]],
                        use_bin_type=True)  # fmt: skip
    with pytest.raises(UnsupportedReportVersion) as info:
        decode_report(old)
    assert info.value.version == 6
    assert "does not carry the configuration its statement is computed from" in str(info.value)


def test_a_version_7_report_without_its_roles_is_refused_saying_why(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    accounts_root, configuration, _, _, _, records_hash = fields[10]
    old = msgpack.packb([7, *fields[1:10], [accounts_root, configuration, records_hash],
                         *fields[12:]], use_bin_type=True)  # fmt: skip
    with pytest.raises(UnsupportedReportVersion, match="does not carry the clearing members"):
        decode_report(old)


def test_a_version_8_report_without_its_ledger_is_refused_saying_why(signed: Fixture) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    accounts_root, configuration, roles, _, _, records_hash = fields[10]
    old = msgpack.packb([8, *fields[1:10], [accounts_root, configuration, roles, records_hash],
                         *fields[12:]], use_bin_type=True)  # fmt: skip
    with pytest.raises(UnsupportedReportVersion, match="nothing ties its defaults"):
        decode_report(old)


def test_a_version_9_report_that_may_leave_accounts_out_is_refused_saying_why(
    signed: Fixture,
) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    accounts_root, configuration, roles, ledger, _, records_hash = fields[10]
    old = msgpack.packb([9, *fields[1:10], [accounts_root, configuration, roles, ledger,
                         records_hash], *fields[11:]], use_bin_type=True)  # fmt: skip
    with pytest.raises(UnsupportedReportVersion, match="could leave out an insolvent account"):
        decode_report(old)


def test_a_configuration_beyond_its_bound_is_a_decode_error(signed: Fixture) -> None:
    assert decode_report(signed.report.encode()).market_proof == MARKET_PROOF
    fields = msgpack.unpackb(signed.report.encode())
    fields[10][1] = b" " * (MAX_CONFIGURATION_BYTES + 1)
    with pytest.raises(ReportDecodeError, match=f"{MAX_CONFIGURATION_BYTES + 1} bytes exceeds "
                       f"cap {MAX_CONFIGURATION_BYTES}"):  # fmt: skip
        decode_report(msgpack.packb(fields, use_bin_type=True))


def test_the_market_round_trips_and_a_malformed_one_is_a_decode_error(signed: Fixture) -> None:
    decoded = decode_report(signed.report.encode())
    assert (decoded.market, decoded.height) == (SAMPLE_MARKET, SAMPLE_HEIGHT)
    fields = msgpack.unpackb(signed.report.encode())
    for bad, reason in (
        ([0, [["B", 1], ["A", 1]], []], "strictly increasing"),
        ([0, [["A", 0]], []], "mark_prices"),
        ([-1, [], []], "pricing_time_ms"),
        ([0, [], [], []], "SolvencyMarket"),
    ):
        fields[9] = bad
        with pytest.raises(ReportDecodeError, match=f"market: .*{reason}"):
            decode_report(msgpack.packb(fields, use_bin_type=True))
    fields = msgpack.unpackb(signed.report.encode())
    for height, reason in ((-1, "height -1 does not fit in uint64"), ("70", "epoch, height")):
        fields[12] = height
        with pytest.raises(ReportDecodeError, match=reason):
            decode_report(msgpack.packb(fields, use_bin_type=True))
    fields = msgpack.unpackb(signed.report.encode())
    fields[10] = [bytes(32), b"{}", b"", b"", b"", bytes(31)]
    with pytest.raises(ReportDecodeError, match=r"market: .*records_hash"):
        decode_report(msgpack.packb(fields, use_bin_type=True))


DEFAULTS = (
    DefaultRecord(7, b"\x0b" * 20, 0, 900, 500, 100, 200, 50, 30, 20, 0),
    DefaultRecord(9, b"\x0a" * 20, 1, 70, 10, 0, 0, 0, 0, 0, 60),
)


def test_defaults_are_published_checked_and_round_trip(signed: Fixture) -> None:
    report = build_sample(signed, signed.book, defaults=DEFAULTS)
    assert report.defaults == DEFAULTS and report.get_hash() != signed.report.get_hash()
    assert decode_report(report.encode()) == report
    verdict = verify_report(signed.gens, report, None)
    assert verdict.ok, verdict.failures
    assert (
        f"member 0x{'0a' * 20} sub 1 defaulted in block 9 with deficit 70: collateral 10, own "
        "default fund 0, insurance fund 0, others' default fund 0, assessments 0, "
        "deleveraging 0, uncovered 60"
    ) in verdict.passed
    short = dataclasses.replace(DEFAULTS[0], from_assessments=29)
    failures = _failures(signed, dataclasses.replace(report, defaults=(short, DEFAULTS[1])))
    assert failures == [
        f"member 0x{'0b' * 20} sub 0 defaulted in block 7 with deficit 900: collateral 500, own "
        "default fund 100, insurance fund 200, others' default fund 50, assessments 29, "
        "deleveraging 20, uncovered 0: the layers add up to 899, not the deficit"
    ]
    swapped = dataclasses.replace(report, defaults=DEFAULTS[::-1])
    assert _failures(signed, decode_report(swapped.encode())) == [
        "defaults are not strictly sorted"
    ]
    with pytest.raises(ReportDecodeError, match="not the deficit"):
        build_sample(signed, signed.book, defaults=(short,))


@pytest.mark.parametrize(
    ("change", "reason"),
    [(lambda f: f.__setitem__(1, b"\x0b"), "member"), (lambda f: f.__setitem__(3, 0), "deficit"),
     (lambda f: f.__setitem__(10, -1), "uncovered"), (lambda f: f.pop(), "11 fields")],
)  # fmt: skip
def test_a_malformed_default_is_a_decode_error(
    signed: Fixture, change: object, reason: str
) -> None:
    fields = msgpack.unpackb(signed.report.encode())
    record = DEFAULTS[0].to_fields()
    change(record)  # type: ignore[operator]
    fields[8] = [record]
    with pytest.raises(ReportDecodeError, match=f"default #0: .*{reason}"):
        decode_report(msgpack.packb(fields, use_bin_type=True))


def test_decoding_rejects_malformed_reports(signed: Fixture) -> None:
    data = signed.report.encode()
    for bad in (b"", b"\x91\x01", data[:-3], data + b"\x00"):
        with pytest.raises(ReportDecodeError):
            decode_report(bad)
    swapped = dataclasses.replace(signed.report, accounts=tuple(reversed(signed.report.accounts)))
    with pytest.raises(ReportDecodeError, match="sorted"):
        decode_report(swapped.encode())


def test_a_malformed_account_is_named(signed: Fixture) -> None:
    entry: AccountEntry = signed.report.accounts[1]
    tampered = _replace_account(signed.report, 1, proof=entry.proof[:-1])
    failures = _failures(signed, tampered)
    assert any(entry.describe() in f and "malformed" in f for f in failures)


@pytest.mark.multiprocess
@pytest.mark.beside_networks
def test_proving_in_a_process_pool_gives_the_same_report(signed: Fixture) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        pooled = build_sample(signed, signed.book, map_fn=pool.map)
    assert pooled.get_hash() == signed.report.get_hash()


def test_bisection_names_exactly_the_bad_accounts(signed: Fixture) -> None:
    tampered = signed.report
    for index in (1, 3):
        proof = bytearray(tampered.accounts[index].proof)
        proof[-1] ^= 0x01
        tampered = _replace_account(tampered, index, proof=bytes(proof))
    failures = [f for f in _failures(signed, tampered) if "solvency proof" in f]
    names = [signed.report.accounts[i].describe() for i in (1, 3)]
    assert failures == [f"{n}: solvency proof does not verify" for n in names]
