"""Property tests: the packed outer-product sum, and the statement's completeness
(an account proves iff every input and scenario value is in range)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs.backends import get_backend
from proofs.errors import ProverError
from proofs.group import R
from proofs.msm import compute_outer_sum
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.statement import SIGNED_OFFSET, SolvencyStatement, prove_solvency, verify_solvency

scalars = st.integers(min_value=0, max_value=R - 1)


@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda cols: st.lists(
            st.tuples(
                st.lists(scalars, min_size=1, max_size=4),
                st.lists(scalars, min_size=cols, max_size=cols),
            ),
            max_size=6,
        ).map(lambda terms: (cols, terms))
    )
)
def test_outer_sum_matches_the_naive_sum(case: tuple[int, list]) -> None:  # type: ignore[type-arg]
    cols, terms = case
    rows = max((len(hi) for hi, _ in terms), default=1)
    naive = [0] * (rows * cols)
    for hi, lo in terms:
        for j, a in enumerate(hi):
            for t, b in enumerate(lo):
                naive[j * cols + t] = (naive[j * cols + t] + a * b) % R
    assert compute_outer_sum(terms, rows, cols) == naive


STATEMENT = SolvencyStatement(
    ("cash", "collateral:1:0x01", "position:X"),
    (SIGNED_OFFSET, 0, SIGNED_OFFSET),
    ((1, 5, -3), (1, 5, 3)),
)
inputs = st.tuples(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(min_value=-(2**20), max_value=2**65),
    st.integers(min_value=-(2**64), max_value=2**64),
)


@settings(max_examples=25)
@given(inputs, st.lists(scalars, min_size=3, max_size=3))
def test_an_account_proves_exactly_when_every_value_is_in_range(
    x: tuple[int, int, int], blindings: list[int]
) -> None:
    gens = get_generators(FAST)
    values = STATEMENT.compute_values(list(x))
    in_range = all(0 <= v < 2**64 for v in values)
    try:
        commitments, proof = prove_solvency(gens, STATEMENT, b"ctx", list(x), blindings)
    except ProverError as exc:
        assert not in_range
        assert not 0 <= values[exc.index] < 2**64
        return
    assert in_range
    assert verify_solvency(gens, STATEMENT, b"ctx", commitments, proof.encode())
    assert not verify_solvency(gens, STATEMENT, b"other", commitments, proof.encode())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pure-python", "py-ecc"])
def test_pure_python_backends_prove_the_same_bytes_and_verify(name: str) -> None:
    group = get_backend(name)
    statement = SolvencyStatement(("cash",), (SIGNED_OFFSET,), ((3,),))
    fast = prove_solvency(get_generators(FAST), statement, b"ctx", [12], [77])
    ref = prove_solvency(get_generators(group), statement, b"ctx", [12], [77])
    assert fast[0] == ref[0] and fast[1].encode() == ref[1].encode()
    assert verify_solvency(get_generators(group), statement, b"ctx", *fast[0:1], fast[1].encode())
