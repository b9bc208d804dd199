"""The statement recomputed, not read: reports honestly proved and signed by a quorum
over a wrong statement pass every check but the recomputation, which names the
difference.

The world is a real chain (the sandbox of the node's report tests) at the end of
its first epoch; its reports are built by the node's own path (inputs from the
state, the real prover) and signed by the genesis validators. Each wrong statement
is made with the clearing code's functions, so it is what a quorum would publish; a
report that is also a committed vector (tests/vectors/reports/, made the same way) is
read from it, its statement checked to be the one made here, not proven again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from clearing.genesis import parse_genesis
from clearing.governance.configuration import apply_configuration, encode_configuration
from clearing.risk.engine import compute_market_solvency_form, get_solvency_market
from clearing.risk.solvency import SolvencyMarket
from clearing.transition.root import MarketProof, get_market_proof, hash_configuration
from devnet.sandbox import Sandbox
from node.reports.inputs import ReportInputs
from proofs.recompute import MAX_LISTED, check_statement, compare_statement
from proofs.report import Report, decode_report
from proofs.report_check import EXIT_INVALID, EXIT_PARTIAL, EXIT_USAGE, EXIT_VALID
from proofs.statement import SolvencyStatement, get_statement
from tests.node.reports.support import (
    MARK,
    MEMBERS,
    run_verify,
    small_epoch_genesis,
)
from tests.vectors.make_reports import (
    BTC_SCAN_BPS,
    NOW_MS,
    REPORTS,
    encode_genesis,
    make_governed_report,
    make_world,
    prove_with,
    sign_with,
)

EPOCH_LENGTH = 5
SHORT = MEMBERS[1].address  # short 3 lots of BTC-PERP
BTC = "position:BTC-PERP"
WETH = "collateral:31337:0x" + "00" * 19 + "e1"
NOT_CHECKED = "statement not checked: its rows"


@dataclass(frozen=True)
class World:
    box: Sandbox
    inputs: ReportInputs
    statement: SolvencyStatement  # the honest one
    scenarios: tuple[str, ...]
    later_market: SolvencyMarket  # the market one block after the epoch's end
    later_proof: MarketProof  # ... under that block's root
    genesis_file: Path
    honest: Report


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = make_world()  # the short side in default: equity one dollar, below maintenance
    box, inputs, statement, honest = base.box, base.inputs, base.statement, base.honest
    form = compute_market_solvency_form(box.genesis, inputs.market)
    assert form is not None
    assert SHORT in [d.owner for d in honest.in_default]
    moved = dict(box.state.mark_prices, **{"BTC-PERP": MARK * 11 // 10})
    update = box.prices(dict(box.state.index_prices), moved)
    assert all(r.is_ok() for r in box.apply([update]).tx_results)
    genesis_file = tmp_path_factory.mktemp("genesis") / "genesis.json"
    genesis_file.write_bytes(encode_genesis(base.genesis))
    return World(box, inputs, statement, form.scenario_labels, get_solvency_market(box.state),
                 get_market_proof(box.state), genesis_file, honest)  # fmt: skip


def _verify(world: World, report: Report, tmp_path: Path) -> tuple[int, str, int, str]:
    """(exit, output) of `clearnode verify` with --skip statement, then the full check."""
    path = tmp_path / "report.bin"
    path.write_bytes(report.encode())
    given = [str(path), "--genesis", str(world.genesis_file), "--now", str(NOW_MS)]
    plain = run_verify([*given, "--skip", "statement"])
    checked = run_verify(given)
    return (*plain, *checked)


def _assert_attack(world: World, report: Report, tmp_path: Path, *expected: str) -> str:
    """Valid without the recomputation (the attack worked), invalid with it, naming
    each expected difference; the recomputation's output."""
    plain_code, plain, code, out = _verify(world, report, tmp_path)
    assert plain_code == EXIT_PARTIAL, plain
    assert "VERDICT: VALID ONLY AS FAR AS CHECKED" in plain and NOT_CHECKED in plain
    assert "quorum of 4 validator signatures" in plain and "FAIL" not in plain
    assert code == EXIT_INVALID, out
    assert "quorum of 4 validator signatures" in out  # only the statement fails
    for line in expected:
        assert f"FAIL  {line}" in out, out
    return out


def _with_rows(world: World, rows: list[list[int]]) -> SolvencyStatement:
    s = world.statement
    return SolvencyStatement(s.input_labels, s.offsets, tuple(tuple(r) for r in rows))


def _proven_over(world: World, name: str, statement: SolvencyStatement) -> Report:
    """`statement` proven over the epoch's accounts and signed by every validator, as
    `prove_with` makes it: the committed vector `name`, which make_reports proves so (and
    tests/vectors/test_reports.py holds to it byte for byte), read, not proven again."""
    report = decode_report((REPORTS / name / "report.bin").read_bytes())
    assert (report.statement, report.state_root) == (statement, world.inputs.state_root)
    return report


def _row(world: World, s: int, label: str) -> int:
    return world.statement.rows[s][world.statement.input_labels.index(label)]


def test_the_honest_report_is_recomputed_equal(world: World, tmp_path: Path) -> None:
    _, plain, code, out = _verify(world, world.honest, tmp_path)
    assert NOT_CHECKED in plain
    assert code == EXIT_VALID, out
    configuration = _configuration(world.honest)
    assert (f"ok    statement recomputed from the genesis with the configuration of height "
            f"{EPOCH_LENGTH} (4 instruments, {configuration}) and the marks at that height: "
            f"{len(world.statement.input_labels)} labels, {len(world.statement.rows)} scenario "
            "rows, equal to the report's") in out  # fmt: skip
    assert NOT_CHECKED not in out
    under = (f"ok    market of height 5 (4 marks, 4 index prices), {configuration} and the "
             "published roles are under")  # fmt: skip
    assert under in out and under in plain


def _configuration(report: Report) -> str:
    return f"configuration 0x{hash_configuration(report.market_proof.configuration).hex()}"


def test_zeroed_risk_arrays_prove_an_account_below_maintenance(
    world: World, tmp_path: Path
) -> None:
    j = world.statement.input_labels.index(BTC)
    rows = [[0 if k == j else c for k, c in enumerate(r)] for r in world.statement.rows]
    report = _proven_over(world, "zeroed-risk-arrays", _with_rows(world, rows))
    assert report.get_account(SHORT, 0) is not None  # proven solvent
    s = 3  # rows 0 to 2 move the BTC group by nothing
    _assert_attack(
        world, report, tmp_path,
        f"row {s} (scenario {world.scenarios[s]}), column {BTC!r}: the report has 0, "
        f"recomputed {_row(world, s, BTC)} (differs by {-_row(world, s, BTC)})",
    )  # fmt: skip


def test_one_changed_risk_array_entry(world: World, tmp_path: Path) -> None:
    s, j = 3, world.statement.input_labels.index(BTC)
    rows = [list(r) for r in world.statement.rows]
    rows[s][j] += 7
    report = _proven_over(world, "changed-risk-array-entry", _with_rows(world, rows))
    out = _assert_attack(
        world, report, tmp_path,
        f"row 3 (scenario {world.scenarios[s]}), column {BTC!r}: the report has "
        f"{rows[s][j]}, recomputed {rows[s][j] - 7} (differs by 7)",
    )  # fmt: skip
    assert out.count("FAIL") == 1


def test_a_changed_haircut_weight(world: World, tmp_path: Path) -> None:
    j = world.statement.input_labels.index(WETH)
    rows = [[c * 2 if k == j else c for k, c in enumerate(r)] for r in world.statement.rows]
    report = _proven_over(world, "changed-haircut-weight", _with_rows(world, rows))
    weight = _row(world, 0, WETH)
    _assert_attack(
        world, report, tmp_path,
        f"row 0 (scenario {world.scenarios[0]}), column {WETH!r}: the report has "
        f"{2 * weight}, recomputed {weight} (differs by {weight})",
    )  # fmt: skip


def test_a_changed_maintenance_fraction(world: World, tmp_path: Path) -> None:
    doc = small_epoch_genesis(EPOCH_LENGTH)
    assert (doc["risk"]["k_num"], doc["risk"]["k_den"]) == (1, 2)
    doc["risk"]["k_den"] = 4  # maintenance at a quarter of the initial margin, not a half
    form = compute_market_solvency_form(parse_genesis(doc), world.inputs.market)
    assert form is not None
    report = _proven_over(world, "changed-maintenance-fraction", get_statement(form))
    out = _assert_attack(
        world, report, tmp_path,
        f"row 0 (scenario {world.scenarios[0]}), column 'cash': the report has 4, "
        "recomputed 2 (differs by 2)",
    )  # fmt: skip
    assert "more differences" in out
    assert out.count("FAIL") == MAX_LISTED + 1


def test_a_missing_stress_day(world: World, tmp_path: Path) -> None:
    assert world.scenarios[-1] == "day:2020-03-13"
    rows = [list(r) for r in world.statement.rows[:-1]]
    report = _proven_over(world, "missing-stress-day", _with_rows(world, rows))
    last = len(world.statement.rows) - 1
    _assert_attack(
        world, report, tmp_path,
        f"the report has {last} scenario rows, the genesis gives {last + 1}: missing "
        f"day:2020-03-13 (row {last}); 0 rows of the report are not the genesis's",
    )  # fmt: skip


def test_the_statement_of_another_height(world: World, tmp_path: Path) -> None:
    later = world.later_market
    assert world.box.state.height == EPOCH_LENGTH + 1
    assert later.mark_prices != world.inputs.market.mark_prices
    form = compute_market_solvency_form(world.box.genesis, later)
    assert form is not None
    wrong = get_statement(form)
    # rows of the next block's marks, published with the epoch's market
    entry = wrong.rows[3][world.statement.input_labels.index(BTC)]
    out = _assert_attack(
        world, prove_with(world.box, world.inputs, wrong), tmp_path,
        f"row 3 (scenario {world.scenarios[3]}), column {BTC!r}: the report has {entry}",
    )  # fmt: skip
    assert "'position:ETH-PERP'" not in out  # its mark did not move
    # ... or with the next block's market itself, and its proof: not under the epoch's root
    later_report = replace(world.honest, market=later, market_proof=world.later_proof)
    report = sign_with(world.box, later_report)
    plain_code, plain, code, out = _verify(world, report, tmp_path)
    assert plain_code == code == EXIT_INVALID
    assert (f"FAIL  market of height {EPOCH_LENGTH}, {_configuration(report)} and the "
            "published roles are not under the state root") in plain  # fmt: skip
    # ... or under the later block's root, said to be of its height: the epoch's height is
    # the genesis's word
    moved = sign_with(world.box, replace(report, height=EPOCH_LENGTH + 1, signatures=(),
                                         state_root=world.later_proof.get_root(later)))  # fmt: skip
    plain_code, plain, code, out = _verify(world, moved, tmp_path)
    assert (f"FAIL  the report is of height {EPOCH_LENGTH + 1}, not {EPOCH_LENGTH}, the last "
            "block of epoch 1") in out  # fmt: skip
    assert "FAIL  market of" not in plain


def test_a_market_that_is_not_the_chain_s_is_caught_by_the_root(
    world: World, tmp_path: Path
) -> None:
    market = world.inputs.market
    dropped = replace(market, mark_prices=market.mark_prices[1:])
    moved = replace(market, mark_prices=((market.mark_prices[0][0], 1), *market.mark_prices[1:]))
    for wrong in (dropped, moved):
        # the proofs do not depend on the market: the same proofs, re-signed
        report = sign_with(world.box, replace(world.honest, market=wrong, signatures=()))
        plain_code, plain, code, _ = _verify(world, report, tmp_path)
        assert plain_code == code == EXIT_INVALID, plain
        assert (f"FAIL  market of height 5, {_configuration(report)} and the published roles "
                "are not under") in plain  # fmt: skip
    assert (f"FAIL  market mark_prices do not price the genesis's ids: missing "
            f"[{market.mark_prices[0][0]!r}], not in the genesis []") in _verify(
        world, sign_with(world.box, replace(world.honest, market=dropped, signatures=())), tmp_path
    )[3]  # fmt: skip


def test_without_a_genesis_the_statement_is_said_unchecked(world: World) -> None:
    verdict = check_statement(world.honest, None)
    assert verdict.ok
    assert verdict.passed == [
        f"market of height 5 (4 marks, 4 index prices), {_configuration(world.honest)} and the "
        "published roles are under the state root"
    ]
    assert verdict.not_checked == [
        "statement not checked: its rows (risk arrays, haircut weights, maintenance fraction, "
        "stress days) are the report's word, not recomputed from the genesis"
    ]


def test_a_bad_genesis_file_is_a_usage_error(world: World, tmp_path: Path) -> None:
    path = tmp_path / "report.bin"
    path.write_bytes(world.honest.encode())
    bad = tmp_path / "genesis.json"
    bad.write_text(json.dumps({**small_epoch_genesis(EPOCH_LENGTH), "version": 99}))
    assert run_verify([str(path), "--genesis", str(bad)])[0] == EXIT_USAGE


def test_a_genesis_of_another_hash_is_refused(world: World, tmp_path: Path) -> None:
    """The genesis is pinned by the hash the network publishes: a copy with one byte
    changed (here, a space) is another genesis, refused before anything is checked."""
    path = tmp_path / "report.bin"
    path.write_bytes(world.honest.encode())
    published = hashlib.sha256(world.genesis_file.read_bytes()).hexdigest()
    argv = [str(path), "--now", str(NOW_MS), "--genesis-hash", published, "--genesis"]
    code, out = run_verify([*argv, str(world.genesis_file)])
    assert code == EXIT_VALID, out
    assert out.splitlines()[:2] == [
        "VERDICT: VALID",
        f"genesis 0x{published} (the file given, as --genesis-hash pins)",
    ]
    copy = tmp_path / "genesis.json"
    copy.write_bytes(world.genesis_file.read_bytes() + b" ")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert run_verify([*argv, str(copy)])[0] == EXIT_USAGE
    assert (f"usage error: {copy} is genesis 0x{hashlib.sha256(copy.read_bytes()).hexdigest()}, "
            f"not 0x{published} as --genesis-hash says: not the network's genesis") in (
        err.getvalue()
    )  # fmt: skip


def test_a_genesis_of_another_chain_gives_no_statement(world: World) -> None:
    other = replace(world.box.genesis, chain_id=world.box.chain_id + 1)
    assert compare_statement(world.honest, other) == [
        f"the genesis is of chain {world.box.chain_id + 1}, the report of chain "
        f"{world.box.chain_id}: no statement to compare"
    ]
    assert compare_statement(world.honest, world.box.genesis) == []


def test_after_a_governance_change_the_statement_is_recomputed_from_the_governed_one(
    world: World, tmp_path: Path
) -> None:
    """Governance widened BTC's scan range: the report of the next epoch verifies, its
    rows recomputed from the configuration under its root (the genesis's differ); the
    same report carrying the genesis's configuration instead is not the chain's."""
    box, report = make_governed_report()
    governed = apply_configuration(box.genesis, report.market_proof.configuration)
    assert governed.risk["underlyings"]["BTC"]["scan_bps"] == BTC_SCAN_BPS
    assert [t.haircut_bps for t in governed.collateral if t.symbol == "WETH"] == [2_000]
    assert governed.risk != box.genesis.risk
    assert compare_statement(report, box.genesis)  # the genesis's rows are not the report's
    assert compare_statement(report, governed) == []
    plain_code, _plain, code, out = _verify(world, report, tmp_path)
    assert (plain_code, code) == (EXIT_PARTIAL, EXIT_VALID), out
    assert (f"ok    statement recomputed from the genesis with the configuration of height "
            f"{report.height} (4 instruments, {_configuration(report)})") in out  # fmt: skip
    original = replace(report.market_proof, configuration=encode_configuration(box.genesis))
    tampered = sign_with(box, replace(report, market_proof=original, signatures=()))
    verdict = check_statement(tampered, box.genesis)
    assert verdict.failures[0] == (
        f"market of height {report.height}, {_configuration(tampered)} and the published "
        f"roles are not under the state root 0x{report.state_root.hex()}: their proof gives "
        f"0x{original.get_root(report.market).hex()}"
    )
    # WETH counted at the genesis's 10% haircut, not the governed 20%
    assert verdict.failures[1] == (
        "row 0 (scenario majors:base), column 'collateral:31337:0x" + "00" * 19 + "e1': "
        "the report has 4800, recomputed 5400 (differs by -600)"
    )
    scan = "row 3 (scenario majors:1/3/vol+), column 'position:BTC-PERP'"
    assert any(f.startswith(scan) for f in verdict.failures)  # a 15% scan, not the governed 25%


def test_a_configuration_that_is_not_one_is_named(world: World) -> None:
    bad = replace(world.honest.market_proof, configuration=b'{"risk":{}}')
    verdict = check_statement(replace(world.honest, market_proof=bad), world.box.genesis)
    assert verdict.failures[-1] == (
        "the report's configuration is not one: GenesisError(key='configuration', "
        "expected=\"an object with keys ['collateral_haircuts', 'external_bridges', "
        "'instruments', 'insurance_fund_bps', 'listing_templates', 'risk', 'venues']\", "
        "got=['risk'])"
    )
