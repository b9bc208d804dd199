"""The native core's primitives at the sizes a solvency proof uses (m = 32, n = 64,
N = 2,048): the floor under `python -m bench proofs`.

`python -m bench proofs_steps [--repeat R]`. Every figure is the best of R runs
(`*_ms` wall on all cores, `*_cpu_ms` the process's CPU time, all threads), blst's
Pippenger through `clearnode_native.msm`:
- `msm`: one multi-scalar multiplication per size: 4,097 points (S, and the
  verifier's generators), 2,049 down to 3 (L and R of the inner-product rounds),
  4,141 (one account's verification), 46,099 (1,000 accounts in one batch);
  the first round's sides and the second's are 2,049 points each;
- `prove_msm_cpu_ms`: S plus both sides of every round by Pippenger (the prover
  runs S and the first two rounds over window tables of the generators instead,
  ~10-20% less);
- `mul_us`: one full-width scalar multiplication of a point off the subgroup path
  (windowed, 255 doublings), `decode_us`: one compressed point decoded (a square
  root), the batch verifier's 42 per account.
The rest of a proof's CPU time is the generator folding (fixed-base sums for rounds 1-2,
one 128-bit and one full GLV multiplication per element after).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

import clearnode_native as native

from proofs.group import R
from proofs.native_group import encode_native_scalars

# The second round's sides take both terms of each once-folded point (native/src/fixed.rs).
PROVE_SIDES = [2049, 2049, *(2 * half + 1 for half in (256, 128, 64, 32, 16, 8, 4, 2, 1))]
SIZES = sorted({4097, 4141, *PROVE_SIDES}, reverse=True)
BATCH_POINTS = 46_099


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and best process CPU milliseconds of `repeat` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return min(wall), min(cpu)


def _scalars(count: int) -> list[int]:
    return [
        int.from_bytes(hashlib.sha3_256(i.to_bytes(4, "big")).digest(), "big") % R
        for i in range(count)
    ]


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench proofs_steps")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    distinct = [native.hash_to_point(b"bench/%d" % i) for i in range(4141)]
    points = [distinct[i % len(distinct)] for i in range(BATCH_POINTS)]
    scalars = encode_native_scalars(_scalars(BATCH_POINTS))
    msm: dict[str, dict[str, float]] = {}
    for size in [BATCH_POINTS, *SIZES]:
        wall, cpu = _best(
            lambda size=size: native.msm(points[:size], scalars[: 32 * size]),  # type: ignore[misc]
            args.repeat if size < BATCH_POINTS else 1,
        )
        msm[str(size)] = {"ms": round(wall, 2), "cpu_ms": round(cpu, 2)}
    prove_msm_cpu = msm["4097"]["cpu_ms"] + 2 * sum(msm[str(s)]["cpu_ms"] for s in PROVE_SIDES)

    one = scalars[:32]
    _, mul_cpu = _best(lambda: [distinct[i].mul(one) for i in range(100)], args.repeat)
    encoded = [p.encode() for p in distinct[:1000]]
    _, decode_cpu = _best(lambda: [native.decode_point(e) for e in encoded], args.repeat)
    return {
        "msm": msm,
        "prove_msm_cpu_ms": round(prove_msm_cpu, 1),
        "batch_msm_cpu_ms_per_member": round(msm[str(BATCH_POINTS)]["cpu_ms"] / 1000, 3),
        "mul_us": round(mul_cpu * 10, 1),
        "decode_us": round(decode_cpu, 2),
        "batch_decode_cpu_ms_per_member": round(42 * decode_cpu / 1000, 3),
        "workers": native.get_worker_count(),
    }
