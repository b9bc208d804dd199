"""py-ecc's BLS12-381 G1 as a `Group`: the readable reference backend and the test
oracle of the native core and the pure-Python group (proofs/group.py), about 10 ms per
scalar multiplication."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from py_ecc.bls import hash_to_curve as ecc_h2c
from py_ecc.bls import point_compression as ecc_pc
from py_ecc.bls.typing import G1Compressed, G1Uncompressed
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import optimized_curve as ecc

from proofs.group import GENERATOR_DST, POINT_BYTES, REFERENCE_NAME, Group, R
from proofs.pure_python_group import decode_uncompressed

EccPoint = G1Uncompressed


class PyEccGroup(Group[EccPoint]):
    """Reference backend: py-ecc's optimized (Jacobian) G1 arithmetic."""

    name = REFERENCE_NAME
    reads_generator_table = True  # 2.6 ms a hash_to_point: 11 s for a report's 4,099

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

    def decode_uncompressed(self, data: bytes) -> EccPoint:
        x, y = decode_uncompressed(data)
        return FQ(x), FQ(y), FQ.one()


REFERENCE: PyEccGroup = PyEccGroup()


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
