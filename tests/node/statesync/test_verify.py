"""What state sync trusts: an offer whose anchor walks from the genesis's set to a quorum's
commit of the next block, whose block is the one that next block follows, and a snapshot
of exactly the offered bytes with the committed root; anything else is refused, typed,
saying why."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from consensus.types import Block
from lightclient.anchor import Checkpoint, Trust
from lightclient.header import BlockHeader
from node.clearing_app import ClearingApp
from node.statesync.records import SnapshotOffer
from node.statesync.verify import (
    OfferBeforeCheckpoint,
    OfferRefused,
    SnapshotRefused,
    check_offer,
    check_snapshot,
)
from tests.lightclient.support import GENESIS_HASH
from tests.node.netsupport import make_block
from tests.node.statesync.support import GENESIS, make_next_header
from tests.node.statesync.support import make_offer as make_signed_offer

HEIGHT = 3
TRUST = Trust(GENESIS.genesis_time_ms + 60_000, GENESIS.genesis_time_ms)


def make_chain() -> tuple[bytes, Block, BlockHeader]:
    """The snapshot after block HEIGHT of empty blocks, that block, and the next header."""
    app = ClearingApp(GENESIS)
    for height in range(1, HEIGHT + 1):
        block = make_block(GENESIS, height, [])
        app.finalize_block(block)
    return encode_snapshot(app.state), block, make_next_header(GENESIS, app.state, block)


SNAPSHOT, BLOCK, NEXT = make_chain()


def make_offer(
    snapshot: bytes = SNAPSHOT,
    block: Block = BLOCK,
    following: BlockHeader = NEXT,
    signers: int = 3,
    block_signers: int = 3,
) -> SnapshotOffer:
    return make_signed_offer(snapshot, block, following, signers, block_signers)


def test_a_snapshot_anchored_by_the_genesis_s_set_is_trusted_and_restored() -> None:
    trusted = check_offer(make_offer(), GENESIS, GENESIS_HASH, TRUST)
    assert trusted.root == NEXT.prev_state_root and trusted.block == BLOCK
    state = check_snapshot(SNAPSHOT, trusted, GENESIS)
    assert (state.height, compute_state_root(state)) == (HEIGHT, trusted.root)


@pytest.mark.parametrize(
    ("offer", "reason"),
    [
        (make_offer(signers=2), "its anchor does not verify"),
        (make_offer(block_signers=2), "its block's certificate does not verify"),
        (make_offer(block=make_block(GENESIS, HEIGHT, [b"\x01"])), "is not the one block 4"),
        (make_offer(following=replace(NEXT, height=HEIGHT + 2)), "anchor does not verify"),
        (replace(make_offer(), anchor=b"\x93"), "does not decode"),
        (replace(make_offer(), chunk_hashes=()), "it hashes 0 chunks of its 1"),
    ],
)  # fmt: skip
def test_an_offer_the_chain_did_not_commit_is_refused(offer: SnapshotOffer, reason: str) -> None:
    with pytest.raises(OfferRefused) as info:
        check_offer(offer, GENESIS, GENESIS_HASH, TRUST)
    assert info.value.height == HEIGHT and reason in str(info.value)


def test_an_offer_before_the_checkpoint_waits_for_a_later_one() -> None:
    checkpoint = Checkpoint(HEIGHT + 2, NEXT.time_ms, NEXT.validators_hash)
    with pytest.raises(OfferBeforeCheckpoint) as info:
        check_offer(make_offer(), GENESIS, GENESIS_HASH, replace(TRUST, checkpoint=checkpoint))
    assert (info.value.height, info.value.checkpoint) == (HEIGHT, HEIGHT + 2)
    at_next = Checkpoint(HEIGHT + 1, NEXT.time_ms, NEXT.validators_hash)
    trusted = check_offer(make_offer(), GENESIS, GENESIS_HASH, replace(TRUST, checkpoint=at_next))
    assert trusted.root == NEXT.prev_state_root


def test_an_offer_of_another_genesis_is_refused() -> None:
    with pytest.raises(OfferRefused, match="anchor does not verify"):
        check_offer(make_offer(), GENESIS, hashlib.sha256(b"another").digest(), TRUST)


def test_a_snapshot_of_another_root_than_the_committed_one_is_refused() -> None:
    following = replace(NEXT, prev_state_root=bytes(32))
    trusted = check_offer(make_offer(following=following), GENESIS, GENESIS_HASH, TRUST)
    with pytest.raises(SnapshotRefused, match="state root is not the one"):
        check_snapshot(SNAPSHOT, trusted, GENESIS)


@pytest.mark.parametrize(
    ("snapshot", "offered", "reason"),
    [
        (SNAPSHOT[:-1] + b"\x00", SNAPSHOT, "not the ones offered"),
        (b"\x91\x01", b"\x91\x01", "does not decode"),
        (encode_snapshot(ClearingApp(GENESIS).state), None, "holds the state at height 0"),
    ],
)
def test_bytes_that_are_not_the_anchored_state_are_refused(
    snapshot: bytes, offered: bytes | None, reason: str
) -> None:
    trusted = check_offer(make_offer(offered or snapshot), GENESIS, GENESIS_HASH, TRUST)
    with pytest.raises(SnapshotRefused, match=reason):
        check_snapshot(snapshot, trusted, GENESIS)


def test_a_snapshot_of_the_committed_root_at_another_block_time_is_refused() -> None:
    """The root commits to no time, so the snapshot's block time is held to block H's
    header: a peer cannot shift the clock that deadlines and expiry are judged by."""
    state = decode_snapshot(GENESIS, SNAPSHOT)
    state.time_ms += 1_000
    shifted = encode_snapshot(state)
    assert compute_state_root(state) == NEXT.prev_state_root
    trusted = check_offer(make_offer(shifted), GENESIS, GENESIS_HASH, TRUST)
    with pytest.raises(SnapshotRefused, match=f"block time {state.time_ms} ms, not"):
        check_snapshot(shifted, trusted, GENESIS)
