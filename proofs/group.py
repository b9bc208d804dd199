"""BLS12-381 G1 behind one small interface, with two backends giving identical bytes.

`PyEccGroup` is the readable reference (py-ecc, ~10 ms per scalar multiplication);
`ArkworksGroup` is the fast backend (py-arkworks-bls12381, native multi-scalar
multiplication); it runs independent msms, and the bit slices of one large msm,
on one thread per core, as arkworks releases the GIL inside an msm. Scalars
are Python ints; the backends reduce them mod `R`. Points travel as 48-byte
compressed encodings (ZCash/IETF flags), which both libraries produce
identically; `decode_point` accepts only canonical encodings of points on the
curve.

Subgroup membership is deliberately not checked on decoding (it costs 2.5x the
decompression): every check we make is an equality of linear combinations, and
an equality in E(Fp) implies the same equality of the projections onto the
prime-order subgroup (r does not divide the cofactor), where the proofs are
sound; all generators are in the subgroup. See proofs/FORMAT.md.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import py_arkworks_bls12381 as ark
from py_ecc.bls import hash_to_curve as ecc_h2c
from py_ecc.bls import point_compression as ecc_pc
from py_ecc.bls.typing import G1Compressed, G1Uncompressed
from py_ecc.optimized_bls12_381 import optimized_curve as ecc

from proofs.errors import DecodeError

# Order of the BLS12-381 G1 subgroup: scalars live in Z_R.
R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
POINT_BYTES = 48
SCALAR_BYTES = 32
GENERATOR_DST = b"clearnode-v1-generators"

P = TypeVar("P")
MsmJob = tuple[Sequence[P], Sequence[int]]


class Group(Generic[P]):
    """The operations the proofs need, on an opaque point type `P`."""

    name = "abstract"

    def identity(self) -> P:
        raise NotImplementedError

    def hash_to_point(self, message: bytes) -> P:
        """RFC 9380 hash_to_curve (BLS12381G1_XMD:SHA-256_SSWU_RO_) with GENERATOR_DST."""
        raise NotImplementedError

    def add(self, a: P, b: P) -> P:
        raise NotImplementedError

    def neg(self, a: P) -> P:
        raise NotImplementedError

    def mul(self, a: P, k: int) -> P:
        raise NotImplementedError

    def msm(self, points: Sequence[P], scalars: Sequence[int]) -> P:
        """Σ scalars[i]·points[i]; scalars are any ints (reduced mod R)."""
        raise NotImplementedError

    def msm_batch(self, jobs: Sequence[MsmJob[P]]) -> list[P]:
        """[msm(points, scalars) for each job]: independent sums a backend may run in parallel."""
        return [self.msm(points, scalars) for points, scalars in jobs]

    def eq(self, a: P, b: P) -> bool:
        raise NotImplementedError

    def encode(self, a: P) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> P:
        raise NotImplementedError

    def sum(self, points: Sequence[P]) -> P:
        acc = self.identity()
        for p in points:
            acc = self.add(acc, p)
        return acc

    def is_identity(self, a: P) -> bool:
        return self.eq(a, self.identity())

    def decode_point(self, data: bytes) -> P:
        """A point from its canonical compressed encoding, or DecodeError."""
        if len(data) != POINT_BYTES:
            raise DecodeError(f"point must be {POINT_BYTES} bytes, got {len(data)}")
        try:
            point = self._decode(bytes(data))
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecodeError(f"not a point on BLS12-381 G1: {data.hex()}: {exc}") from exc
        if self.encode(point) != bytes(data):
            raise DecodeError(f"non-canonical point encoding {data.hex()}")
        return point

    def decode_points(self, blob: bytes) -> list[P]:
        if len(blob) % POINT_BYTES:
            raise DecodeError(f"point list of {len(blob)} bytes is not a multiple of 48")
        return [
            self.decode_point(blob[i : i + POINT_BYTES]) for i in range(0, len(blob), POINT_BYTES)
        ]


EccPoint = G1Uncompressed


class PyEccGroup(Group[EccPoint]):
    """Reference backend: py-ecc's optimized (Jacobian) G1 arithmetic."""

    name = "py-ecc"

    def identity(self) -> EccPoint:
        return ecc.Z1

    def hash_to_point(self, message: bytes) -> EccPoint:
        # py-ecc annotates the hash argument as a HASH object but calls it as a constructor.
        return ecc_h2c.hash_to_G1(message, GENERATOR_DST, hashlib.sha256)  # type: ignore[arg-type]

    def add(self, a: EccPoint, b: EccPoint) -> EccPoint:
        return ecc.add(a, b)

    def neg(self, a: EccPoint) -> EccPoint:
        return ecc.neg(a)

    def mul(self, a: EccPoint, k: int) -> EccPoint:
        return ecc.multiply(a, k % R)

    def msm(self, points: Sequence[EccPoint], scalars: Sequence[int]) -> EccPoint:
        if len(points) != len(scalars):
            raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        return _pippenger(points, [k % R for k in scalars])

    def eq(self, a: EccPoint, b: EccPoint) -> bool:
        return bool(ecc.eq(a, b))

    def encode(self, a: EccPoint) -> bytes:
        return int(ecc_pc.compress_G1(a)).to_bytes(POINT_BYTES, "big")

    def _decode(self, data: bytes) -> EccPoint:
        return ecc_pc.decompress_G1(G1Compressed(int.from_bytes(data, "big")))


class ArkworksGroup(Group[ark.G1Point]):
    """Fast backend: arkworks through py-arkworks-bls12381."""

    name = "arkworks"

    def identity(self) -> ark.G1Point:
        return ark.G1Point.identity()

    def hash_to_point(self, message: bytes) -> ark.G1Point:
        return ark.G1Point.hash_to_curve(message, GENERATOR_DST)

    def add(self, a: ark.G1Point, b: ark.G1Point) -> ark.G1Point:
        return a + b

    def neg(self, a: ark.G1Point) -> ark.G1Point:
        return -a

    def mul(self, a: ark.G1Point, k: int) -> ark.G1Point:
        return a * to_ark_scalar(k)

    def msm(self, points: Sequence[ark.G1Point], scalars: Sequence[int]) -> ark.G1Point:
        if len(points) != len(scalars):
            raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        if len(points) < _SPLIT_POINTS or _WORKERS == 1:
            return _multiexp(points, scalars)
        # One large sum splits by scalar bits, one slice per core: Σ k_i·P_i =
        # Σ_w 2^{w·width}·Σ slice_w(k_i)·P_i. Pippenger's cost is linear in the
        # bits, so unlike a split by points this adds no work but one shift.
        width = -(-R.bit_length() // _WORKERS)
        mask = (1 << width) - 1
        reduced = [k % R for k in scalars]
        slices = [[(k >> (w * width)) & mask for k in reduced] for w in range(_WORKERS)]
        sums = self.msm_batch([(points, sliced) for sliced in slices])
        return self.sum([self.mul(part, 1 << (w * width)) for w, part in enumerate(sums)])

    def msm_batch(self, jobs: Sequence[MsmJob[ark.G1Point]]) -> list[ark.G1Point]:
        """Runs the jobs on up to one thread per core: arkworks releases the GIL in multiexp."""
        for points, scalars in jobs:
            if len(points) != len(scalars):
                raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        if _WORKERS == 1 or len(jobs) < 2 or sum(len(p) for p, _ in jobs) < _PARALLEL_POINTS:
            return [_multiexp(points, scalars) for points, scalars in jobs]
        prepared = [(list(p), to_ark_scalars(s)) for p, s in jobs]
        return list(_get_pool().map(_multiexp_prepared, prepared))

    def eq(self, a: ark.G1Point, b: ark.G1Point) -> bool:
        return a == b

    def encode(self, a: ark.G1Point) -> bytes:
        return a.to_compressed_bytes()

    def _decode(self, data: bytes) -> ark.G1Point:
        # Checks the curve equation, not subgroup membership (see module docstring).
        return ark.G1Point.from_compressed_bytes_unchecked(data)


# Parallelism pays once a share is worth far more than starting a thread (~0.1 ms):
# small msms cost ~50 µs a point (64 points of full scalars: ~3 ms).
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_WORKERS = max(1, min(4, _CPUS or 1))
_PARALLEL_POINTS = 64
_SPLIT_POINTS = 1024


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    """The process's msm threads, started once: a proof runs ~25 parallel
    batches, and starting threads for each cost ~3 ms a proof on a quiet machine
    (far more on a loaded one). A forked child starts its own. Jobs run here must
    never wait on this pool themselves (msms do not)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(_WORKERS, thread_name_prefix="msm"))
        return _pool[1]


def _forget_pool_after_fork() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def get_worker_count() -> int:
    """Threads the fast backend runs independent msms on."""
    return _WORKERS


def _multiexp(points: Sequence[ark.G1Point], scalars: Sequence[int]) -> ark.G1Point:
    return _multiexp_prepared((list(points), to_ark_scalars(scalars)))


def _multiexp_prepared(job: tuple[list[ark.G1Point], list[ark.Scalar]]) -> ark.G1Point:
    points, scalars = job
    if not points:
        return ark.G1Point.identity()
    return ark.G1Point.multiexp_unchecked(points, scalars)


def to_ark_scalar(k: int) -> ark.Scalar:
    """An arkworks scalar from any int; via bytes, 5x faster than Scalar(int)."""
    return ark.Scalar.from_le_bytes((k % R).to_bytes(SCALAR_BYTES, "little"))


def to_ark_scalars(ks: Iterable[int]) -> list[ark.Scalar]:
    """[to_ark_scalar(k) for k in ks], inlined (0.19 instead of 0.29 µs a reduced
    scalar; the prover converts ~30,000 a proof, holding the GIL)."""
    from_le = ark.Scalar.from_le_bytes
    return [from_le((k % R).to_bytes(SCALAR_BYTES, "little")) for k in ks]


FAST: ArkworksGroup = ArkworksGroup()
REFERENCE: PyEccGroup = PyEccGroup()


def get_backend(name: str) -> Group[ark.G1Point] | Group[EccPoint]:
    backends: dict[str, Group[ark.G1Point] | Group[EccPoint]] = {
        FAST.name: FAST,
        REFERENCE.name: REFERENCE,
    }
    if name not in backends:
        raise ValueError(f"unknown group backend {name!r}; known: {sorted(backends)}")
    return backends[name]


def encode_scalar(k: int) -> bytes:
    """32 bytes big-endian, canonical (< R)."""
    return (k % R).to_bytes(SCALAR_BYTES, "big")


def decode_scalar(data: bytes) -> int:
    if len(data) != SCALAR_BYTES:
        raise DecodeError(f"scalar must be {SCALAR_BYTES} bytes, got {len(data)}")
    k = int.from_bytes(data, "big")
    if k >= R:
        raise DecodeError(f"scalar {k:#x} is not reduced mod the group order")
    return k


def _pippenger(points: Sequence[EccPoint], scalars: Sequence[int]) -> EccPoint:
    """Bucket method: per c-bit window, add each point into the bucket of its digit,
    then Σ_d d·bucket_d by running sums; windows combined by c doublings."""
    c = max(1, (len(points).bit_length() - 1) // 2 + 1)
    windows = (max(scalars, default=0).bit_length() + c - 1) // c
    mask = (1 << c) - 1
    result = ecc.Z1
    for w in range(windows - 1, -1, -1):
        for _ in range(c):
            result = ecc.double(result)
        buckets = [ecc.Z1] * (1 << c)
        for p, k in zip(points, scalars, strict=True):
            digit = (k >> (w * c)) & mask
            if digit:
                buckets[digit] = ecc.add(buckets[digit], p)
        running, window_sum = ecc.Z1, ecc.Z1
        for digit in range(mask, 0, -1):
            running = ecc.add(running, buckets[digit])
            window_sum = ecc.add(window_sum, running)
        result = ecc.add(result, window_sum)
    return result
