from dataclasses import replace

from clearing.eip712 import sign_typed
from clearing.state import get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, BOB, USDC, WETH, assert_rejected, new_sandbox, only_result


def _funded() -> Sandbox:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, USDC, 1_000), box.credit(ALICE.address, WETH, 100)])
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = 500
    return box


def test_cash_and_collateral_move_between_own_sub_accounts() -> None:
    box = _funded()
    block = box.apply([box.transfer(ALICE, 0, 2, 200), box.transfer(ALICE, 0, 2, 40, WETH)])
    assert [r.code for r in block.tx_results] == ["ok", "ok"]
    subs = box.state.members[ALICE.address].sub_accounts
    assert (subs[0].cash, subs[2].cash) == (300, 200)
    assert (subs[0].collateral[WETH], subs[2].collateral[WETH]) == (60, 40)


def test_moving_everything_leaves_no_zero_entry() -> None:
    box = _funded()
    assert only_result(box.apply([box.transfer(ALICE, 0, 1, 100, WETH)]))[0] == "ok"
    assert WETH not in box.state.members[ALICE.address].sub_accounts[0].collateral


def test_to_the_same_sub_account_is_rejected() -> None:
    box = _funded()
    assert_rejected(box, box.transfer(ALICE, 0, 0, 1), "SameSubAccount")


def test_more_cash_than_held_is_rejected_with_numbers() -> None:
    box = _funded()
    detail = assert_rejected(box, box.transfer(ALICE, 0, 1, 501), "InsufficientCash")
    assert "available=500" in detail and "requested=501" in detail


def test_more_collateral_than_held_is_rejected() -> None:
    box = _funded()
    assert_rejected(box, box.transfer(ALICE, 0, 1, 101, WETH), "InsufficientCollateral")


def test_collateral_backing_negative_cash_cannot_leave() -> None:
    box = _funded()
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -271_000  # equity exactly 0
    box.apply([])  # the USDC pays 1_000 of the debt at the end of a block
    assert box.state.members[ALICE.address].sub_accounts[0].cash == -270_000
    detail = assert_rejected(box, box.transfer(ALICE, 0, 1, 1, WETH), "InsufficientEquity")
    assert "requirement=0" in detail


def test_unknown_member_sub_account_and_token() -> None:
    box = _funded()
    assert_rejected(box, box.transfer(BOB, 0, 1, 1), "UnknownMember")
    assert_rejected(box, box.transfer(ALICE, 7, 1, 1), "UnknownSubAccount")
    assert_rejected(box, box.transfer(ALICE, 0, 1, 1, (31337, b"\x09" * 20)), "UnknownCollateral")


def test_replayed_nonce_is_rejected() -> None:
    box = _funded()
    tx = box.transfer(ALICE, 0, 1, 1)
    box.apply([tx])
    assert_rejected(box, tx, "NonceReused")


def test_signature_of_another_key_or_chain_is_rejected() -> None:
    box = _funded()
    by_bob = replace(box.transfer(BOB, 0, 1, 1), member=ALICE.address)
    assert_rejected(box, by_bob, "BadSignature")
    mine = box.transfer(ALICE, 0, 1, 1)
    signed_by_bob = replace(
        mine, signature=sign_typed(BOB.private_key, mine.signable(box.chain_id))
    )
    detail = assert_rejected(box, signed_by_bob, "BadSignature")
    # what a client developer needs: who signed it, and the domain it had to be signed under
    assert f"recovered=0x{BOB.address.hex()}" in detail
    assert 'domain=\'{name: "clearnode", version: "1", chainId: 4242}\'' in detail
    other = new_sandbox()
    other.genesis = replace(other.genesis, chain_id=1)
    detail = assert_rejected(box, other.transfer(ALICE, 0, 1, 1), "BadSignature")
    assert f"recovered=0x{ALICE.address.hex()}" not in detail  # another domain: another hash
    detail = assert_rejected(
        box, replace(box.transfer(ALICE, 0, 1, 1), signature=b"\x01" * 65), "BadSignature"
    )
    assert "recovered=b''" in detail or "recovered=0x" in detail
