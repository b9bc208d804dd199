"""A deterministic sample solvency form and flat book, shaped like the clearing
house's (labels as in clearing.risk.solvency), for tests, vectors and benchmarks."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from clearing.published_ledger import PublishedLedger, ReserveTotal
from clearing.published_roles import PublishedRoles
from clearing.risk.solvency import (
    COLLATERAL_PREFIX,
    SolvencyMarket,
    get_collateral_label,
    parse_collateral_label,
)
from clearing.transition.reported_accounts import AccountKey, ReportedAccounts
from clearing.transition.root import MarketProof

K_NUM, K_DEN = 3, 4  # maintenance margin = 3/4 of initial margin
# A sample form is drawn at random, not computed from a genesis: the market it is
# published with is only the field's shape (no genesis recomputes it), proven under
# a state root made for it, with a configuration of that shape too.
SAMPLE_MARKET = SolvencyMarket(1_700_000_000_000, (("INST-00", 100_000),), (("INST", 99_000),))
SAMPLE_HEIGHT = 70
SAMPLE_CONFIGURATION = (
    b'{"external_bridges":[],"instruments":[],"insurance_fund_bps":10000,'
    b'"listing_templates":[],"risk":{},"venues":[]}'
)
SAMPLE_MARKET_PROOF = MarketProof(
    bytes(range(32)),
    SAMPLE_CONFIGURATION,
    PublishedRoles((), ()).encode(),
    PublishedLedger((), 0, (), 0).encode(),
    ReportedAccounts(()).encode(),
    bytes(range(32, 64)),
)
SAMPLE_STATE_ROOT = SAMPLE_MARKET_PROOF.get_root(SAMPLE_MARKET)


@dataclass(frozen=True)
class SampleForm:
    input_labels: tuple[str, ...]
    rows: tuple[tuple[int, ...], ...]


def make_sample_form(collaterals: int, instruments: int, scenarios: int, seed: int) -> SampleForm:
    rng = random.Random(seed)
    labels = (
        "cash",
        *(
            get_collateral_label((1 + k % 2, (k + 1).to_bytes(20, "big")))
            for k in range(collaterals)
        ),
        *(f"position:INST-{i:02d}" for i in range(instruments)),
    )
    weights = [rng.randrange(1, 1000) for _ in range(collaterals)]
    pnl = [[rng.randrange(-5000, 5001) for _ in range(scenarios)] for _ in range(instruments)]
    rows = tuple(
        (K_DEN, *(K_DEN * w for w in weights), *(K_NUM * pnl[i][s] for i in range(instruments)))
        for s in range(scenarios)
    )
    return SampleForm(labels, rows)


def make_sample_book(form: SampleForm, accounts: int, seed: int) -> dict[AccountKey, list[int]]:
    """`accounts` (even) solvent accounts whose positions cancel pairwise."""
    rng = random.Random(seed)
    collaterals = sum(x.startswith(COLLATERAL_PREFIX) for x in form.input_labels)
    instruments = len(form.input_labels) - 1 - collaterals
    book: dict[AccountKey, list[int]] = {}
    for _ in range(accounts // 2):
        q = [rng.randrange(-10_000, 10_001) for _ in range(instruments)]
        for side, sign in ((0, 1), (1, -1)):
            owner = rng.randbytes(20)
            coll = [rng.randrange(0, 10**6) for _ in range(collaterals)]
            x = [0, *coll, *(sign * v for v in q)]
            worst = max(-sum(a * v for a, v in zip(row, x, strict=True)) for row in form.rows)
            x[0] = -(-worst // K_DEN) + rng.randrange(0, 1000)  # cash: just enough, or more
            book[(owner, side)] = x
    return book


def with_sample_ledger(
    proof: MarketProof, form: SampleForm, book: dict[AccountKey, list[int]]
) -> MarketProof:
    """`proof` whose published ledger and reported accounts commit `book`: its accounts,
    their cash, and their collateral per token (nothing pending, no settlement cash)."""
    reserves = []
    for index, label in enumerate(form.input_labels):
        key = parse_collateral_label(label)
        if key is not None:
            held = sum(inputs[index] for inputs in book.values())
            reserves.append(ReserveTotal(*key, held, 0, 0, 0))
    cash = sum(inputs[0] for inputs in book.values())
    ledger = PublishedLedger((), 0, tuple(sorted(reserves, key=lambda r: r.key)), cash)
    reported = ReportedAccounts(tuple(sorted(book)))
    return dataclasses.replace(proof, ledger=ledger.encode(), reported_accounts=reported.encode())
