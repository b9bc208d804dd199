"""Which accounts a solvency report must cover, committed under the state root.

A report proves every sub-account that holds anything (cash, collateral, a position) and
the clearing house's own account, or lists it in default in the clear. A quorum that
left one out (an insolvent member holding only cash, an insolvent member with the
counterparty whose position offsets it, an account opened in the epoch's last block)
would sign a report whose every proof verifies. So the state root commits to the list
of those accounts, a leaf of its own (clearing/transition/root.py), and a verifier fails a report
whose accounts are not exactly the list, naming each one missing or made up. The list
names owners and sub-accounts only, as every report does; the published ledger beside it
commits to the total of their cash (clearing/published_ledger.py), which the report's
cash aggregate must equal, so no account's cash can be left out of the sums either.

The root keeps the list between blocks and encodes it again only when an account enters
or leaves it (clearing/transition/root.py ``RootCache``): a block of trades changes
balances, not the list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise

from clearing.collateral import MAX_SUB_ACCOUNT
from clearing.default.house import HOUSE
from clearing.state import ClearingState, Member, SubAccount
from records.codec import DecodeError, expect_bytes, expect_int, expect_list, pack, unpack

AccountKey = tuple[bytes, int]
"""``(owner address, sub-account)``."""
REPORTED_ACCOUNTS_VERSION = 1
REPORTED_ACCOUNTS_DOMAIN = b"clearnode-reported-accounts-v1"
# 32 bytes an account on the wire: some 260,000 accounts, as many as a report can prove.
MAX_REPORTED_ACCOUNTS_BYTES = 8 * 1024 * 1024


def is_reported(key: AccountKey, account: SubAccount) -> bool:
    """Whether a report covers this sub-account: anything held, any position, or the
    clearing house's own (its positions keep the book flat, its cash carries the
    insurance fund)."""
    return bool(account.cash or account.collateral or account.positions) or key == HOUSE


def get_reported_cash(state: ClearingState, key: AccountKey, account: SubAccount) -> int:
    """The cash a report commits to for this account: the clearing house's with the
    insurance fund, which it stands behind."""
    return account.cash + state.insurance_fund if key == HOUSE else account.cash


def get_member_reported(address: bytes, member: Member) -> tuple[tuple[AccountKey, ...], int]:
    """The member's accounts a report covers, sorted, and the sum of their cash (the
    clearing house's without the insurance fund, which is no member's)."""
    keys = tuple(
        (address, sub)
        for sub, account in sorted(member.sub_accounts.items())
        if is_reported((address, sub), account)
    )
    return keys, sum(member.sub_accounts[sub].cash for _, sub in keys)


def get_reported_accounts(state: ClearingState) -> tuple[ReportedAccounts, int]:
    """Every account a report of this state covers and the cash it commits to for them
    (reference: the root keeps both per member instead of walking every account)."""
    keys: list[AccountKey] = []
    cash = 0
    for address in sorted(state.members):
        member_keys, member_cash = get_member_reported(address, state.members[address])
        keys.extend(member_keys)
        cash += member_cash
    return ReportedAccounts(tuple(keys)), add_insurance_fund(state, keys, cash)


def add_insurance_fund(state: ClearingState, keys: Collection[AccountKey], cash: int) -> int:
    """The reported cash of `keys` given their accounts' own `cash`: with the insurance
    fund when the clearing house's account is among them (``get_reported_cash``)."""
    return cash + state.insurance_fund if HOUSE in keys else cash


@dataclass(frozen=True, slots=True)
class ReportedAccounts:
    """The accounts a report must cover, strictly sorted by (owner, sub-account)."""

    keys: tuple[AccountKey, ...]

    def encode(self) -> bytes:
        return pack([REPORTED_ACCOUNTS_VERSION, [[owner, sub] for owner, sub in self.keys]])

    @classmethod
    def decode(cls, data: bytes) -> ReportedAccounts:
        """Canonical bytes only; DecodeError names the first bad field."""
        if len(data) > MAX_REPORTED_ACCOUNTS_BYTES:
            raise DecodeError("reported accounts", f"{len(data)} bytes exceed "
                              f"{MAX_REPORTED_ACCOUNTS_BYTES}")  # fmt: skip
        version, keys = expect_list(unpack(data, "reported accounts"), "reported accounts", 2)
        if expect_int(version, "reported_accounts.version") != REPORTED_ACCOUNTS_VERSION:
            raise DecodeError(
                "reported_accounts.version", f"{version}, expected {REPORTED_ACCOUNTS_VERSION}"
            )
        found = tuple(_decode_key(k) for k in expect_list(keys, "accounts"))
        if any(a >= b for a, b in pairwise(found)):
            raise DecodeError("accounts", "must be strictly sorted by (owner, sub-account)")
        reported = cls(found)
        if reported.encode() != data:
            raise DecodeError("reported accounts", "not canonical")
        return reported


def _decode_key(obj: object) -> AccountKey:
    owner, sub = expect_list(obj, "account", 2)
    return expect_bytes(owner, "account.owner", 20), expect_int(
        sub, "account.sub_account", 0, MAX_SUB_ACCOUNT
    )


def hash_reported_accounts(data: bytes) -> bytes:
    return hashlib.sha256(REPORTED_ACCOUNTS_DOMAIN + data).digest()
