"""The pure-Python group (proofs/pure_python_group.py, proofs/affine_msm.py) against py-ecc's
reference and the native core: the same points, sums and encodings, on and off the
subgroup, through every branch of its batched affine additions; and the report vectors'
verdicts where it serves, without the native core."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import proofs.backends as backends
from proofs.affine_msm import P, get_window_bits, pippenger, to_affine
from proofs.errors import ReportDecodeError
from proofs.group import Group, R
from proofs.native_group import FAST
from proofs.pedersen import TABLE_PATH, TABLE_POINT_BYTES
from proofs.pure_python_group import PURE_PYTHON, Point, decode_uncompressed, uncompress
from proofs.pyecc_group import REFERENCE
from tests.proofs.points import make_off_subgroup_point
from tests.vectors import test_reports

_TABLE = TABLE_PATH.read_bytes()
_GENERATORS = [_TABLE[i * TABLE_POINT_BYTES :][:TABLE_POINT_BYTES] for i in (0, 1, 2, 3, 2051)]
_ENCODINGS = [
    *(PURE_PYTHON.encode(decode_uncompressed(entry)) for entry in _GENERATORS),
    make_off_subgroup_point(3),
    make_off_subgroup_point(1000),
]
POOL: list[Point] = [PURE_PYTHON.decode_point(e) for e in _ENCODINGS]
POOL += [PURE_PYTHON.neg(p) for p in POOL] + [None]
"""Points of the subgroup and off it, each with its negation, and the identity."""
REFERENCE_POOL = [REFERENCE.decode_point(PURE_PYTHON.encode(p)) for p in POOL]

scalars = st.one_of(st.integers(0, 2 * R), st.sampled_from([0, 1, 2, R - 1, R, R + 1]))
terms = st.lists(st.tuples(st.integers(0, len(POOL) - 1), scalars), max_size=6)


@settings(max_examples=100, deadline=None)
@given(terms)
def test_msm_and_the_group_operations_give_py_eccs_points(drawn: list[tuple[int, int]]) -> None:
    """Repeated and opposite points make buckets double and cancel."""
    ks = [k for _, k in drawn]
    ours = [POOL[i] for i, _ in drawn]
    refs = [REFERENCE_POOL[i] for i, _ in drawn]
    assert PURE_PYTHON.encode(PURE_PYTHON.msm(ours, ks)) == REFERENCE.encode(
        REFERENCE.msm(refs, ks)
    )
    assert PURE_PYTHON.encode(PURE_PYTHON.sum(ours)) == REFERENCE.encode(REFERENCE.sum(refs))
    if len(drawn) >= 2:
        (a, b), (ra, rb) = ours[:2], refs[:2]
        assert PURE_PYTHON.encode(PURE_PYTHON.add(a, b)) == REFERENCE.encode(REFERENCE.add(ra, rb))
        assert PURE_PYTHON.eq(a, b) == REFERENCE.eq(ra, rb)
        assert PURE_PYTHON.encode(PURE_PYTHON.mul(a, ks[0])) == REFERENCE.encode(
            REFERENCE.mul(ra, ks[0])
        )


def _double_and_add(point: Point, k: int) -> Point:
    """k·point by the group's single additions: the plainest way there is."""
    result: Point = None
    for bit in bin(k % R)[2:]:
        result = PURE_PYTHON.add(result, result)
        if bit == "1":
            result = PURE_PYTHON.add(result, point)
    return result


def test_every_branch_of_the_batched_additions() -> None:
    """Equal points in a bucket (a doubling), opposite ones (nothing left), a running sum
    that cancels a bucket, a total that cancels its running sum."""
    a, b = POOL[0], POOL[5]  # in the subgroup, off it
    assert a is not None and b is not None
    minus_2a = PURE_PYTHON.neg(_double_and_add(a, 2))
    assert minus_2a is not None
    cases: list[tuple[list[tuple[tuple[int, int], int]], Point]] = [
        ([(a, 1), (a, 1)], _double_and_add(a, 2)),
        ([(b, 5), (b, 5), (b, 5)], _double_and_add(b, 15)),
        ([(a, 3), ((a[0], P - a[1]), 3)], None),
        ([(a, 2), (minus_2a, 1)], None),  # running sum a, then -a: the total a - a
        ([(a, 2), ((a[0], P - a[1]), 1)], a),  # running sum a, then a - a
        ([(a, R - 1), (a, 1)], None),
    ]
    for c in (2, 3, 4):
        for given_terms, expected in cases:
            assert to_affine(pippenger(given_terms, c)) == expected, (c, given_terms)


def test_pippenger_at_every_window_width_gives_the_native_cores_sum() -> None:
    rng = random.Random(9)
    points = [p for p in POOL if p is not None] * 6  # each point 6 times, and its negation
    ks = [rng.randrange(1, R) for _ in points]
    ks[:4] = [1, R - 1, 1 << 254, (1 << 255) % R]  # the widest digits and carries
    native = [FAST.decode_point(PURE_PYTHON.encode(p)) for p in points]
    expected = FAST.encode(FAST.msm(native, ks))
    for c in range(2, 13):
        found = to_affine(pippenger(list(zip(points, ks, strict=True)), c))
        assert PURE_PYTHON.encode(found) == expected, c
    assert 2 <= get_window_bits(len(points)) <= 12


flags = st.integers(0, 7).map(lambda f: f << 381)
xs = st.one_of(
    st.integers(0, (1 << 381) - 1),
    st.sampled_from([0, 1, 4, P - 1, P, P + 1, (1 << 381) - 1]),
    st.sampled_from([int.from_bytes(e, "big") & ((1 << 381) - 1) for e in _ENCODINGS]),
)


def _decoded(group: Group[Any], data: bytes) -> bytes | None:
    """The point's encoding again, or None where `group` refuses the bytes."""
    try:
        return group.encode(group.decode_point(data))
    except ReportDecodeError:
        return None


@settings(max_examples=300, deadline=None)
@given(flags, xs)
def test_decoding_refuses_and_accepts_what_py_ecc_and_the_native_core_do(flag: int, x: int) -> None:
    data = (flag | x).to_bytes(48, "big")
    found = _decoded(PURE_PYTHON, data)
    assert found == _decoded(REFERENCE, data) == _decoded(FAST, data)
    assert found is None or found == data


def test_the_table_is_uncompressed_and_a_changed_entry_is_refused() -> None:
    entry = _GENERATORS[0]
    point = decode_uncompressed(entry)
    assert uncompress(PURE_PYTHON.encode(point)) == entry
    changed = [
        entry[:-1] + bytes([entry[-1] ^ 1]),  # y off the curve
        bytes([entry[0] | 0x80]) + entry[1:],  # the compressed flag
        bytes([entry[0] | 0x40]) + entry[1:],  # the infinity flag
        entry[:48],
    ]
    for data in changed:
        with pytest.raises(ValueError):
            decode_uncompressed(data)
    with pytest.raises(ValueError):
        uncompress(PURE_PYTHON.encode(None))


# A valid report with a member's openings, and an aggregate that does not hold (a batch
# that names its failing proofs is test_native.py's, at a smaller size).
LIGHT_VECTORS = ["member-openings", "wrong-aggregate"]


@pytest.mark.parametrize("name", LIGHT_VECTORS)
def test_report_vectors_give_their_verdicts_without_the_native_core(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`clearnode verify` as clearnode-client runs it, on the pure-Python group."""
    monkeypatch.setattr(backends, "get_native", lambda: None)
    assert backends.get_fastest() is PURE_PYTHON
    test_reports.test_the_python_verifier_gives_the_expected_verdict(name)
