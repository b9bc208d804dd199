import copy
import functools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing import report_commitment
from clearing.attestation import Attestation, sign_attestation
from clearing.report_commitment import (
    REPORT_CHAIN_START,
    REPORT_DOMAIN,
    ReportCommitment,
    ReportHashChain,
    compute_report_hashes_digest,
    compute_report_signing_bytes,
)
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.transition.tx import decode_tx, encode_tx
from devnet.sandbox import Sandbox
from records.codec import DecodeError
from tests.clearing.support import assert_rejected, new_sandbox, only_result

HASH_A = bytes(range(32))
HASH_B = bytes(range(1, 33))


def commitment(box: Sandbox, epoch: int, report_hash: bytes, signers: int = 3) -> ReportCommitment:
    return ReportCommitment(
        epoch, report_hash, box.attest(REPORT_DOMAIN, [epoch, report_hash], signers)
    )


def reach_epoch(box: Sandbox, epoch: int) -> None:
    while box.state.height < epoch * box.genesis.epoch_length_blocks:
        box.apply([])


@functools.cache
def _at_epoch_3() -> Sandbox:
    box = new_sandbox()
    reach_epoch(box, 3)
    return box


def sandbox_at_epoch_3() -> Sandbox:
    """A fresh sandbox at the end of epoch 3 (300 empty blocks, 2.4 s to apply: built once,
    copied for each example)."""
    return copy.deepcopy(_at_epoch_3())


def test_signing_bytes_bind_chain_epoch_and_hash() -> None:
    base = compute_report_signing_bytes(4242, 1, HASH_A)
    assert base != compute_report_signing_bytes(4243, 1, HASH_A)
    assert base != compute_report_signing_bytes(4242, 2, HASH_A)
    assert base != compute_report_signing_bytes(4242, 1, HASH_B)


def test_quorum_signed_hash_is_recorded_once_and_enters_the_root() -> None:
    box = new_sandbox()
    reach_epoch(box, 1)
    root_before = compute_state_root(box.state)
    block = box.apply([commitment(box, 1, HASH_A)])
    assert only_result(block) == ("ok", "")
    (event,) = block.tx_results[0].events
    assert event.kind == "report_committed" and event.get("epoch") == 1
    assert box.state.report_hashes == {1: HASH_A}
    assert block.state_root != root_before
    assert block.state_root == compute_state_root_from_scratch(box.state)
    detail = assert_rejected(box, commitment(box, 1, HASH_A), "ReportAlreadyCommitted")
    assert "epoch=1" in detail


def test_a_second_different_hash_is_a_conflict() -> None:
    box = new_sandbox()
    reach_epoch(box, 1)
    box.apply([commitment(box, 1, HASH_A)])
    detail = assert_rejected(box, commitment(box, 1, HASH_B), "ConflictingReportHash")
    assert f"committed=0x{HASH_A.hex()}" in detail and f"proposed=0x{HASH_B.hex()}" in detail
    assert box.state.report_hashes == {1: HASH_A}


def test_a_future_epoch_is_refused() -> None:
    box = new_sandbox()
    length = box.genesis.epoch_length_blocks
    detail = assert_rejected(box, commitment(box, 1, HASH_A), "ReportEpochNotReached")
    assert f"epoch_length={length}" in detail and "height=1" in detail
    assert box.state.report_hashes == {}


def test_without_quorum_or_with_a_forged_signature_nothing_is_recorded() -> None:
    box = new_sandbox()
    reach_epoch(box, 1)
    detail = assert_rejected(box, commitment(box, 1, HASH_A, signers=2), "QuorumNotReached")
    assert "signed_power=20" in detail
    tx = commitment(box, 1, HASH_A)
    forged = Attestation(tx.attestations[0].signer, bytes(64))
    assert_rejected(box, replace(tx, attestations=(forged, *tx.attestations[1:])), "BadSignature")
    assert box.state.report_hashes == {}


def test_signatures_for_another_chain_or_epoch_do_not_transfer() -> None:
    box = new_sandbox()
    reach_epoch(box, 2)
    other_chain = tuple(
        sign_attestation(k, REPORT_DOMAIN, box.chain_id + 1, [1, HASH_A])
        for k in box.signing_keys(4)
    )
    assert_rejected(box, ReportCommitment(1, HASH_A, other_chain), "BadSignature")
    epoch_two = commitment(box, 2, HASH_A)
    assert_rejected(box, replace(epoch_two, epoch=1), "BadSignature")
    other_hash = commitment(box, 1, HASH_B)
    assert_rejected(box, replace(other_hash, report_hash=HASH_A), "BadSignature")
    assert box.state.report_hashes == {}


def test_encoding_round_trips_and_rejects_bad_fields() -> None:
    box = new_sandbox()
    tx = commitment(box, 3, HASH_A)
    assert decode_tx(encode_tx(tx)) == tx
    for bad in (replace(tx, report_hash=b"\x01" * 31), replace(tx, epoch=0)):
        try:
            decode_tx(encode_tx(bad))
        except DecodeError:
            continue
        raise AssertionError(f"{bad} decoded")


def test_report_hashes_survive_a_snapshot() -> None:
    """Epoch 1 committed after epoch 2 (a late report): the restored state has the
    same hashes and the same root, and its digest goes on from there."""
    box = new_sandbox()
    reach_epoch(box, 2)
    box.apply([commitment(box, 2, HASH_B)])
    box.apply([commitment(box, 1, HASH_A)])
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.report_hashes == {1: HASH_A, 2: HASH_B}
    assert compute_state_root(restored) == compute_state_root(box.state)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
    before = compute_state_root(restored)
    restored.report_hashes[3] = HASH_A  # what committing epoch 3 records
    assert compute_state_root(restored) == compute_state_root_from_scratch(restored) != before


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.sampled_from([HASH_A, HASH_B]),
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_first_quorum_hash_per_epoch_wins_forever(
    attempts: list[tuple[int, bytes, int]],
) -> None:
    """Whatever commitments arrive, in any order, each epoch keeps the first hash that
    had a quorum (3 of 4 equal powers) and the state root always matches from scratch."""
    box = sandbox_at_epoch_3()
    expected: dict[int, bytes] = {}
    for epoch, report_hash, signers in attempts:
        (result,) = box.apply([commitment(box, epoch, report_hash, signers)]).tx_results
        if signers >= 3 and epoch not in expected:
            expected[epoch] = report_hash
            assert result.is_ok(), result.detail
        else:
            assert not result.is_ok()
        assert box.state.report_hashes == expected
        assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert compute_state_root(restored) == compute_state_root(box.state)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 40), st.binary(min_size=32, max_size=32), st.booleans()),
        max_size=30,
    )
)
def test_the_incremental_report_digest_equals_a_recomputation(
    steps: list[tuple[int, bytes, bool]],
) -> None:
    """Epochs committed in any order (late ones included), the digest read after any
    of them, a copied state: the running value is always the from-scratch one."""
    hashes: dict[int, bytes] = {}
    chain = ReportHashChain(hashes)
    for epoch, report_hash, read in steps:
        hashes.setdefault(epoch, report_hash)
        if read:
            assert chain.get_digest(hashes) == compute_report_hashes_digest(hashes)
    copied = copy.deepcopy((hashes, chain))
    assert chain.get_digest(hashes) == compute_report_hashes_digest(hashes)
    assert copied[1].get_digest(copied[0]) == compute_report_hashes_digest(hashes)
    assert chain.get_digest(dict(hashes)) == compute_report_hashes_digest(hashes)


def test_a_new_epoch_costs_one_link_however_long_the_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashes = {epoch: bytes([epoch % 256]) * 32 for epoch in range(1, 1001)}
    chain = ReportHashChain(hashes)
    chain.get_digest(hashes)
    links = []
    real = report_commitment.compute_report_chain_link

    def counting(previous: bytes, epoch: int, report_hash: bytes) -> bytes:
        links.append(epoch)
        return real(previous, epoch, report_hash)

    monkeypatch.setattr(report_commitment, "compute_report_chain_link", counting)
    chain.get_digest(hashes)  # a block without a commitment
    hashes[1001] = HASH_A
    digest = chain.get_digest(hashes)
    assert links == [1001]
    assert digest == compute_report_hashes_digest(hashes)
    assert compute_report_hashes_digest({}) == REPORT_CHAIN_START
