"""The public linear form of "equity >= MM" that the solvency proofs commit to.

Inputs of a sub-account, in a fixed order: cash, the quanta of every collateral
token (genesis order), the lots of every listed instrument (sorted ids, zeros
included). Row ``s`` is

    (k_den, k_den*w_1, ..., k_den*w_K, k_num*v[1][s], ..., k_num*v[N][s])

so ``row_s . x = k_den*equity - k_num*L_s``. The engine's check
``k_den*equity >= k_num*max_s L_s`` holds exactly when every row gives ``>= 0``
(the floors are inside ``v``, and scenario 0 is the base, so nothing else enters).
The rows are the same for every sub-account: they reveal nothing about one.

Besides the genesis they depend only on ``SolvencyMarket``: the marks and index
prices (haircut weights) and the time options are priced at, at the epoch's height.
A report carries it, so anyone holding the genesis recomputes the rows with
``clearing.risk.engine.compute_market_solvency_form``, the function the node
builds them with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clearing.assets import CollateralKey
from clearing.oracle import Prices
from clearing.risk.arrays import RiskArrays
from clearing.state import SubAccount
from records.declared import Declared, Uint, declare_record

CASH_LABEL = "cash"
COLLATERAL_PREFIX = "collateral:"
POSITION_PREFIX = "position:"


@declare_record
@dataclass(frozen=True, slots=True)
class SolvencyMarket(Declared):
    """The state the solvency rows are computed from, besides the genesis.
    Neither the height nor the block time is in it: the state root commits to this record,
    and a block that changes nothing else must leave the root as it was (CometBFT then
    waits for transactions instead of proposing at once; a header commits to both).
    Decoding checks types, ranges and order; whether the ids are the genesis's is
    ``compute_market_solvency_form``'s check."""

    pricing_time_ms: Uint  # the time options are priced at; 0 without options
    mark_prices: Prices  # instrument id -> Price, sorted by id
    index_prices: Prices  # feed id -> Price, sorted by id


@dataclass(frozen=True, slots=True)
class SolvencyForm:
    input_labels: tuple[str, ...]
    rows: tuple[tuple[int, ...], ...]
    scenario_labels: tuple[str, ...]  # one per row
    collateral_keys: tuple[CollateralKey, ...]
    instrument_ids: tuple[str, ...]

    def evaluate(self, inputs: Sequence[int]) -> tuple[int, ...]:
        """``row_s . inputs`` for every scenario."""
        return tuple(sum(c * x for c, x in zip(row, inputs, strict=True)) for row in self.rows)

    def is_solvent(self, inputs: Sequence[int]) -> bool:
        return all(value >= 0 for value in self.evaluate(inputs))


def get_collateral_label(key: CollateralKey) -> str:
    chain, token = key
    return f"{COLLATERAL_PREFIX}{chain}:0x{token.hex()}"


def parse_collateral_label(label: str) -> CollateralKey | None:
    """The (chain id, token) a `collateral:<chain>:0x<token>` label names; None for any
    other string (a verifier reads labels from untrusted reports)."""
    if not label.startswith(COLLATERAL_PREFIX):
        return None
    chain, _, token = label[len(COLLATERAL_PREFIX) :].partition(":")
    if not chain.isdigit() or not token.startswith("0x"):
        return None
    try:
        return int(chain), bytes.fromhex(token[2:])
    except ValueError:
        return None


def get_position_label(instrument_id: str) -> str:
    return f"{POSITION_PREFIX}{instrument_id}"


def get_labelled_holdings(account: SubAccount) -> dict[str, int]:
    """What a sub-account holds, by solvency label (zero entries left out): how anyone
    holding the account's record reads the values its commitments must open to."""
    holdings = {CASH_LABEL: account.cash} if account.cash else {}
    holdings.update((get_collateral_label(k), q) for k, q in account.collateral.items() if q)
    holdings.update(
        (get_position_label(iid), p.quantity) for iid, p in account.positions.items() if p.quantity
    )
    return holdings


def get_solvency_form(
    arrays: RiskArrays,
    collateral_keys: Sequence[CollateralKey],
    weights: Mapping[CollateralKey, int],
    k_num: int,
    k_den: int,
) -> SolvencyForm:
    """Rows over (cash, collateral quanta in ``collateral_keys`` order, lots by sorted id)."""
    labels = (
        CASH_LABEL,
        *(get_collateral_label(key) for key in collateral_keys),
        *(get_position_label(iid) for iid in arrays.instrument_ids),
    )
    head = (k_den, *(k_den * weights[key] for key in collateral_keys))
    rows = tuple(
        head + tuple(k_num * arrays.values[i][s] for i in range(len(arrays.instrument_ids)))
        for s in range(arrays.scenario_count)
    )
    return SolvencyForm(
        labels, rows, arrays.scenario_labels, tuple(collateral_keys), arrays.instrument_ids
    )


def get_solvency_inputs(
    form: SolvencyForm,
    cash: int,
    collateral: Mapping[CollateralKey, int],
    positions: Mapping[str, int],
) -> tuple[int, ...]:
    """The committed vector of one sub-account, in ``form.input_labels`` order."""
    return (
        cash,
        *(collateral.get(key, 0) for key in form.collateral_keys),
        *(positions.get(iid, 0) for iid in form.instrument_ids),
    )
