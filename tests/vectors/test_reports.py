"""The committed report vectors: `clearnode verify` gives exactly the verdict and the
failing checks each `expected.json` records, and regenerating them gives the same
bytes (so neither the vectors nor the verifier can drift unnoticed). The browser
verifier is held to the same files (tests/web/verifier/test_page.py)."""

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
    Member,
    describe,
    make_all,
)

NAMES = ["valid", *TAMPERS, *VARIANTS, *OPENINGS]


@pytest.mark.parametrize("name", NAMES)
def test_the_python_verifier_gives_the_expected_verdict(name: str) -> None:
    folder = REPORTS / name
    expected = json.loads((folder / "expected.json").read_text())
    given = expected.get("member")
    member = None if given is None else Member(given["address"], folder / given["openings"])
    assert describe(folder / "report.bin", REPORTS / "genesis.json", member) == expected["modes"]


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
def test_regenerating_gives_the_same_bytes(tmp_path: Path) -> None:
    make_all(tmp_path)
    committed = sorted(p.relative_to(REPORTS) for p in REPORTS.rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == committed
    for path in committed:
        assert (tmp_path / path).read_bytes() == (REPORTS / path).read_bytes(), path
