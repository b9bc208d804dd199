"""What a solvency report publishes of the ledger beside the accounts: the epoch's
defaults (each defaulted sub-account and what each waterfall layer paid), the
insurance fund (which a report adds to the clearing house's own cash), per
(chain, token), what the ledger says that chain's vault holds, and the cash of every
account a report covers (clearing/transition/reported_accounts.py), summed.

The state root commits to these bytes as a leaf of their own (clearing/transition/root.py), so a
verifier checks the defaults a report lists are the chain's, recomputes the clearing
house's inputs from its account and this fund, and checks each vault on chain holds
what the ledger says (proofs/reserves.py), instead of taking the quorum's word for
any. The defaults and the fund are public already (docs/privacy.md); the reserves are
aggregates: members' collateral (every report's totals), the settlement tokens that
back cash (public on the clearing house's status), the withdrawals debited and not yet
paid (their sum: one withdrawal alone is its amount, which the vault publishes when it
pays it) and what the vault paid that clearing saw paid (the sum of public payouts).
The cash total is an aggregate as the collateral totals are: a report's cash aggregate
must equal it, so a report that leaves out (or understates) an account's cash fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated

from clearing.assets import CollateralKey
from clearing.collateral import get_pending_withdrawal_quanta
from clearing.state import ClearingState, DefaultRecord, is_in_default_order
from records.codec import DecodeError, expect_int, expect_list, pack, unpack
from records.declared import Address, BigInt, ChainId, Declared, Uint, declare_record

PUBLISHED_LEDGER_VERSION = 3  # 3: the paid total of any size; 2: the reported accounts' cash
PUBLISHED_LEDGER_DOMAIN = b"clearnode-published-ledger-v1"
# The epoch's defaults: at most one per sub-account and block; a report's whole budget.
MAX_PUBLISHED_LEDGER_BYTES = 8 * 1024 * 1024
# A sum of cash balances, in the range of a report's aggregate totals.
MIN_REPORTED_CASH = -(1 << 63)
MAX_REPORTED_CASH = (1 << 64) - 1


@declare_record
@dataclass(frozen=True, slots=True)
class ReserveTotal(Declared):
    """What the ledger says one chain's vault holds of one token, in quanta."""

    chain_id: ChainId
    token: Address
    collateral: Uint  # members' collateral (every account's)
    pending: Uint  # withdrawals debited, not yet seen paid: still in the vault
    cash_reserve: Uint  # settlement tokens the vault holds for cash (``settlement_reserves``)
    # withdrawals the vault paid that clearing saw paid, since genesis: it only grows, past
    # the 64 bits that bound what the vault holds
    paid: Annotated[int, BigInt(0)]

    @property
    def key(self) -> CollateralKey:
        return (self.chain_id, self.token)

    def get_held(self) -> int:
        """The least the vault holds once every payout is seen: what is owed from it."""
        return self.collateral + self.pending + self.cash_reserve


@dataclass(frozen=True, slots=True)
class PublishedLedger:
    defaults: tuple[DefaultRecord, ...]  # this epoch's, by (height, member, sub-account)
    insurance_fund: int
    reserves: tuple[ReserveTotal, ...]  # by (chain, token): every collateral token's
    reported_cash: int  # the cash a report commits to, over every account it covers

    def encode(self) -> bytes:
        defaults = [r.to_fields() for r in self.defaults]
        reserves = [r.to_fields() for r in self.reserves]
        return pack(
            [PUBLISHED_LEDGER_VERSION, defaults, self.insurance_fund, reserves, self.reported_cash]
        )

    @classmethod
    def decode(cls, data: bytes) -> PublishedLedger:
        """Canonical bytes only (defaults strictly sorted, re-encoded equal); DecodeError
        names the first bad field."""
        if len(data) > MAX_PUBLISHED_LEDGER_BYTES:
            raise DecodeError("published ledger", f"{len(data)} bytes exceed "
                              f"{MAX_PUBLISHED_LEDGER_BYTES}")  # fmt: skip
        version, defaults, fund, reserves, cash = expect_list(unpack(data, "published ledger"),
                                                              "ledger", 5)  # fmt: skip
        if expect_int(version, "ledger.version") != PUBLISHED_LEDGER_VERSION:
            raise DecodeError("ledger.version", f"{version}, expected {PUBLISHED_LEDGER_VERSION}")
        records = tuple(DefaultRecord.from_fields(r) for r in expect_list(defaults, "defaults"))
        if not is_in_default_order(records):
            raise DecodeError("defaults", "must be strictly sorted by (height, member, sub)")
        totals = tuple(ReserveTotal.from_fields(r) for r in expect_list(reserves, "reserves"))
        if any(a.key >= b.key for a, b in pairwise(totals)):
            raise DecodeError("reserves", "must be strictly sorted by (chain, token)")
        fund_value = expect_int(fund, "insurance_fund", -(1 << 63), (1 << 63) - 1)
        cash_value = expect_int(cash, "reported_cash", MIN_REPORTED_CASH, MAX_REPORTED_CASH)
        found = cls(records, fund_value, totals, cash_value)
        if found.encode() != data:
            raise DecodeError("published ledger", "not canonical")
        return found


def get_published_ledger(
    state: ClearingState, collateral: Mapping[CollateralKey, int], reported_cash: int
) -> PublishedLedger:
    """`collateral`: every account's quanta per (chain, token), `reported_cash`: the cash
    of every account a report covers (``clearing.transition.reported_accounts.get_reported_cash``).
    The root takes the collateral from what the state keeps
    (``clearing.collateral.get_credited_quanta``) and keeps the cash up to date with the
    dirty members; from scratch, both are counted over every account."""
    pending = get_pending_withdrawal_quanta(state)
    cash = {
        k: state.settlement_reserves.get(k[0], 0) for k in state.genesis.settlement_asset.tokens
    }
    keys = sorted({*state.collateral_tokens, *cash})
    paid = state.withdrawals_paid
    reserves = tuple(
        ReserveTotal(*k, collateral.get(k, 0), pending.get(k, 0), cash.get(k, 0), paid.get(k, 0))
        for k in keys
    )
    return PublishedLedger(tuple(state.defaults), state.insurance_fund, reserves, reported_cash)


def hash_published_ledger(data: bytes) -> bytes:
    return hashlib.sha256(PUBLISHED_LEDGER_DOMAIN + data).digest()
