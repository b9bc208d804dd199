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
(the rest is msms on other threads), which bounds the wall time from below
however many cores there are, and `batch_decode_points_ms_per_member`,
decompressing a member's 42 points (one square root each; the backend holds
the GIL there), which every verifier in one process pays on one core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from proofs.bulletproofs import N_BITS, RangeProof, decode_proof_points
from proofs.group import FAST, get_worker_count
from proofs.msm import MsmCheck
from proofs.pedersen import get_generators
from proofs.report import compute_account_context, get_blindings
from proofs.sample import make_sample_book, make_sample_form
from proofs.statement import add_solvency_check, get_statement, prove_solvency, verify_solvency

COLLATERALS, INSTRUMENTS, SCENARIOS = 3, 12, 16  # 16 inputs + 16 scenarios = 32 values


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

    proofs = []
    for key in keys:
        context = compute_account_context(1, 1, bytes(32), key)
        blindings = get_blindings(b"bench-seed", 1, key, statement.input_labels)
        commitments, proof = prove_solvency(gens, statement, context, book[key], blindings)
        proofs.append((context, commitments, proof.encode(), key, blindings))
    context, commitments, proof_bytes, key, blindings = proofs[0]

    prove_ms, prove_cpu, prove_main = _median_ms(
        lambda: prove_solvency(gens, statement, context, book[key], blindings), args.repeat
    )
    verify_ms, verify_cpu, _ = _median_ms(
        lambda: verify_solvency(gens, statement, context, commitments, proof_bytes), args.repeat
    )

    members = [proofs[i % len(proofs)] for i in range(args.members)]

    def decode_all() -> list[list[Any]]:
        return [[gens.group.decode_point(c) for c in m[1]] for m in members]

    def batch() -> bool:
        check = MsmCheck(gens, N_BITS)
        for (ctx, comms, proof, _, _), points in zip(members, decode_all(), strict=True):
            add_solvency_check(check, statement, ctx, comms, points, proof)
        return check.is_identity()

    def decode_points() -> None:
        for m in members:
            [gens.group.decode_point(c) for c in m[1]]
            decode_proof_points(gens, RangeProof.decode(m[2], statement.padded_count))

    assert batch()
    batch_ms, batch_cpu, batch_main = _median_ms(batch, max(1, args.repeat // 2))
    decode_ms, _, _ = _median_ms(decode_all, 1)
    _, _, decode_points_ms = _median_ms(decode_points, 1)
    return {
        "m": statement.padded_count,
        "prove_ms": round(prove_ms, 1),
        "verify_ms": round(verify_ms, 1),
        "batch_members": args.members,
        "batch_verify_ms_per_member": round(batch_ms / args.members, 3),
        "prove_cpu_ms": round(prove_cpu, 1),
        "prove_main_thread_cpu_ms": round(prove_main, 1),
        "verify_cpu_ms": round(verify_cpu, 1),
        "batch_verify_cpu_ms_per_member": round(batch_cpu / args.members, 3),
        "batch_main_thread_cpu_ms_per_member": round(batch_main / args.members, 3),
        "workers": get_worker_count(),
        "batch_decode_commitments_ms_per_member": round(decode_ms / args.members, 3),
        "batch_decode_points_ms_per_member": round(decode_points_ms / args.members, 3),
        "proof_bytes": len(proof_bytes),
        "commitment_bytes_per_member": 48 * len(commitments),
    }
