"""The native core (native/) against the Python code it replaces: the same proof bytes
from the same blindings, the same verdicts, exact arithmetic off the subgroup too."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from proofs.errors import ProverError
from proofs.group import Group, R
from proofs.native_group import FAST, NativeGroup
from proofs.pedersen import get_generators
from proofs.pure_python_group import PURE_PYTHON
from proofs.pyecc_group import REFERENCE
from proofs.statement import (
    SIGNED_OFFSET,
    SolvencyClaim,
    SolvencyStatement,
    check_provable,
    prove_solvency,
    verify_solvency,
    verify_solvency_batch,
)
from tests.proofs.points import make_off_subgroup_point

# The Python prover and verifier of proofs/, driving the native arithmetic.
PYTHON_PATH = NativeGroup(proves=False)


@st.composite
def cases(draw: st.DrawFn) -> tuple[SolvencyStatement, list[int], list[int]]:
    width = draw(st.integers(1, 5))
    labels = tuple(f"position:{i}" for i in range(width))
    offsets = tuple(draw(st.sampled_from([0, SIGNED_OFFSET])) for _ in range(width))
    coefficient = st.integers(-1000, 1000)
    rows = draw(st.lists(st.tuples(*[coefficient] * width), max_size=3))
    statement = SolvencyStatement(labels, offsets, tuple(rows))
    inputs = [
        draw(st.integers(-o, (1 << 64) - 1 - o) if o else st.integers(0, 1 << 50)) for o in offsets
    ]
    blindings = draw(st.lists(st.integers(0, (1 << 256) - 1), min_size=width, max_size=width))
    return statement, inputs, blindings


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.binary(max_size=40))
def test_native_prover_gives_the_python_provers_bytes(
    case: tuple[SolvencyStatement, list[int], list[int]], context: bytes
) -> None:
    statement, inputs, blindings = case
    try:
        check_provable(statement, inputs)
    except ProverError:
        assume(False)
    native = prove_solvency(get_generators(FAST), statement, context, inputs, blindings)
    python = prove_solvency(get_generators(PYTHON_PATH), statement, context, inputs, blindings)
    assert native[0] == python[0]
    assert native[1].encode() == python[1].encode()
    proof = native[1].encode()
    for gens in (get_generators(FAST), get_generators(PYTHON_PATH)):
        assert verify_solvency(gens, statement, context, native[0], proof)
        assert not verify_solvency(gens, statement, context + b"!", native[0], proof)


STATEMENT = SolvencyStatement(("cash", "position:x"), (SIGNED_OFFSET, SIGNED_OFFSET), ((2, 3),))


def _claims() -> list[SolvencyClaim]:
    gens = get_generators(FAST)
    claims = []
    for i, inputs in enumerate([[5, 1], [7, -2], [100, 3]]):
        context = bytes([i])
        commitments, proof = prove_solvency(gens, STATEMENT, context, inputs, [11 + i, 12 + i])
        claims.append(SolvencyClaim(context, commitments, proof.encode()))
    return claims


def _tamper(claim: SolvencyClaim, offset: int, value: bytes) -> SolvencyClaim:
    proof = claim.proof[:offset] + value + claim.proof[offset + len(value) :]
    return SolvencyClaim(claim.context, claim.commitments, proof)


def test_native_batch_gives_the_python_verdicts() -> None:
    good = _claims()
    a_offset = len(good[0].proof) - 64
    claims = [
        good[0],
        _tamper(good[1], a_offset, (1).to_bytes(32, "big")),  # a wrong a: invalid
        SolvencyClaim(good[2].context, good[2].commitments, good[2].proof[:-1]),  # short
        _tamper(good[2], 4 * 48 + 64, b"\xff" * 32),  # t_hat >= R
        _tamper(good[2], 48, b"\x80" + b"\x00" * 46 + b"\x01"),  # S: x = 1 is off the curve
        SolvencyClaim(good[2].context, good[2].commitments[:1], good[2].proof),  # one input
        _tamper(good[2], 48, make_off_subgroup_point(5)),  # S on the curve, off the subgroup
        good[2],
    ]
    native = verify_solvency_batch(get_generators(FAST), STATEMENT, claims)
    groups: list[Group[Any]] = [PYTHON_PATH, PURE_PYTHON]
    for group in groups:
        python = verify_solvency_batch(get_generators(group), STATEMENT, claims)
        assert native.invalid == python.invalid == [1, 6]
        for n, p in zip(native.decoded, python.decoded, strict=True):
            if isinstance(p, str):
                assert isinstance(n, str)
                assert n == p or (
                    n.split(":")[0] == p.split(":")[0] == "not a point on BLS12-381 G1"
                )
            else:
                assert not isinstance(n, str)
                assert [FAST.encode(x) for x in n] == [group.encode(x) for x in p]
    assert [isinstance(d, str) for d in native.decoded] == [False, False, *[True] * 4, False, False]


def test_arithmetic_is_exact_off_the_subgroup() -> None:
    """Proof points need not lie in the subgroup (FORMAT.md): no endomorphism shortcut."""
    rng = random.Random(5)
    encodings = [make_off_subgroup_point(3), make_off_subgroup_point(1000)]
    ref = [REFERENCE.decode_point(e) for e in encodings]
    k = [rng.randrange(R) for _ in range(2)]
    expected = [
        REFERENCE.encode(REFERENCE.mul(ref[0], k[0])),
        REFERENCE.encode(REFERENCE.msm(ref, k)),
        REFERENCE.encode(REFERENCE.add(*ref)),
    ]
    groups: list[Group[Any]] = [FAST, PURE_PYTHON]
    for group in groups:
        points = [group.decode_point(e) for e in encodings]
        found = [group.mul(points[0], k[0]), group.msm(points, k), group.add(*points)]
        assert [group.encode(p) for p in found] == expected, group.name


FIRST_USE_SCRIPT = """
import threading
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.statement import SolvencyStatement, prove_solvency, verify_solvency
statement = SolvencyStatement(
    tuple(f"position:{i}" for i in range(16)), (1 << 63,) * 16, ((1,) * 16,) * 16
)
gens = get_generators(FAST)
verdicts = []
def work(i):
    c, p = prove_solvency(gens, statement, bytes([i]), [i] * 16, [i + 1] * 16)
    verdicts.append(verify_solvency(gens, statement, bytes([i]), c, p.encode()))
threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(verdicts)
"""


@pytest.mark.slow
def test_threads_that_first_use_the_native_caches_together_do_not_deadlock() -> None:
    """In a fresh process the generators and fixed-base tables are derived on first use,
    in parallel, while other threads call in (a node verifies on several threads)."""
    assert run_script(FIRST_USE_SCRIPT).strip() == "[True, True, True, True]"


def run_script(script: str) -> str:
    """The stdout of `script` run in a fresh interpreter with the repository on its path."""
    root = Path(__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


WITHOUT_NATIVE_SCRIPT = """
import sys
sys.modules["clearnode_native"] = None  # as in clearnode-client, which ships without it
from proofs.backends import get_backend, get_backends, get_fastest
import proofs.verify  # its --backend choices are read without the native core
print(sorted(get_backends()), get_fastest().name)
try:
    get_backend("native")
except ValueError as exc:
    print(exc)
"""


def test_without_the_native_core_the_pure_python_group_serves() -> None:
    """The light SDK has no native core: the backends it lists, the one the verifier
    picks, and the error for the one it lacks."""
    assert run_script(WITHOUT_NATIVE_SCRIPT).splitlines() == [
        "['pure-python', 'py-ecc'] pure-python",
        "unknown group backend 'native'; known here: ['pure-python', 'py-ecc']",
    ]
