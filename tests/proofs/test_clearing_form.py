"""The statement accepts the clearing house's own solvency form
(clearing.risk.solvency), and a report built from it verifies."""

from __future__ import annotations

from clearing.risk.arrays import RiskArrays
from clearing.risk.solvency import get_solvency_form, get_solvency_inputs
from proofs.checks import verify_report
from proofs.drafting import build_report
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.sample import SAMPLE_HEIGHT, SAMPLE_MARKET, SAMPLE_MARKET_PROOF
from proofs.statement import SIGNED_OFFSET, get_statement


def test_report_from_the_margin_engine_form_verifies() -> None:
    arrays = RiskArrays(
        epoch=3,
        instrument_ids=("BTC-PERP", "ETH-PERP"),
        scenario_labels=("base", "up", "down"),
        values=((0, -100, 100), (0, -10, 12)),
    )
    usdc = (1, b"\x11" * 20)
    form = get_solvency_form(arrays, [usdc], {usdc: 3}, k_num=3, k_den=4)
    statement = get_statement(form)
    assert statement.offsets == (SIGNED_OFFSET, 0, SIGNED_OFFSET, SIGNED_OFFSET)
    long = get_solvency_inputs(form, 1_000, {usdc: 500}, {"BTC-PERP": 5, "ETH-PERP": -2})
    short = get_solvency_inputs(form, 2_000, {}, {"BTC-PERP": -5, "ETH-PERP": 2})
    assert form.is_solvent(long) and form.is_solvent(short)
    accounts = {(b"\x01" * 20, 0): long, (b"\x02" * 20, 0): short}
    gens = get_generators(FAST)
    report = build_report(
        gens,
        3,
        bytes(32),
        form,
        accounts,
        b"seed",
        chain_id=1,
        height=SAMPLE_HEIGHT,
        market=SAMPLE_MARKET,
        market_proof=SAMPLE_MARKET_PROOF,
    )
    verdict = verify_report(gens, report, None)
    assert verdict.ok, verdict.failures
