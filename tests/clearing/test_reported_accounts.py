"""clearing/transition/reported_accounts.py: the accounts a report must cover and their cash, under
the state root. The root's cached list and cash follow every block as the reference
recomputed from every account does: an account enters with its first holding and leaves
when it holds nothing, the clearing house's is listed even empty, with the insurance
fund in its cash; the bytes decode canonically only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.house import HOUSE
from clearing.published_ledger import PublishedLedger
from clearing.state import get_sub_account_for_write
from clearing.transition.reported_accounts import (
    MAX_REPORTED_ACCOUNTS_BYTES,
    ReportedAccounts,
    get_reported_accounts,
)
from clearing.transition.root import (
    compute_state_root,
    compute_state_root_from_scratch,
    get_market_proof,
)
from devnet.sandbox import Sandbox
from records.codec import DecodeError, pack
from tests.clearing.support import ALICE, BOB, CAROL, WETH, new_sandbox

KEYS = (ALICE, BOB, CAROL)


def reported_of(box: Sandbox) -> tuple[tuple[tuple[bytes, int], ...], int]:
    """What the root commits to now: the list and the ledger's reported cash."""
    proof = get_market_proof(box.state)
    return (
        ReportedAccounts.decode(proof.reported_accounts).keys,
        PublishedLedger.decode(proof.ledger).reported_cash,
    )


def reference_of(box: Sandbox) -> tuple[tuple[tuple[bytes, int], ...], int]:
    accounts, cash = get_reported_accounts(box.state)
    return accounts.keys, cash


def test_an_account_enters_with_its_first_holding_and_leaves_empty() -> None:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000, sub_account=2)])
    keys, _ = reported_of(box)
    assert (ALICE.address, 2) in keys and (BOB.address, 0) not in keys
    box.apply([box.withdraw(ALICE, WETH, 1_000, sub_account=2)])
    keys, _ = reported_of(box)
    assert (ALICE.address, 2) not in keys  # its nonces and venues stay: nothing held
    assert ALICE.address in box.state.members


def test_the_house_is_listed_even_empty_with_the_insurance_fund_in_its_cash() -> None:
    box = new_sandbox()
    get_sub_account_for_write(box.state, *HOUSE)
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = 300
    box.state.insurance_fund = 70
    keys, cash = reported_of(box)
    assert HOUSE in keys and (ALICE.address, 0) in keys
    assert cash == 370
    box.state.insurance_fund = 80  # no member is dirty: the fund is read each block
    assert reported_of(box)[1] == 380


OP = st.tuples(
    st.sampled_from(["credit", "withdraw", "cash"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(-500, 1_000),
)
OPS = st.lists(OP, max_size=12)


@given(ops=OPS)
@settings(max_examples=30, deadline=None)
def test_the_cached_list_and_cash_follow_the_state_block_by_block(
    ops: list[tuple[str, int, int, int]],
) -> None:
    box = new_sandbox()
    for op, who, sub, amount in ops:
        key = KEYS[who]
        held = box.state.members.get(key.address)
        account = None if held is None else held.sub_accounts.get(sub)
        if op == "credit" and amount > 0:
            box.apply([box.credit(key.address, WETH, amount, sub_account=sub)])
        elif op == "withdraw" and account is not None and account.collateral.get(WETH, 0):
            box.apply([box.withdraw(key, WETH, account.collateral[WETH], sub_account=sub)])
        elif op == "cash":  # as trades move cash: directly, its member marked dirty
            get_sub_account_for_write(box.state, key.address, sub).cash += amount
        assert reported_of(box) == reference_of(box)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)


def test_only_canonical_sorted_bytes_decode() -> None:
    a, b = (bytes([1]) * 20, 0), (bytes([2]) * 20, 7)
    data = ReportedAccounts((a, b)).encode()
    assert ReportedAccounts.decode(data).keys == (a, b)
    with pytest.raises(DecodeError, match="strictly sorted"):
        ReportedAccounts.decode(ReportedAccounts((b, a)).encode())
    with pytest.raises(DecodeError, match="strictly sorted"):
        ReportedAccounts.decode(ReportedAccounts((a, a)).encode())
    with pytest.raises(DecodeError, match="not canonical"):
        ReportedAccounts.decode(b"\x92\xcc\x01" + data[2:])
    with pytest.raises(DecodeError, match="version"):
        ReportedAccounts.decode(pack([2, []]))
    with pytest.raises(DecodeError, match="sub_account"):
        ReportedAccounts.decode(pack([1, [[a[0], 1 << 32]]]))
    with pytest.raises(DecodeError, match="exceed"):
        ReportedAccounts.decode(bytes(MAX_REPORTED_ACCOUNTS_BYTES + 1))
