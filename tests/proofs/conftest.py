"""A small signed report shared by the report, openings and CLI tests (built once)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.transition.reported_accounts import AccountKey
from proofs.drafting import add_signatures, build_report, sign_report
from proofs.native_group import FAST
from proofs.pedersen import Generators, get_generators
from proofs.report import Report, VotingPower
from proofs.sample import (
    SAMPLE_HEIGHT,
    SAMPLE_MARKET,
    SAMPLE_MARKET_PROOF,
    SampleForm,
    make_sample_book,
    make_sample_form,
    with_sample_ledger,
)
from tests.lightclient.support import anchor_report

SEED = b"validators-shared-secret"
CHAIN_ID = 4242
EPOCH = 42
FORM = make_sample_form(collaterals=2, instruments=3, scenarios=4, seed=1)
BOOK = make_sample_book(FORM, accounts=4, seed=2)
MARKET_PROOF = with_sample_ledger(SAMPLE_MARKET_PROOF, FORM, BOOK)  # the book's reserves
STATE_ROOT = MARKET_PROOF.get_root(SAMPLE_MARKET)


@dataclass(frozen=True)
class Fixture:
    gens: Generators  # type: ignore[type-arg]
    form: SampleForm
    book: dict[AccountKey, list[int]]
    report: Report
    keys: list[Ed25519PrivateKey]
    validators: list[VotingPower]


@pytest.fixture(scope="package")
def signed() -> Fixture:
    gens = get_generators(FAST)
    form, book = FORM, {k: list(v) for k, v in BOOK.items()}
    report = build_report(
        gens,
        EPOCH,
        STATE_ROOT,
        form,
        book,
        SEED,
        chain_id=CHAIN_ID,
        height=SAMPLE_HEIGHT,
        market=SAMPLE_MARKET,
        market_proof=MARKET_PROOF,
    )
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)]
    validators = [VotingPower(k.public_key().public_bytes_raw(), 10) for k in keys]
    report = anchor_report(
        add_signatures(report, [sign_report(report, k) for k in keys[:3]]), keys[:3], keys
    )
    return Fixture(gens, form, book, report, keys, validators)
