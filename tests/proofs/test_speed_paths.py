"""The fast paths give the bytes of the plain algorithms: parallel msm, lazy folding."""

from __future__ import annotations

import hashlib
import random

import pytest

import proofs.msm as msm_module
from proofs.bulletproofs import N_BITS
from proofs.drafting import get_blindings
from proofs.group import Group, R
from proofs.msm import MsmCheck
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.pure_python_group import PURE_PYTHON
from proofs.pyecc_group import REFERENCE
from proofs.report import compute_account_context
from proofs.sample import make_sample_book, make_sample_form
from proofs.statement import get_statement, prove_solvency, verify_solvency

# SHA3-256 of commitments || proof for the benchmark's account (m = 32, 11 IPA
# rounds, two rebases of the lazy fold), as the point-by-point folding prover made it.
M32_PROOF_SHA3 = "84864d66a73a131131a04ec960852edacb4fca70d4c5b3a53fb7c8067ded5e03"


def test_split_msm_matches_serial_and_reference() -> None:
    """The native msm splits a large sum over the cores, msm_batch sums each job on one."""
    rng = random.Random(7)
    g, h = get_generators(FAST).vectors(1500)
    scalars = [rng.randrange(R) for _ in range(3000)]
    jobs = [(g[:700], scalars[:700]), (h[:3], scalars[3:6]), ([], []), (g + h, scalars)]
    split = [FAST.encode(FAST.msm(p, s)) for p, s in jobs]
    assert [FAST.encode(x) for x in FAST.msm_batch(jobs)] == split
    _, h_ref = get_generators(REFERENCE).vectors(3)
    assert REFERENCE.encode(REFERENCE.msm(h_ref, scalars[3:6])) == split[1]
    with pytest.raises(ValueError):
        FAST.msm_batch([(g[:3], scalars[:2]), (g[:300], scalars[:300])])


@pytest.mark.parametrize("group", [FAST, PURE_PYTHON, REFERENCE], ids=lambda g: g.name)
def test_background_sums_keep_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
    group: Group,  # type: ignore[type-arg]
) -> None:
    monkeypatch.setattr(msm_module, "_FLUSH_POINTS", 3)
    gens = get_generators(group)
    points = [gens.G, gens.H, gens.U, group.add(gens.G, gens.H)]
    balanced = MsmCheck(gens, N_BITS)
    balanced.add_points(points, [1, 2, 3, 4])
    balanced.add_points(points[:2], [-5, R - 6])
    balanced.add_point(gens.U, -3)
    assert balanced.is_identity()
    unbalanced = MsmCheck(gens, N_BITS)
    unbalanced.add_points(points, [1, 2, 3, 4])
    unbalanced.add_points(points[:2], [-5, -5])
    unbalanced.add_point(gens.U, -3)
    assert not unbalanced.is_identity()


@pytest.mark.parametrize(
    ("blas", "chunk", "numpy"),
    [(1, 2, True), (1, 1 << 20, True), (10**6, 1 << 20, True), (1, 2, False)],
)
def test_outer_sum_is_exact_at_the_extremes(
    monkeypatch: pytest.MonkeyPatch, blas: int, chunk: int, numpy: bool
) -> None:
    """Largest entries, short hi vectors, several chunks; BLAS and packed ints, and packed
    ints for every size where numpy is not installed (clearnode-client)."""
    monkeypatch.setattr(msm_module, "_BLAS_TERMS", blas)
    monkeypatch.setattr(msm_module, "_CHUNK_TERMS", chunk)
    monkeypatch.setattr(msm_module, "_PACKED_CHUNK_TERMS", chunk)
    monkeypatch.setattr(msm_module, "HAS_NUMPY", numpy)
    rng = random.Random(11)

    def vector(size: int) -> list[int]:
        return [rng.randrange(R) for _ in range(size)]

    terms = [([R - 1] * 3, [R - 1] * 5)] * 40 + [
        (vector(rng.randrange(1, 4)), vector(5)) for _ in range(9)
    ]
    naive = [0] * 15
    for hi, lo in terms:
        for j, a in enumerate(hi):
            for t, b in enumerate(lo):
                naive[j * 5 + t] += a * b
    assert msm_module.compute_outer_sum(terms, 3, 5) == [x % R for x in naive]
    assert msm_module.compute_outer_sum([], 3, 5) == [0] * 15


def test_lazy_folding_prover_keeps_the_bytes() -> None:
    gens = get_generators(FAST)
    form = make_sample_form(3, 12, 16, seed=1)
    statement = get_statement(form)
    book = make_sample_book(form, 2, seed=2)
    key = sorted(book)[0]
    context = compute_account_context(1, 1, bytes(32), key)
    blindings = get_blindings(b"bench-seed", 1, key, statement.input_labels)
    commitments, proof = prove_solvency(gens, statement, context, book[key], blindings)
    assert statement.padded_count == 32
    digest = hashlib.sha3_256(b"".join(commitments) + proof.encode()).hexdigest()
    assert digest == M32_PROOF_SHA3
    assert verify_solvency(gens, statement, context, commitments, proof.encode())
