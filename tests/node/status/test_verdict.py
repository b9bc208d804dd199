"""The status page's report verdict: the public checks plus the committed hash."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from node.status.verdict import check_report
from proofs.group import FAST
from proofs.pedersen import get_generators
from proofs.report import Validator, add_signatures, build_report, sign_report
from proofs.sample import make_sample_book, make_sample_form

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)]
VALIDATORS = [Validator(k.public_key().public_bytes_raw(), 10) for k in KEYS]


def signed_report(signers: int) -> tuple[bytes, bytes]:
    form = make_sample_form(collaterals=1, instruments=2, scenarios=2, seed=3)
    book = make_sample_book(form, accounts=2, seed=4)
    report = build_report(
        get_generators(FAST), 5, bytes(32), form, book, b"s" * 32, chain_id=4242
    )
    report = add_signatures(report, [sign_report(report, k) for k in KEYS[:signers]])
    return report.encode(), report.get_hash()


def test_a_committed_quorum_report_is_valid() -> None:
    encoded, report_hash = signed_report(3)
    result = check_report(encoded, report_hash, VALIDATORS)
    assert result["verdict"] == "VALID", result["failures"]
    assert result["epoch"] == 5 and result["accounts"] == 2


def test_uncommitted_swapped_under_signed_or_garbled_reports_are_invalid() -> None:
    encoded, report_hash = signed_report(3)
    assert "not committed" in check_report(encoded, None, VALIDATORS)["failures"][0]
    swapped = check_report(encoded, bytes(32), VALIDATORS)
    assert swapped["verdict"] == "INVALID" and "differs" in swapped["failures"][0]
    thin, thin_hash = signed_report(2)
    assert check_report(thin, thin_hash, VALIDATORS)["verdict"] == "INVALID"
    assert check_report(b"\x00garbage", report_hash, VALIDATORS)["verdict"] == "INVALID"
