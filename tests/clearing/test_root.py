import dataclasses
import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.governance.configuration import MAX_CONFIGURATION_BYTES, encode_configuration
from clearing.merkle import EMPTY_ROOT, MerkleTree, hash_leaf, hash_node
from clearing.risk.engine import get_solvency_market
from clearing.state import Member, Position, get_sub_account_for_write
from clearing.transition.root import (
    AccountProof,
    MarketProof,
    compute_state_root,
    compute_state_root_from_scratch,
    encode_account,
    get_account_proof,
    get_market_proof,
    verify_account_proof,
)
from clearing.transition.snapshot import decode_member
from devnet.sandbox import Sandbox
from records.codec import DecodeError
from tests.clearing.support import ALICE, USDC, WETH, fund_vaults, new_sandbox


def _member(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(4, "big")).digest()[:20]


def _populated(count: int) -> Sandbox:
    box = new_sandbox()
    for n in range(count):
        sub = get_sub_account_for_write(box.state, _member(n), n % 3)
        sub.cash = 10**12 + n * 7  # margined, so no liquidation touches other accounts
        sub.collateral[USDC] = n + 1
        sub.positions["BTC-PERP"] = Position(n - 5, 60_000_000, 60_000_000, 0, 0)
    fund_vaults(box.state)
    return box


def test_empty_tree_and_two_leaf_layout() -> None:
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT
    tree.set_leaf(b"b", b"\x02" * 32)
    tree.set_leaf(b"a", b"\x01" * 32)
    assert tree.root() == hash_node(b"\x01" * 32, b"\x02" * 32)
    tree.set_leaf(b"c", b"\x03" * 32)
    assert tree.root() == hash_node(hash_node(b"\x01" * 32, b"\x02" * 32), b"\x03" * 32)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert hash_leaf(b"", b"\x01" * 64) != hash_node(b"\x01" * 32, b"\x01" * 32)


@given(st.lists(st.tuples(st.integers(0, 40), st.binary(min_size=32, max_size=32)), max_size=80))
def test_incremental_tree_equals_rebuilt_tree(updates: list[tuple[int, bytes]]) -> None:
    incremental = MerkleTree()
    final: dict[bytes, bytes] = {}
    for i, (key, value) in enumerate(updates):
        k = key.to_bytes(2, "big")
        incremental.set_leaf(k, value)
        final[k] = value
        if i % 7 == 0:
            incremental.root()
    rebuilt = MerkleTree()
    for k, v in sorted(final.items(), reverse=True):
        rebuilt.set_leaf(k, v)
    assert incremental.root() == rebuilt.root()


def test_every_account_proof_verifies_and_tampering_fails() -> None:
    box = _populated(37)
    state = box.state
    root = compute_state_root(state)
    for address in state.members:
        found = get_account_proof(state, address)
        assert found is not None
        account, proof = found
        assert verify_account_proof(root, address, account, proof)
    account, proof = get_account_proof(state, _member(3))  # type: ignore[misc]
    tampered = bytearray(account)
    tampered[-1] ^= 1
    assert not verify_account_proof(root, _member(3), bytes(tampered), proof)
    assert not verify_account_proof(root, _member(4), account, proof)
    assert not verify_account_proof(hashlib.sha256(root).digest(), _member(3), account, proof)
    steps = list(proof.steps)
    steps[0] = (not steps[0][0], steps[0][1])
    assert not verify_account_proof(
        root, _member(3), account, AccountProof(tuple(steps), proof.globals_hash)
    )
    assert not verify_account_proof(root, _member(3), account, AccountProof(proof.steps, bytes(32)))
    assert get_account_proof(state, b"\x00" * 20) is None


def test_proof_encoding_round_trips_and_account_decodes() -> None:
    box = _populated(5)
    state = box.state
    root = compute_state_root(state)
    account, proof = get_account_proof(state, _member(2))  # type: ignore[misc]
    decoded = AccountProof.decode(proof.encode())
    assert decoded == proof and verify_account_proof(root, _member(2), account, decoded)
    member = decode_member(account)
    assert member.address == _member(2) and member.sub_accounts[2].cash == 10**12 + 2 * 7
    assert encode_account(member) == account


def test_only_dirty_accounts_are_re_encoded_and_root_matches_scratch() -> None:
    box = _populated(50)
    state = box.state
    compute_state_root(state)
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randrange(60)
        get_sub_account_for_write(state, _member(n), 0).cash += rng.randrange(-5, 5)
        assert len(state.dirty) == 1
        assert compute_state_root(state) == compute_state_root_from_scratch(state)
        assert not state.dirty


def test_account_encoding_is_canonical_regardless_of_insertion_order() -> None:
    a, b = new_sandbox(), new_sandbox()
    for box, order in ((a, [USDC, WETH]), (b, [WETH, USDC])):
        sub = get_sub_account_for_write(box.state, ALICE.address, 0)
        for key in order:
            sub.collateral[key] = 5
        for iid in ["BTC-PERP", "ETH-PERP"] if order[0] == USDC else ["ETH-PERP", "BTC-PERP"]:
            sub.positions[iid] = Position(1, 2, 3, 4, 5)
        fund_vaults(box.state)
    assert encode_account(a.state.members[ALICE.address]) == encode_account(
        b.state.members[ALICE.address]
    )
    assert compute_state_root(a.state) == compute_state_root(b.state)


def test_a_block_touching_one_member_re_encodes_only_that_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import clearing.transition.root

    box = _populated(1_000)
    box.apply([])
    calls: list[bytes] = []
    real = clearing.transition.root.encode_account

    def counting(member: Member) -> bytes:
        calls.append(member.address)
        return real(member)

    monkeypatch.setattr(clearing.transition.root, "encode_account", counting)
    box.apply([box.credit(_member(5), USDC, 1)])
    assert calls == [_member(5)]


def test_the_market_is_proven_under_the_root_and_nothing_else_is() -> None:
    box = _populated(4)
    root = compute_state_root(box.state)
    market = get_solvency_market(box.state)
    proof = get_market_proof(box.state)
    assert proof.get_root(market) == root == compute_state_root_from_scratch(box.state)
    assert MarketProof.from_fields(proof.to_fields()) == proof
    moved = dict(market.mark_prices)
    moved["BTC-PERP"] += 1
    other_marks = dataclasses.replace(market, mark_prices=tuple(sorted(moved.items())))
    later = dataclasses.replace(market, pricing_time_ms=market.pricing_time_ms + 60_000)
    for wrong in (other_marks, later):
        assert proof.get_root(wrong) != root
    assert dataclasses.replace(proof, records_hash=bytes(32)).get_root(market) != root
    # a mark is state: the committed root moves with it, and proves the new market
    box.state.mark_prices["BTC-PERP"] += 1
    moved_root = compute_state_root(box.state)
    assert moved_root != root
    assert get_market_proof(box.state).get_root(other_marks) == moved_root


def test_a_block_that_changes_only_the_height_and_time_leaves_the_root() -> None:
    """CometBFT proposes at once after a block that changed the app hash and waits for
    transactions after one that did not: an idle chain's root must stay put. Positions
    are open and options listed (the example genesis prices them on a one-minute grid)."""
    box = _populated(4)
    before = (box.state.height, box.state.time_ms)
    roots = {box.apply([]).state_root for _ in range(5)}
    assert len(roots) == 1 and (box.state.height, box.state.time_ms) != before
    assert roots == {compute_state_root_from_scratch(box.state)}
    box.block_interval_ms = 60_000
    assert box.apply([]).state_root not in roots


def test_the_configuration_in_force_is_proven_under_the_root() -> None:
    """The market proof carries the configuration's canonical bytes: other bytes (a scan
    range changed) give another root, and a change governance installs moves the root
    and the proof's bytes with it."""
    box = _populated(2)
    root = compute_state_root(box.state)
    market = get_solvency_market(box.state)
    proof = get_market_proof(box.state)
    assert proof.configuration == encode_configuration(box.state.genesis)
    assert json.loads(proof.configuration)["risk"] == box.state.genesis.risk
    changed = proof.configuration.replace(b'"scan_bps":1500', b'"scan_bps":1600', 1)
    assert changed != proof.configuration
    assert dataclasses.replace(proof, configuration=changed).get_root(market) != root
    risk = {**box.state.genesis.risk, "extreme_multiple": 3}
    box.state.genesis = dataclasses.replace(box.state.genesis, risk=risk)
    moved = compute_state_root(box.state)
    assert moved != root == proof.get_root(market)
    assert moved == get_market_proof(box.state).get_root(market)
    assert moved == compute_state_root_from_scratch(box.state)


def test_a_market_proof_bounds_its_configuration() -> None:
    proof = get_market_proof(new_sandbox().state)
    fields: list[object] = proof.to_fields()
    fields[1] = b" " * (MAX_CONFIGURATION_BYTES + 1)
    with pytest.raises(DecodeError, match=f"{MAX_CONFIGURATION_BYTES + 1} bytes exceed"):
        MarketProof.from_fields(fields)
    fields[1] = "text"
    with pytest.raises(DecodeError, match="configuration"):
        MarketProof.from_fields(fields)
