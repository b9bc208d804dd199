"""Generate the committed report vectors: `python -m tests.vectors.make_reports`.

One honest report of a real chain (the trading sandbox of the node's report tests at
the end of its first epoch, one account below maintenance margin) with its genesis,
and tampered copies, each in `tests/vectors/reports/<name>/` with `report.bin` (the
bytes `GET /v1/reports/{epoch}` serves as hex) and `expected.json`: what `clearnode
verify` says of it, per way of running it (`validators`: `--genesis genesis.json --skip
statement`, signatures and root checked, statement read; `genesis`: `--genesis
genesis.json`, the full check). Blindings come from a fixed seed and Ed25519 is deterministic, so
running it again gives the same bytes (tests/vectors/test_reports.py checks it). The
browser verifier must agree with every verdict (tests/web/verifier/).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.default.house import HOUSE
from clearing.genesis import compute_genesis_hash, parse_genesis
from clearing.governance.configuration import apply_configuration, encode_configuration
from clearing.governance_changes import SetCollateralHaircut, make_risk_change
from clearing.published_ledger import PublishedLedger
from clearing.published_roles import PublishedRoles
from clearing.risk.engine import compute_market_solvency_form
from clearing.state import DefaultRecord, get_sub_account_for_write
from clearing.transition.root import compute_state_root, get_account_proof
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from lightclient.anchor import SetChange
from node.reports.inputs import ReportInputs, extract_report_inputs
from proofs.account_proof import AccountProofFile
from proofs.aggregate import AggregateEntry
from proofs.drafting import (
    ProofJob,
    ProofResult,
    add_signatures,
    build_report,
    run_proof_job,
    sign_report,
)
from proofs.native_group import FAST
from proofs.openings import get_member_openings
from proofs.pedersen import get_generators
from proofs.report import DefaultEntry, Report
from proofs.statement import SolvencyStatement, get_statement
from tests.clearing.governance.support import (
    MAX_VOTING,
    MIN_DELAY,
    ballots,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import USDC, fund_vaults
from tests.clearing.support import WETH as WETH_TOKEN
from tests.lightclient.support import anchor_report, make_anchor, make_set_change
from tests.node.reports.support import (
    MARK,
    MEMBERS,
    SEED,
    VENUE,
    VENUE_KEY,
    funding_txs,
    run_verify,
    small_epoch_genesis,
    trade_batch,
)

REPORTS = Path(__file__).parent / "reports"
EPOCH_LENGTH = 5
SHORT = MEMBERS[1].address  # short 3 lots of BTC-PERP, below maintenance margin
OMNIBUS_CLIENT = bytes([0x0C]) * 20  # member 2's client, without an account
# Accounts the omission forgeries leave out (every one under the honest report's root):
PAIR = [derive_member_key(f"offsetting-{n}") for n in range(2)]  # 0 sells 1 lot to 1, 0 insolvent
CASH_ONLY = bytes([0x3C]) * 20  # 5,000 USD of negative cash, nothing else: in default
LAST = bytes([0xFF]) * 20  # collateral only; the last account of the tree
LATE = bytes([0x1A]) * 20  # collateral credited in the epoch's last block
BTC = "position:BTC-PERP"
WETH = "collateral:31337:0x" + "00" * 19 + "e1"
OUTSIDER = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)  # not a validator
# `genesis`: the full check; `validators`: the statement read, not recomputed (the member's
# explicit `--skip statement`). The clock is the genesis's next day, so that the trusting
# period holds whenever the vectors are checked.
MODES = {"validators": ["--skip", "statement"], "genesis": []}
NOW_MS = 1_795_219_200_000 + 86_400_000
VERDICT = re.compile(r"VERDICT: (VALID ONLY AS FAR AS CHECKED|VALID|INVALID|NOT CHECKED)")
PAGE_OUTCOMES = {"VALID": "VALID", "INVALID": "INVALID", "NOT CHECKED": "COULD-NOT-CHECK",
                 "VALID ONLY AS FAR AS CHECKED": "PARTIAL"}  # fmt: skip
"""The browser verifier's outcome (web/verifier/src/verify.ts) of each CLI verdict."""


@dataclass(frozen=True)
class World:
    box: Sandbox
    genesis: dict[str, Any]
    inputs: ReportInputs
    statement: SolvencyStatement
    honest: Report


def trading_genesis() -> dict[str, Any]:
    """The genesis of the vectors' chain: governance decides within blocks (so a change
    executes in the vectors' chain). Members 0 and 2 are clearing members; the short
    (member 1) is member 0's segregated client, and member 2 has an omnibus client with
    no account yet."""
    doc = small_epoch_genesis(EPOCH_LENGTH)
    doc["clearing_members"] = ["0x" + m.address.hex() for m in (MEMBERS[0], MEMBERS[2], *PAIR)]
    doc["clients"] = [
        {"address": "0x" + SHORT.hex(), "clearing_member": "0x" + MEMBERS[0].address.hex(),
         "model": "segregated", "backup": "0x" + MEMBERS[2].address.hex()},
        {"address": "0x" + OMNIBUS_CLIENT.hex(), "clearing_member": "0x" + MEMBERS[2].address.hex(),
         "model": "omnibus"},
    ]  # fmt: skip
    doc["governance"] = {"min_delay_blocks": MIN_DELAY, "max_voting_blocks": MAX_VOTING}
    return doc


def encode_genesis(doc: dict[str, Any]) -> bytes:
    """The genesis file's bytes, as the vectors' genesis.json holds them."""
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


GENESIS_HASH = compute_genesis_hash(encode_genesis(trading_genesis()))
"""The vectors' genesis.json's hash: every anchor here is signed on the chain it names."""
OTHER_GENESIS = compute_genesis_hash(
    encode_genesis(
        {**trading_genesis(), "genesis_time_ms": trading_genesis()["genesis_time_ms"] + 1}
    )
)
"""The genesis one byte apart (the last digit of its time): the same chain id and validators."""


def trading_chain() -> tuple[Sandbox, dict[str, Any]]:
    """The trading world of the node's report tests and its genesis (`trading_genesis`)."""
    doc = trading_genesis()
    box = gov_sandbox(doc)
    for txs in (funding_txs(box), [trade_batch(box)]):
        assert all(r.is_ok() for r in box.apply(txs).tx_results)
    return box, doc


def make_world() -> World:
    """The chain at the end of epoch 1, its honest report signed by every validator.
    Besides the trading world: an insolvent member and the counterparty whose position
    offsets it, an account holding only negative cash, one holding collateral that is the
    last of the tree, and one first credited in the epoch's last block."""
    box, doc = trading_chain()
    pair_trade = Trade(3, "BTC-PERP", PAIR[1].address, 0, PAIR[0].address, 0, MARK, 1)
    blocks: list[list[TxRecord]] = [
        [*funding_txs(box, PAIR), box.credit(LAST, USDC, 5 * 10**6)],
        [sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, 2, (pair_trade,), *box.get_times())],
    ]
    for txs in blocks:
        assert all(r.is_ok() for r in box.apply(txs).tx_results)
    while box.state.height % EPOCH_LENGTH != EPOCH_LENGTH - 1:
        assert all(r.is_ok() for r in box.apply([]).tx_results)
    assert all(r.is_ok() for r in box.apply([box.credit(LATE, USDC, 10**6)]).tx_results)
    short = get_sub_account_for_write(box.state, SHORT, 0)
    short.collateral[USDC] = -short.cash + 1_000_000  # equity one dollar: in default
    get_sub_account_for_write(box.state, PAIR[0].address, 0).collateral.clear()
    get_sub_account_for_write(box.state, CASH_ONLY, 0).cash = -5_000 * 10**6
    fund_vaults(box.state)
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and inputs.epoch == 1
    form = compute_market_solvency_form(box.genesis, inputs.market)
    assert form is not None
    statement = get_statement(form)
    honest = prove_with(box, inputs, statement)
    return World(box, doc, inputs, statement, honest)


BTC_SCAN_BPS = 2_500  # governed: BTC's price scan range, 15% at genesis
WETH_HAIRCUT_BPS = 2_000  # governed: 10% at genesis
DEC_FUTURE = "BTC-26DEC26"  # the genesis's dated future (with a call on it)


def make_governed_report() -> tuple[Sandbox, Report]:
    """The same chain after governance widened BTC's scan range and raised WETH's
    haircut: the report of the first epoch that ends after the change executed, its rows
    from the governed configuration (the genesis's give others)."""
    box, _ = trading_chain()
    risk = json.loads(json.dumps(box.genesis.risk))
    risk["underlyings"]["BTC"]["scan_bps"] = BTC_SCAN_BPS
    haircut = SetCollateralHaircut(*WETH_TOKEN, WETH_HAIRCUT_BPS)
    proposal = submit(box, propose(box, (make_risk_change(risk), haircut)))
    box.apply(ballots(box, proposal, range(len(box.validator_keys))))
    run_until(box, proposal.execute_height)
    assert box.state.genesis.risk == risk
    while box.state.height % EPOCH_LENGTH:
        assert all(r.is_ok() for r in box.apply([]).tx_results)
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    form = compute_market_solvency_form(box.state.genesis, inputs.market)
    assert form is not None
    return box, prove_with(box, inputs, get_statement(form))


def make_pruned_report() -> Report:
    """The same chain after the genesis's December future and its call expired and left
    the configuration a retention later: the report of the next epoch, whose
    configuration and market name neither (the genesis's give them)."""
    box, _ = trading_chain()
    expiry = box.state.instruments[DEC_FUTURE].expiry_ms
    assert expiry is not None
    for time_ms in (expiry, expiry + box.genesis.settled_instrument_retention_ms):
        box.block_interval_ms = time_ms - box.state.time_ms
        box.apply([])
    assert DEC_FUTURE not in box.state.instruments
    box.block_interval_ms = 1_000
    while box.state.height % EPOCH_LENGTH:
        assert all(r.is_ok() for r in box.apply([]).tx_results)
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    form = compute_market_solvency_form(box.state.genesis, inputs.market)
    assert form is not None and DEC_FUTURE not in form.instrument_ids
    return prove_with(box, inputs, get_statement(form))


def with_configuration(world: World, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The configuration in force with `edit` made to its risk section: canonical
    bytes, as a report would carry them."""
    doc = json.loads(world.inputs.market_proof.configuration)
    edit(doc["risk"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def widen_btc_scan(risk: dict[str, Any]) -> None:
    risk["underlyings"]["BTC"]["scan_bps"] = BTC_SCAN_BPS


def sign_with(box: Sandbox, report: Report) -> Report:
    """`report` signed by every validator (and by no one else), and anchored: the next
    block's header over its state root, precommitted by every validator."""
    unsigned = replace(report, signatures=())
    signed = add_signatures(unsigned, [sign_report(unsigned, k) for k in box.validator_keys])
    return anchor_report(signed, box.validator_keys, genesis_hash=GENESIS_HASH)


@functools.cache
def prove_account(job: ProofJob) -> ProofResult:
    """One account's commitments and proof, made once per process: a job is the whole of
    what its proof depends on (statement, context, inputs, blindings), so a forgery that
    keeps the honest root and statement (the omissions) reuses the honest proofs, the
    same bytes, instead of proving each account again (about 0.4 s each)."""
    return run_proof_job(job)


def prove_accounts(
    _: Callable[[ProofJob], ProofResult], jobs: Iterable[ProofJob]
) -> Iterator[ProofResult]:
    """`build_report`'s `map_fn`: every job through `prove_account`."""
    return map(prove_account, jobs)


def prove_with(box: Sandbox, inputs: ReportInputs, statement: SolvencyStatement) -> Report:
    """Valid proofs of `statement` over the epoch's accounts, signed by every validator."""
    report = build_report(
        get_generators(FAST), inputs.epoch, inputs.state_root, statement, inputs.accounts, SEED,
        prove_accounts, chain_id=inputs.chain_id, height=inputs.height, market=inputs.market,
        market_proof=inputs.market_proof, defaults=inputs.defaults,
        account_records=inputs.account_proofs,
    )  # fmt: skip
    return sign_with(box, report)


def sign(world: World, report: Report) -> Report:
    return sign_with(world.box, report)


def prove(world: World, statement: SolvencyStatement) -> Report:
    return prove_with(world.box, world.inputs, statement)


def with_rows(world: World, rows: list[list[int]]) -> SolvencyStatement:
    s = world.statement
    return SolvencyStatement(s.input_labels, s.offsets, tuple(tuple(r) for r in rows))


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def wrong_signature(world: World) -> bytes:
    r = world.honest
    first = r.signatures[0]
    bad = replace(first, signature=flip(first.signature, 0))
    return replace(r, signatures=(bad, *r.signatures[1:])).encode()


def non_validator_signature(world: World) -> bytes:
    r = world.honest
    return add_signatures(r, [sign_report(r, OUTSIDER)]).encode()


def below_quorum(world: World) -> bytes:
    return replace(world.honest, signatures=world.honest.signatures[:2]).encode()


def flipped_proof_byte(world: World) -> bytes:
    r = world.honest
    first = r.accounts[0]
    # the last byte of scalar b: still a canonical scalar, no longer a proof
    bad = replace(first, proof=flip(first.proof, len(first.proof) - 1))
    return sign(world, replace(r, accounts=(bad, *r.accounts[1:]))).encode()


def changed_commitment(world: World) -> bytes:
    r = world.honest
    first, second = r.accounts[0], r.accounts[1]
    # another account's commitment to the same label: a valid point, the wrong one
    commitments = (second.commitments[1], *first.commitments[1:])
    bad = replace(first, commitments=commitments)
    return sign(world, replace(r, accounts=(bad, *r.accounts[1:]))).encode()


def wrong_aggregate(world: World) -> bytes:
    r = world.honest
    index = next(i for i, e in enumerate(r.aggregates) if e.label == BTC)
    e = r.aggregates[index]
    aggregates = list(r.aggregates)
    aggregates[index] = AggregateEntry(e.label, e.total + 1, e.blinding_sum)
    return sign(world, replace(r, aggregates=tuple(aggregates))).encode()


def market_not_under_root(world: World) -> bytes:
    r = world.honest
    market = r.market
    moved = replace(market, mark_prices=((market.mark_prices[0][0], 1), *market.mark_prices[1:]))
    return sign(world, replace(r, market=moved)).encode()


def configuration_not_under_root(world: World) -> bytes:
    """The honest report carrying another configuration (BTC's scan range widened)."""
    r = world.honest
    proof = replace(r.market_proof, configuration=with_configuration(world, widen_btc_scan))
    return sign(world, replace(r, market_proof=proof)).encode()


def roles_not_under_root(world: World) -> bytes:
    """The honest report carrying other roles: member 0's client moved to member 2."""
    r = world.honest
    roles = PublishedRoles.decode(r.market_proof.roles)
    moved = tuple((c, MEMBERS[2].address if c == SHORT else m, model)
                  for c, m, model in roles.clients)  # fmt: skip
    proof = replace(r.market_proof, roles=replace(roles, clients=moved).encode())
    return sign(world, replace(r, market_proof=proof)).encode()


def proved_over_changed_configuration(world: World) -> bytes:
    """A report whose rows are honestly computed from the configuration it carries, but
    that configuration (BTC's scan range widened) is not the chain's."""
    changed = with_configuration(world, widen_btc_scan)
    form = compute_market_solvency_form(apply_configuration(world.box.genesis, changed),
                                        world.inputs.market)  # fmt: skip
    assert form is not None
    market_proof = replace(world.inputs.market_proof, configuration=changed)
    return prove_with(world.box, replace(world.inputs, market_proof=market_proof),
                      get_statement(form)).encode()  # fmt: skip


def after_risk_change(world: World) -> bytes:
    """Valid: the report of an epoch after governance changed a risk parameter and a
    haircut, recomputed from the configuration under its root, not the genesis's."""
    _, report = make_governed_report()
    assert report.market_proof.configuration != encode_configuration(world.box.genesis)
    return report.encode()


def after_pruning(world: World) -> bytes:
    """Valid: the report of an epoch after settled instruments left the configuration."""
    return make_pruned_report().encode()


def zeroed_risk_arrays(world: World) -> bytes:
    j = world.statement.input_labels.index(BTC)
    rows = [[0 if k == j else c for k, c in enumerate(r)] for r in world.statement.rows]
    return prove(world, with_rows(world, rows)).encode()


def changed_risk_array_entry(world: World) -> bytes:
    rows = [list(r) for r in world.statement.rows]
    rows[3][world.statement.input_labels.index(BTC)] += 7
    return prove(world, with_rows(world, rows)).encode()


def changed_haircut_weight(world: World) -> bytes:
    j = world.statement.input_labels.index(WETH)
    rows = [[c * 2 if k == j else c for k, c in enumerate(r)] for r in world.statement.rows]
    return prove(world, with_rows(world, rows)).encode()


def changed_maintenance_fraction(world: World) -> bytes:
    doc = small_epoch_genesis(EPOCH_LENGTH)
    doc["risk"]["k_den"] = 4  # maintenance at a quarter of the initial margin, not a half
    form = compute_market_solvency_form(parse_genesis(doc), world.inputs.market)
    assert form is not None
    return prove(world, get_statement(form)).encode()


def missing_stress_day(world: World) -> bytes:
    return prove(world, with_rows(world, [list(r) for r in world.statement.rows[:-1]])).encode()


def statement_of_another_height(world: World) -> bytes:
    """Rows of the next block's marks (BTC-PERP up 10%), published with the epoch's market."""
    market = world.inputs.market
    marks = dict(market.mark_prices, **{"BTC-PERP": MARK * 11 // 10})
    later = replace(market, mark_prices=tuple(sorted(marks.items())))
    form = compute_market_solvency_form(world.box.genesis, later)
    assert form is not None
    return prove(world, get_statement(form)).encode()


def defaults_do_not_add_up(world: World) -> bytes:
    """A default of the epoch whose layers pay one unit less than its deficit."""
    record = DefaultRecord(EPOCH_LENGTH, bytes([0xCD]) * 20, 3, 1_000, 600, 150, 100, 80, 40,
                           25, 4)  # fmt: skip
    return sign(world, replace(world.honest, defaults=(record,))).encode()


def solvent_account_in_default(world: World) -> bytes:
    """An empty account listed in the clear as if in default: it meets the statement."""
    empty = DefaultEntry(bytes([0xEE]) * 20, 0, (0,) * len(world.statement.input_labels))
    listed = tuple(sorted((*world.honest.in_default, empty), key=lambda d: d.key))
    return sign(world, replace(world.honest, in_default=listed)).encode()


HOUSE_DEFAULT = DefaultRecord(EPOCH_LENGTH, bytes([0xCD]) * 20, 3, 1_000, 600, 150, 100, 80, 40,
                              25, 5)  # fmt: skip


def make_house_short_report() -> Report:
    """The honest report of the chain whose clearing house is 5 units short at the end
    of epoch 1 (its cash 7 below nothing, the insurance fund 2) after a covered default
    of the epoch: both in the state under its root."""
    box, _ = trading_chain()
    while box.state.height % EPOCH_LENGTH:
        assert all(r.is_ok() for r in box.apply([]).tx_results)
    short = get_sub_account_for_write(box.state, SHORT, 0)
    short.collateral[USDC] = -short.cash + 1_000_000
    get_sub_account_for_write(box.state, *HOUSE).cash = -7
    fund_vaults(box.state)
    box.state.insurance_fund = 2
    box.state.defaults = [HOUSE_DEFAULT]
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    form = compute_market_solvency_form(box.genesis, inputs.market)
    assert form is not None
    return prove_with(box, inputs, get_statement(form))


def house_short(world: World) -> bytes:
    """Valid: the clearing house's own account in default, 5 units short, and a covered
    default of the epoch."""
    report = make_house_short_report()
    assert HOUSE in {d.key for d in report.in_default}
    return report.encode()


def made_up_default(world: World) -> bytes:
    """A default of the epoch whose layers add up, listed but not committed under the
    state root."""
    return sign(world, replace(world.honest, defaults=(HOUSE_DEFAULT,))).encode()


def made_up_insolvent_account(world: World) -> bytes:
    """An account listed in default with inputs that fail the statement (5 units of
    negative cash), and no account under the root."""
    width = len(world.statement.input_labels)
    made_up = DefaultEntry(bytes([0xEE]) * 20, 0, (-5, *(0,) * (width - 1)))
    listed = tuple(sorted((*world.honest.in_default, made_up), key=lambda d: d.key))
    return sign(world, replace(world.honest, in_default=listed)).encode()


def changed_inputs_in_default(world: World) -> bytes:
    """The short's account in default, published with one lot more of BTC than its
    account under the root holds (still in default)."""
    j = world.statement.input_labels.index(BTC)
    listed = tuple(
        replace(d, inputs=tuple(x - 1 if k == j else x for k, x in enumerate(d.inputs)))
        if d.owner == SHORT else d
        for d in world.honest.in_default
    )  # fmt: skip
    return sign(world, replace(world.honest, in_default=listed)).encode()


def leave_out(world: World, *keys: tuple[bytes, int]) -> bytes:
    """The report of the honest root and market, proven and signed by every validator,
    of every account but `keys`."""
    assert all(k in world.inputs.accounts for k in keys)
    accounts = {k: v for k, v in world.inputs.accounts.items() if k not in keys}
    return prove_with(world.box, replace(world.inputs, accounts=accounts), world.statement).encode()


def left_out_cash_only_insolvent_account(world: World) -> bytes:
    """An account holding only 5,000 USD of negative cash, left out."""
    assert (CASH_ONLY, 0) in {d.key for d in world.honest.in_default}
    return leave_out(world, (CASH_ONLY, 0))


def left_out_offsetting_pair(world: World) -> bytes:
    """An insolvent member and the solvent counterparty whose position offsets it, both
    left out: the book stays flat."""
    return leave_out(world, (PAIR[0].address, 0), (PAIR[1].address, 0))


def left_out_last_account(world: World) -> bytes:
    """The last account of the tree (collateral only), left out."""
    assert max(world.inputs.accounts) == (LAST, 0)
    return leave_out(world, (LAST, 0))


def left_out_account_opened_in_last_block(world: World) -> bytes:
    """The account first credited in the epoch's last block, left out: the accounts of
    the block before, proven at the epoch's root."""
    return leave_out(world, (LATE, 0))


def wrong_reserves_total(world: World) -> bytes:
    """The validators commit (and anchor) a root whose ledger says one more quantum of the
    first token is members' collateral than the report's accounts hold."""
    proof = world.inputs.market_proof
    ledger = PublishedLedger.decode(proof.ledger)
    first = ledger.reserves[0]
    bumped = (replace(first, collateral=first.collateral + 1), *ledger.reserves[1:])
    proof = replace(proof, ledger=replace(ledger, reserves=bumped).encode())
    inputs = replace(world.inputs, state_root=proof.get_root(world.inputs.market),
                     market_proof=proof)  # fmt: skip
    return prove_with(world.box, inputs, world.statement).encode()


def anchor_of_another_root(world: World) -> bytes:
    """The next block's header, committed by every validator, over another state root."""
    r = world.honest
    other = hashlib.sha256(b"another root").digest()
    anchor = make_anchor(
        r.chain_id, r.height, other, world.box.validator_keys, genesis_hash=GENESIS_HASH
    )
    return replace(r, anchor=anchor).encode()


def anchor_of_another_genesis(world: World) -> bytes:
    """The right header and every validator's precommit, on the chain of a genesis one byte
    apart (the same chain id, validators and root): another chain's."""
    r = world.honest
    anchor = make_anchor(r.chain_id, r.height, r.state_root, world.box.validator_keys,
                         genesis_hash=OTHER_GENESIS)  # fmt: skip
    return replace(r, anchor=anchor).encode()


def anchor_below_quorum(world: World) -> bytes:
    """The right header, precommitted by two validators of four."""
    r = world.honest
    keys, every = world.box.validator_keys[:2], world.box.validator_keys
    anchor = make_anchor(
        r.chain_id, r.height, r.state_root, keys, set_keys=every, genesis_hash=GENESIS_HASH
    )
    return replace(r, anchor=anchor).encode()


def anchor_of_a_changed_validator_set(world: World) -> bytes:
    """Governance added a fifth validator: the next block is signed by (and its header
    commits to) a set the genesis does not hold. Valid as far as checked: the state root
    is not followed to the chain."""
    r, keys = world.honest, world.box.validator_keys
    fifth = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fifth validator").digest())
    anchor = make_anchor(
        r.chain_id, r.height, r.state_root, [*keys, fifth], genesis_hash=GENESIS_HASH
    )
    return replace(r, anchor=anchor).encode()


FIFTH = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fifth validator").digest())
SIXTH = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"sixth validator").digest())
STRANGERS = [Ed25519PrivateKey.from_private_bytes(bytes([0x60 + i]) * 32) for i in range(4)]


def set_changes(world: World) -> tuple[list[Ed25519PrivateKey], list[SetChange]]:
    """Governance added a fifth validator before the epoch's block, then replaced two
    genesis validators by a sixth after it: the last set and the two changes."""
    keys, height = world.box.validator_keys, world.inputs.height
    added, replaced = [*keys, FIFTH], [*keys[2:], FIFTH, SIXTH]
    first = make_set_change(world.inputs.chain_id, height - 2, keys, added,
                            genesis_hash=GENESIS_HASH)  # fmt: skip
    second = make_set_change(world.inputs.chain_id, height + 2, added, replaced,
                             genesis_hash=GENESIS_HASH)  # fmt: skip
    return replaced, [first, second]


def signed_after_set_changes(world: World) -> bytes:
    """Valid: signed by a set the genesis does not hold, reached through two changes of
    the set, each signed by the set before it; block H+1 signed by the set in between."""
    last, changes = set_changes(world)
    unsigned = replace(world.honest, signatures=())
    report = add_signatures(unsigned, [sign_report(unsigned, k) for k in last])
    keys = [*world.box.validator_keys, FIFTH]
    return anchor_report(report, keys, set_changes=changes, genesis_hash=GENESIS_HASH).encode()


def set_change_by_strangers(world: World) -> bytes:
    """Keys the genesis does not hold sign a header of the genesis set electing themselves,
    then the report and its next block."""
    r = world.honest
    forged = make_set_change(r.chain_id, r.height - 2, STRANGERS, STRANGERS,
                             set_keys=world.box.validator_keys,
                             genesis_hash=GENESIS_HASH)  # fmt: skip
    unsigned = replace(r, signatures=())
    report = add_signatures(unsigned, [sign_report(unsigned, k) for k in STRANGERS])
    return anchor_report(report, STRANGERS, set_changes=[forged],
                         genesis_hash=GENESIS_HASH).encode()  # fmt: skip


def set_change_carrying_another_set(world: World) -> bytes:
    """The first change as committed, but carrying another set than its header names."""
    last, (first, second) = set_changes(world)
    swapped = replace(first, validators=second.validators)
    unsigned = replace(world.honest, signatures=())
    report = add_signatures(unsigned, [sign_report(unsigned, k) for k in last])
    keys = [*world.box.validator_keys, FIFTH]
    return anchor_report(report, keys, set_changes=[swapped, second],
                         genesis_hash=GENESIS_HASH).encode()  # fmt: skip


def no_anchor(world: World) -> bytes:
    """Valid as far as checked: the state root is not followed to the chain."""
    return replace(world.honest, anchor=None).encode()


def truncated(world: World) -> bytes:
    data = world.honest.encode()
    return data[: len(data) // 2]


TAMPERS: dict[str, Callable[[World], bytes]] = {
    "wrong-signature": wrong_signature,
    "non-validator-signature": non_validator_signature,
    "below-quorum": below_quorum,
    "flipped-proof-byte": flipped_proof_byte,
    "changed-commitment": changed_commitment,
    "wrong-aggregate": wrong_aggregate,
    "market-not-under-root": market_not_under_root,
    "configuration-not-under-root": configuration_not_under_root,
    "roles-not-under-root": roles_not_under_root,
    "proved-over-changed-configuration": proved_over_changed_configuration,
    "zeroed-risk-arrays": zeroed_risk_arrays,
    "changed-risk-array-entry": changed_risk_array_entry,
    "changed-haircut-weight": changed_haircut_weight,
    "changed-maintenance-fraction": changed_maintenance_fraction,
    "missing-stress-day": missing_stress_day,
    "statement-of-another-height": statement_of_another_height,
    "anchor-of-another-root": anchor_of_another_root,
    "anchor-of-another-genesis": anchor_of_another_genesis,
    "anchor-below-quorum": anchor_below_quorum,
    "set-change-by-strangers": set_change_by_strangers,
    "set-change-carrying-another-set": set_change_carrying_another_set,
    "defaults-do-not-add-up": defaults_do_not_add_up,
    "solvent-account-in-default": solvent_account_in_default,
    "made-up-default": made_up_default,
    "made-up-insolvent-account": made_up_insolvent_account,
    "changed-inputs-in-default": changed_inputs_in_default,
    "wrong-reserves-total": wrong_reserves_total,
    "left-out-cash-only-insolvent-account": left_out_cash_only_insolvent_account,
    "left-out-offsetting-pair": left_out_offsetting_pair,
    "left-out-last-account": left_out_last_account,
    "left-out-account-opened-in-last-block": left_out_account_opened_in_last_block,
    "truncated": truncated,
}
# Honest variants: valid, and their lines (the house short, a default of the epoch) shown.
VARIANTS: dict[str, Callable[[World], bytes]] = {
    "house-short": house_short,
    "no-anchor": no_anchor,
    "anchor-of-a-changed-validator-set": anchor_of_a_changed_validator_set,
    "signed-after-set-changes": signed_after_set_changes,
    "after-risk-change": after_risk_change,
    "after-pruning": after_pruning,
}
# The honest report with a member's openings, as a validator gives them (with the account
# record and its inclusion proof), with one value changed (a commitment that does not
# open to it, nor is it the holding), and with the record forged (not under the root).
OPENINGS: dict[str, str | None] = {
    "member-openings": None,
    "wrong-opening": "value",
    "forged-inclusion-proof": "record",
}


def describe(report: Path, genesis: Path, member: Member | None = None) -> dict[str, Any]:
    """What `clearnode verify` says of `report` in each mode: verdict, exit code, FAIL
    lines, and with a member's openings the lines of its own section."""
    return {mode: describe_mode(report, genesis, mode, member) for mode in MODES}


def describe_mode(
    report: Path, genesis: Path, mode: str, member: Member | None = None
) -> dict[str, Any]:
    """What `clearnode verify` says of `report` in one mode (a key of MODES)."""
    extra = [] if member is None else ["--member", member.address, "--openings"]
    extra += [] if member is None else [str(member.openings)]
    argv = [str(report), "--genesis", str(genesis), "--now", str(NOW_MS), *MODES[mode]]
    code, text = run_verify([*argv, *extra])
    match = VERDICT.search(text)
    assert match is not None, text
    lines = [line.strip() for line in text.splitlines()]
    failures = [line[len("FAIL  ") :] for line in lines if line.startswith("FAIL  ")]
    undecodable = "cannot decode: " in text
    if undecodable:
        failures = [text.split("cannot decode: ", 1)[1].strip()]
    out: dict[str, Any] = {"verdict": match.group(1), "exit": code, "failures": failures,
                           "undecodable": undecodable}  # fmt: skip
    if not undecodable:  # the verdict and every check, up to what was not checked
        printed = text.splitlines()
        end = printed.index("not checked") if "not checked" in printed else len(printed)
        out["output"] = printed[:end]
    if member is not None:
        out["member"] = get_section(text, f"member {member.address}")
    return out


def get_section(text: str, title: str) -> list[str]:
    """The `ok` and `FAIL` lines of one section of the CLI's output, as printed."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    section = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        section.append(line[2:])
    return section


@dataclass(frozen=True)
class Member:
    address: str  # 0x-hex
    openings: Path


def make_openings(world: World, change: str | None) -> dict[str, Any]:
    """MEMBERS[0]'s openings of the honest report as a validator answers them, with its
    account record and inclusion proof; `change`: "value", its BTC position one lot more
    than it committed to and holds; "record", a byte of its account record flipped."""
    owner = MEMBERS[0].address
    accounts = {sub: list(v) for (o, sub), v in world.inputs.accounts.items() if o == owner}
    labels = world.statement.input_labels
    if change == "value":
        accounts[0][labels.index(BTC)] += 1
    openings = get_member_openings(SEED, world.inputs.epoch, owner, labels, accounts)
    proven = get_account_proof(world.box.state, owner)
    assert proven is not None and compute_state_root(world.box.state) == world.inputs.state_root
    record, proof = proven
    if change == "record":
        record = flip(record, len(record) - 1)
    found = AccountProofFile(world.inputs.chain_id, owner, world.inputs.height,
                             world.inputs.state_root, record, proof)  # fmt: skip
    return replace(openings, account_proof=found).to_json()


def make_inputs(world: World) -> dict[Path, bytes]:
    """Every file of the vectors but their verdicts (`expected.json`, `encode_expected`),
    by path in the vectors' folder: the genesis, each report, a member's openings."""
    files = {Path("genesis.json"): encode_genesis(world.genesis)}
    reports = {"valid": world.honest.encode()}
    reports.update({name: make(world) for name, make in {**TAMPERS, **VARIANTS}.items()})
    for name, change in OPENINGS.items():
        reports[name] = world.honest.encode()
        openings = json.dumps(make_openings(world, change), indent=1) + "\n"
        files[Path(name, "openings.json")] = openings.encode()
    files.update({Path(name, "report.bin"): data for name, data in reports.items()})
    return files


def get_member(folder: Path) -> Member | None:
    """The member whose openings a vector carries (those of OPENINGS), if any."""
    if folder.name not in OPENINGS:
        return None
    return Member("0x" + MEMBERS[0].address.hex(), folder / "openings.json")


def encode_expected(folder: Path, genesis: Path) -> bytes:
    """The `expected.json` of the vector in `folder`: what `clearnode verify` says of it."""
    member = get_member(folder)
    expected: dict[str, Any] = {"report": folder.name}
    if member is not None:
        expected["member"] = {"address": member.address, "openings": member.openings.name}
    expected["modes"] = describe(folder / "report.bin", genesis, member)
    return (json.dumps(expected, indent=1) + "\n").encode()


def make_all(directory: Path) -> None:
    world = make_world()
    files = make_inputs(world)
    for path, data in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(data)
    genesis = directory / "genesis.json"
    assert compute_genesis_hash(genesis.read_bytes()) == GENESIS_HASH
    for folder in sorted({(directory / path).parent for path in files} - {directory}):
        (folder / "expected.json").write_bytes(encode_expected(folder, genesis))


if __name__ == "__main__":
    make_all(REPORTS)
