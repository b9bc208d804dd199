"""Aggregated range proofs: completeness, soundness against tampering, backends agree."""

from __future__ import annotations

import pytest

from proofs.bulletproofs import RangeProof, compute_proof_size, prove_range, verify_range
from proofs.errors import ProverError, ReportDecodeError
from proofs.group import Group, R
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.pure_python_group import PURE_PYTHON
from proofs.pyecc_group import REFERENCE
from proofs.transcript import Transcript


def _setup(group: Group, values: list[int], n: int):  # type: ignore[no-untyped-def]
    gens = get_generators(group)
    blindings = [(i + 1) * 0x1234567890ABCDEF % R for i in range(len(values))]
    commitments = [gens.commit(v, b) for v, b in zip(values, blindings, strict=True)]

    def transcript() -> Transcript:
        t = Transcript(b"test-range")
        for c in commitments:
            t.append_point(b"V", group.encode(c))
        return t

    return gens, blindings, commitments, transcript


@pytest.mark.parametrize("values", [[0], [1, 2**64 - 1], [5, 0, 2**63, 17]])
def test_honest_proof_verifies(values: list[int]) -> None:
    gens, blindings, commitments, transcript = _setup(FAST, values, 64)
    proof = prove_range(gens, transcript(), values, blindings)
    encoded = proof.encode()
    m = len(values) if len(values) != 3 else 4
    assert len(encoded) == compute_proof_size(m)
    assert RangeProof.decode(encoded, m) == proof
    assert verify_range(gens, transcript(), commitments, proof)


def test_proving_is_deterministic() -> None:
    gens, blindings, _, transcript = _setup(FAST, [3, 4], 64)
    first = prove_range(gens, transcript(), [3, 4], blindings).encode()
    assert prove_range(gens, transcript(), [3, 4], blindings).encode() == first


@pytest.mark.parametrize("value", [2**64, -1, R - 1])
def test_prover_refuses_out_of_range(value: int) -> None:
    gens, blindings, _, transcript = _setup(FAST, [1, 2], 64)
    with pytest.raises(ProverError) as info:
        prove_range(gens, transcript(), [1, value], blindings)
    assert info.value.index == 1


def test_every_proof_byte_matters() -> None:
    values = [7, 9]
    gens, blindings, commitments, transcript = _setup(FAST, values, 8)
    encoded = prove_range(gens, transcript(), values, blindings, n=8).encode()
    for position in range(0, len(encoded), 7):
        tampered = bytearray(encoded)
        tampered[position] ^= 0x01
        try:
            proof = RangeProof.decode(bytes(tampered), 2, 8)
        except ReportDecodeError:
            continue
        assert not verify_range(gens, transcript(), commitments, proof, n=8), position


def test_changed_commitment_or_transcript_is_rejected() -> None:
    values = [7, 9]
    gens, blindings, commitments, transcript = _setup(FAST, values, 8)
    proof = prove_range(gens, transcript(), values, blindings, n=8)
    moved = [commitments[0], FAST.add(commitments[1], gens.G)]
    assert not verify_range(gens, transcript(), moved, proof, n=8)
    assert not verify_range(gens, Transcript(b"other"), commitments, proof, n=8)


def test_wrapped_value_cannot_be_proven_with_a_forged_witness() -> None:
    """A commitment to -1 (i.e. R - 1): prove as if it were 2^8 - 1 with the same
    blinding; the proof verifies only for a commitment to 255, not to -1."""
    gens = get_generators(FAST)
    commitment = gens.commit(-1, 99)
    t = Transcript(b"wrap")
    forged = prove_range(gens, t.copy(), [255], [99], n=8)
    assert not verify_range(gens, t.copy(), [commitment], forged, n=8)


@pytest.mark.parametrize("group", [PURE_PYTHON, REFERENCE], ids=lambda g: g.name)
def test_backends_agree_byte_for_byte(group: Group) -> None:  # type: ignore[type-arg]
    values = [200, 3]
    fast = _setup(FAST, values, 8)
    ref = _setup(group, values, 8)
    assert [FAST.encode(c) for c in fast[2]] == [group.encode(c) for c in ref[2]]
    p_fast = prove_range(fast[0], fast[3](), values, fast[1], n=8)
    p_ref = prove_range(ref[0], ref[3](), values, ref[1], n=8)
    assert p_fast.encode() == p_ref.encode()
    assert verify_range(ref[0], ref[3](), ref[2], p_fast, n=8)
    g_fast, h_fast = fast[0].vectors(4)
    g_ref, h_ref = ref[0].vectors(4)
    assert [FAST.encode(p) for p in g_fast + h_fast] == [group.encode(p) for p in g_ref + h_ref]
