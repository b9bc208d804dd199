"""The committed report vectors: `clearnode verify` gives exactly the verdict and the
failing checks each `expected.json` records, byte for byte, and regenerating the reports
gives the same bytes (so neither the vectors nor the verifier can drift unnoticed). Each
vector's files are made once: its report (and openings) by the slow test, its verdicts
by the per-vector ones. The browser verifier is held to the same files
(tests/web/verifier/test_page.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.node.reports.support import MEMBERS
from tests.vectors.make_reports import (
    OPENINGS,
    REPORTS,
    TAMPERS,
    VARIANTS,
    encode_expected,
    make_inputs,
    make_world,
)

NAMES = ["valid", *TAMPERS, *VARIANTS, *OPENINGS]


@pytest.mark.parametrize("name", NAMES)
def test_the_python_verifier_gives_the_expected_verdict(name: str) -> None:
    """`expected.json` as `make_all` writes it from the committed report (which
    `test_regenerating_gives_the_same_bytes` holds to what generating it gives)."""
    folder = REPORTS / name
    made = encode_expected(folder, REPORTS / "genesis.json")
    assert made.decode() == (folder / "expected.json").read_text()


def test_each_tamper_is_caught_and_the_honest_report_passes() -> None:
    modes = {n: json.loads((REPORTS / n / "expected.json").read_text())["modes"] for n in NAMES}
    valid = modes["valid"]["genesis"]
    assert (valid["verdict"], valid["exit"], valid["failures"]) == ("VALID", 0, [])
    for name in TAMPERS:
        assert modes[name]["genesis"]["verdict"] == "INVALID", name
        assert modes[name]["genesis"]["failures"], name
    assert modes["member-openings"]["genesis"]["verdict"] == "VALID"
    assert modes["house-short"]["genesis"]["verdict"] == "VALID"
    assert (
        "  ok    the clearing house is short by 5 (an uncovered deficit)"
        in (modes["house-short"]["genesis"]["output"])
    )
    name = "account 0x" + MEMBERS[0].address.hex() + "/0"
    assert modes["wrong-opening"]["genesis"]["failures"] == [
        f"{name}: commitment to 'position:BTC-PERP' does not open to 3",
        f"{name}: 'position:BTC-PERP' opens to 3, the account holds 2",
    ]
    assert modes["forged-inclusion-proof"]["genesis"]["failures"][0].startswith(
        "your account is not proven under the report's root"
    )


@pytest.mark.slow
def test_regenerating_gives_the_same_bytes() -> None:
    """Every file but the verdicts, which the per-vector test makes and compares."""
    made = make_inputs(make_world())
    committed = sorted(p.relative_to(REPORTS) for p in REPORTS.rglob("*") if p.is_file())
    verdicts = [Path(name, "expected.json") for name in NAMES]
    assert sorted([*made, *verdicts]) == committed
    for path, data in made.items():
        assert data == (REPORTS / path).read_bytes(), path
