"""The state -> report inputs function (shared with the devnet).

Every account the state root lists as reported (``clearing.transition.reported_accounts``: every
non-empty sub-account, and the clearing house's with the insurance fund in its cash) is
one committed vector. The sub-accounts that defaulted during the epoch are published in
the clear with how the waterfall covered each (``state.defaults``: only this epoch's at
its last block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clearing.risk.engine import (
    compute_market_solvency_form,
    get_quantities,
    get_solvency_market,
)
from clearing.risk.solvency import SolvencyForm, SolvencyMarket, get_solvency_inputs
from clearing.state import ClearingState, DefaultRecord
from clearing.transition.reported_accounts import AccountKey, get_reported_cash, is_reported
from clearing.transition.root import AccountProof, MarketProof, get_account_proofs, get_market_proof
from clearing.validator_set import get_active_validators
from proofs.report import VotingPower


@dataclass(frozen=True)
class ReportInputs:
    """What the report of `epoch` on `chain_id` is built from: plain values, picklable
    for a worker."""

    chain_id: int
    epoch: int
    height: int
    state_root: bytes
    input_labels: tuple[str, ...]  # with `rows`: a proofs.statement.LinearForm
    rows: tuple[tuple[int, ...], ...]
    market: SolvencyMarket  # what `rows` are computed from besides the genesis
    market_proof: MarketProof  # `market` and the configuration in force under `state_root`
    accounts: dict[AccountKey, tuple[int, ...]]
    defaults: tuple[DefaultRecord, ...] = ()  # not saved with the inputs: openings skip them
    validators: tuple[VotingPower, ...] = ()
    """The active set in force after the epoch's block: who proves its accounts (every
    validator assigns them alike from it). Not saved either: openings need no prover."""
    account_proofs: dict[bytes, tuple[bytes, AccountProof]] = field(default_factory=dict)
    """Each member's account record and its inclusion proof under `state_root`: a
    member checks its openings are its real account at the report's root."""

    def get_member_values(self, member: bytes) -> dict[int, tuple[int, ...]]:
        """`member`'s committed vectors by sub-account (its openings' values)."""
        return {sub: v for (owner, sub), v in self.accounts.items() if owner == member}


def get_report_accounts(
    state: ClearingState, form: SolvencyForm
) -> dict[AccountKey, tuple[int, ...]]:
    """The committed vector of every account the report of this state covers."""
    accounts = {}
    for address, record in state.members.items():
        for sub, account in record.sub_accounts.items():
            key = (address, sub)
            if is_reported(key, account):
                cash = get_reported_cash(state, key, account)
                quantities = get_quantities(account)
                accounts[key] = get_solvency_inputs(form, cash, account.collateral, quantities)
    return accounts


def get_solvency_form(
    state: ClearingState, market: SolvencyMarket | None = None
) -> SolvencyForm | None:
    """The form every account of a report of `state` is proven under (None: the genesis
    has no risk section), of `market` (default: `state`'s)."""
    market = get_solvency_market(state) if market is None else market
    return compute_market_solvency_form(state.genesis, market)


def extract_report_inputs(state: ClearingState, state_root: bytes) -> ReportInputs | None:
    """The inputs of the report of the epoch ending at `state.height`; None when the
    genesis has no risk section (no scenarios to prove against)."""
    market = get_solvency_market(state)
    form = get_solvency_form(state, market)
    if form is None:
        return None
    accounts = get_report_accounts(state, form)
    return ReportInputs(
        state.chain_id,
        state.height // state.genesis.epoch_length_blocks,
        state.height,
        state_root,
        form.input_labels,
        form.rows,
        market,
        get_market_proof(state),
        accounts,
        tuple(state.defaults),
        tuple(VotingPower(v.pubkey, v.power) for v in get_active_validators(state.validators)),
        get_account_proofs(state, sorted({owner for owner, _ in accounts})),
    )
