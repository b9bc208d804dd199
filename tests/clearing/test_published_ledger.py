"""clearing/published_ledger.py: what the state root publishes of the ledger. Its
reserves are what each vault must hold (``count_vault_quanta``) split into members'
collateral, pending withdrawals and settlement cash, beside what was seen paid; the
cached collateral totals the root keeps agree with a sum over every account; the bytes
decode canonically only."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.assets import MAX_VAULT_QUANTA
from clearing.collateral import count_vault_quanta, get_collateral_quanta
from clearing.published_ledger import PublishedLedger
from clearing.state import DefaultRecord
from clearing.transition.root import (
    compute_state_root,
    compute_state_root_from_scratch,
    get_market_proof,
)
from devnet.sandbox import Sandbox
from records.codec import DecodeError
from tests.clearing.support import ALICE, BOB, USDC, WETH, assert_rejected, new_sandbox, only_result


def ledger_of(box: Sandbox) -> PublishedLedger:
    return PublishedLedger.decode(get_market_proof(box.state).ledger)


def by_key(ledger: PublishedLedger) -> dict[tuple[int, bytes], tuple[int, int, int, int]]:
    return {r.key: (r.collateral, r.pending, r.cash_reserve, r.paid) for r in ledger.reserves}


def test_a_withdrawal_moves_from_collateral_to_pending_then_to_paid() -> None:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000), box.credit(BOB.address, WETH, 50)])
    assert by_key(ledger_of(box))[WETH] == (1_050, 0, 0, 0)
    tx = box.withdraw(ALICE, WETH, 400)
    box.apply([tx])
    assert by_key(ledger_of(box))[WETH] == (650, 400, 0, 0)
    assert only_result(box.apply([box.paid(ALICE.address, tx.nonce, WETH[0], signers=3)])) == (
        "ok", "",
    )  # fmt: skip
    assert by_key(ledger_of(box))[WETH] == (650, 0, 0, 400)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)


def test_a_payout_is_seen_no_earlier_than_its_chain_block() -> None:
    """A block dated before the vault's payout refuses it and changes nothing: the
    withdrawal stays pending (its tokens still in the vault read at that time)."""
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000)])
    tx = box.withdraw(ALICE, WETH, 400)
    box.apply([tx])
    payout_s = box.next_context().time_ms // 1000 + 2
    paid = box.paid(ALICE.address, tx.nonce, WETH[0], payout_time_s=payout_s)
    early_ms = box.next_context().time_ms
    detail = assert_rejected(box, paid, "PayoutNotYetDue")
    assert f"payout_time_s={payout_s}" in detail and f"block_time_ms={early_ms}" in detail
    assert by_key(ledger_of(box))[WETH] == (600, 400, 0, 0)
    box.apply([])
    assert box.next_context().time_ms == payout_s * 1000
    assert only_result(box.apply([paid])) == ("ok", "")
    assert by_key(ledger_of(box))[WETH] == (600, 0, 0, 400)


@given(credits=st.lists(st.tuples(st.booleans(), st.integers(1, 10**6)), max_size=6),
       withdrawn=st.integers(0, 10**6))  # fmt: skip
@settings(max_examples=25, deadline=None)
def test_the_reserves_are_what_the_vaults_must_hold(
    credits: list[tuple[bool, int]], withdrawn: int
) -> None:
    box = new_sandbox()
    for alice, quanta in credits:
        box.apply([box.credit((ALICE if alice else BOB).address, WETH, quanta)])
        compute_state_root(box.state)  # the cached totals follow block by block
    held = sum(q for a, q in credits if a)
    if 0 < withdrawn <= held:
        box.apply([box.withdraw(ALICE, WETH, withdrawn)])
    ledger = ledger_of(box)
    vault, collateral = count_vault_quanta(box.state), get_collateral_quanta(box.state)
    for r in ledger.reserves:
        assert r.get_held() == vault.get(r.key, 0)
        assert r.collateral == collateral.get(r.key, 0)
    assert [r.key for r in ledger.reserves] == sorted(r.key for r in ledger.reserves)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)


def test_the_defaults_and_the_insurance_fund_are_the_states() -> None:
    box = new_sandbox()
    record = DefaultRecord(1, ALICE.address, 0, 10, 10, 0, 0, 0, 0, 0, 0)
    box.state.defaults = [record]
    box.state.insurance_fund = 77
    ledger = ledger_of(box)
    assert (ledger.defaults, ledger.insurance_fund) == ((record,), 77)


def test_only_canonical_bytes_decode() -> None:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 5)])
    ledger = ledger_of(box)
    swapped = replace(ledger, reserves=ledger.reserves[::-1])
    assert len(ledger.reserves) > 1
    with pytest.raises(DecodeError, match="reserves"):
        PublishedLedger.decode(swapped.encode())
    data = ledger.encode()
    assert data[:2] == b"\x95\x03"  # [version 3, ...]: the version as a uint8 is not canonical
    with pytest.raises(DecodeError, match="not canonical"):
        PublishedLedger.decode(b"\x95\xcc\x03" + data[2:])


def test_the_paid_total_grows_past_64_bits_and_still_encodes() -> None:
    """What a vault paid since genesis only grows; what it holds is bounded, so enough
    deposits and payouts take the paid total past any fixed width."""
    box = new_sandbox()
    box.state.withdrawals_paid[USDC] = MAX_VAULT_QUANTA
    box.apply([box.credit(ALICE.address, USDC, 7)])
    box.apply([box.withdraw(ALICE, USDC, 7)])
    (record,) = box.state.pending_withdrawals.values()
    box.apply([box.paid(ALICE.address, record.nonce, USDC[0])])
    assert box.state.withdrawals_paid[USDC] == MAX_VAULT_QUANTA + 7
    assert USDC not in box.state.vault_quanta
    assert by_key(ledger_of(box))[USDC] == (0, 0, 0, MAX_VAULT_QUANTA + 7)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
