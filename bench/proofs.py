"""Solvency proofs: prove / verify one account (16 inputs + 16 scenarios, m = 32),
batch-verify 1,000 accounts, proof size.

`python -m bench proofs [--members N] [--distinct K] [--repeat R]`. Batch
verification uses K distinct proofs, each appearing N/K times: every appearance
is verified as its own account (own transcript, weights, decoding), so the work
per member is that of N distinct proofs, without waiting N seconds to prove them.

Figures are wall-clock medians; the `*_cpu_*` twins are the process's CPU time
(all threads), which is what a busy shared machine still measures fairly, and
which exceeds the wall time where the msms ran on several cores (`workers`).
Floors are printed with them: `*_main_thread_cpu_*`, the work that holds the GIL
(the rest runs on the native core's threads), and
`batch_decode_points_ms_per_member`, decompressing a member's 42 points one by one
(one square root each), the largest share of a batch verification's CPU time.

The top-level figures are the native core's (native/: prover and batch verifier in
Rust); `python_path` has the same figures for proofs/' Python prover and verifier
driving the native arithmetic (the path every report took before the native core),
`targets` the figures issue 17 asks of the native core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from proofs.bulletproofs import N_BITS, RangeProof, decode_proof_points
from proofs.drafting import get_blindings
from proofs.native_group import FAST, NativeGroup, get_worker_count
from proofs.pedersen import Generators, get_generators
from proofs.report import compute_account_context
from proofs.sample import make_sample_book, make_sample_form
from proofs.statement import (
    SolvencyClaim,
    SolvencyStatement,
    get_statement,
    prove_solvency,
    verify_solvency,
    verify_solvency_batch,
)

COLLATERALS, INSTRUMENTS, SCENARIOS = 3, 12, 16  # 16 inputs + 16 scenarios = 32 values
TARGETS = {
    "prove_ms": 140,
    "prove_cpu_ms": 250,
    "verify_ms": 16,
    "batch_verify_ms_per_member": 0.5,
    "proof_bytes": 1500,
}
# The Python path's batch is timed on fewer members: it costs several times as much.
PYTHON_PATH_MEMBERS = 200


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """Median wall, process CPU and calling-thread CPU milliseconds of `repeat` calls."""
    wall, cpu, thread = [], [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        start_thread = time.thread_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        thread.append((time.thread_time() - start_thread) * 1000)
    return statistics.median(wall), statistics.median(cpu), statistics.median(thread)


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench proofs")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    gens = get_generators(FAST)
    form = make_sample_form(COLLATERALS, INSTRUMENTS, SCENARIOS, seed=1)
    statement = get_statement(form)
    book = make_sample_book(form, args.distinct + args.distinct % 2, seed=2)
    keys = sorted(book)[: args.distinct]
    gens.vectors(statement.padded_count * N_BITS)  # derive generators outside the timings

    claims = []
    inputs = []
    for key in keys:
        context = compute_account_context(1, 1, bytes(32), key)
        blindings = get_blindings(b"bench-seed", 1, key, statement.input_labels)
        commitments, proof = prove_solvency(gens, statement, context, book[key], blindings)
        claims.append(SolvencyClaim(context, commitments, proof.encode()))
        inputs.append((book[key], blindings))
    figures = _measure(gens, statement, claims, inputs, args.members, args.repeat)
    members = [claims[i % len(claims)] for i in range(args.members)]

    def decode_commitments() -> None:
        for m in members:
            [gens.group.decode_point(c) for c in m.commitments]

    def decode_points() -> None:
        for m in members:
            [gens.group.decode_point(c) for c in m.commitments]
            decode_proof_points(gens, RangeProof.decode(m.proof, statement.padded_count))

    decode_ms, _, _ = _median_ms(decode_commitments, 1)
    _, _, decode_points_ms = _median_ms(decode_points, 1)
    python_gens = get_generators(NativeGroup(proves=False))
    python_gens.vectors(statement.padded_count * N_BITS)
    python_path = _measure(
        python_gens, statement, claims, inputs, PYTHON_PATH_MEMBERS, max(1, args.repeat // 2)
    )
    return {
        **figures,
        "m": statement.padded_count,
        "batch_members": args.members,
        "workers": get_worker_count(),
        "batch_decode_commitments_ms_per_member": round(decode_ms / args.members, 3),
        "batch_decode_points_ms_per_member": round(decode_points_ms / args.members, 3),
        "proof_bytes": len(claims[0].proof),
        "commitment_bytes_per_member": 48 * len(claims[0].commitments),
        "python_path": {**python_path, "batch_members": PYTHON_PATH_MEMBERS},
        "targets": TARGETS,
    }


def _measure(
    gens: Generators[Any],
    statement: SolvencyStatement,
    claims: list[SolvencyClaim],
    inputs: list[tuple[list[int], list[int]]],
    members: int,
    repeat: int,
) -> dict[str, float]:
    """Prove and verify the first account, batch-verify `members` accounts."""
    first = claims[0]
    values, blindings = inputs[0]
    proved = prove_solvency(gens, statement, first.context, values, blindings)
    assert proved[1].encode() == first.proof, "the two paths must prove the same bytes"
    prove_ms, prove_cpu, prove_main = _median_ms(
        lambda: prove_solvency(gens, statement, first.context, values, blindings), repeat
    )
    verify_ms, verify_cpu, _ = _median_ms(
        lambda: verify_solvency(gens, statement, first.context, first.commitments, first.proof),
        repeat,
    )
    batch = [claims[i % len(claims)] for i in range(members)]
    assert not verify_solvency_batch(gens, statement, batch).invalid
    batch_ms, batch_cpu, batch_main = _median_ms(
        lambda: verify_solvency_batch(gens, statement, batch), max(1, repeat // 2)
    )
    return {
        "prove_ms": round(prove_ms, 1),
        "verify_ms": round(verify_ms, 1),
        "batch_verify_ms_per_member": round(batch_ms / members, 3),
        "prove_cpu_ms": round(prove_cpu, 1),
        "prove_main_thread_cpu_ms": round(prove_main, 1),
        "verify_cpu_ms": round(verify_cpu, 1),
        "batch_verify_cpu_ms_per_member": round(batch_cpu / members, 3),
        "batch_main_thread_cpu_ms_per_member": round(batch_main / members, 3),
    }
