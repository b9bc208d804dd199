"""BLS12-381 G1 on plain Python ints as a `Group`: the backend where the native core is
not installed (the light SDK, clearnode-client), four times py-ecc's reference speed
on a report's multi-scalar multiplication (proofs/affine_msm.py says how).

Points are affine `(x, y)`, None the identity, so that two equal points are equal
tuples and a sum of many is one multi-scalar multiplication of affine summands. The
encodings and the checks on decoding are py-ecc's and the native core's exactly
(ZCash/IETF flags; no subgroup check, proofs/group.py); tests hold all three to the same
bytes. Hashing to the curve, which a verifier needs only for generators past the shipped
table, is py-ecc's (imported then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from proofs.affine_msm import Affine, P, add_pairs, is_on_curve, msm, sum_groups, to_affine
from proofs.group import GENERATOR_DST, POINT_BYTES, Group, R

Point = Affine | None

_FLAGS = 3  # the top three bits of the first byte: compressed, infinity, sign of y
_X_MASK = (1 << (8 * POINT_BYTES - _FLAGS)) - 1
_COMPRESSED = 1 << (8 * POINT_BYTES - 1)
_INFINITY = 1 << (8 * POINT_BYTES - 2)
_SIGN = 1 << (8 * POINT_BYTES - 3)
_SQRT_EXPONENT = (P + 1) // 4  # P ≡ 3 mod 4


class PurePythonGroup(Group[Point]):
    """The native core's arithmetic in pure Python: same bytes, same verdicts."""

    name = "pure-python"
    reads_generator_table = True  # hashing to the curve would take 11 s for a report's 4,099

    def identity(self) -> Point:
        return None

    def hash_to_point(self, message: bytes) -> Point:
        from py_ecc.bls.hash_to_curve import hash_to_G1
        from py_ecc.optimized_bls12_381.optimized_curve import normalize

        # py-ecc annotates the hash argument as a HASH object but calls it as a constructor.
        x, y = normalize(hash_to_G1(message, GENERATOR_DST, hashlib.sha256))  # type: ignore[arg-type]
        return x.n, y.n

    def add(self, a: Point, b: Point) -> Point:
        if a is None or b is None:
            return b if a is None else a
        return add_pairs([a], [b])[0]

    def neg(self, a: Point) -> Point:
        return None if a is None else (a[0], (P - a[1]) % P)

    def mul(self, a: Point, k: int) -> Point:
        return self.msm([a], [k])

    def msm(self, points: Sequence[Point], scalars: Sequence[int]) -> Point:
        if len(points) != len(scalars):
            raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        return to_affine(msm(points, [k % R for k in scalars]))

    def sum(self, points: Sequence[Point]) -> Point:
        return sum_groups([[p for p in points if p is not None]])[0]

    def eq(self, a: Point, b: Point) -> bool:
        return a == b

    def is_identity(self, a: Point) -> bool:
        return a is None

    def encode(self, a: Point) -> bytes:
        if a is None:
            return (_COMPRESSED | _INFINITY).to_bytes(POINT_BYTES, "big")
        x, y = a
        sign = _SIGN if 2 * y > P else 0
        return (_COMPRESSED | sign | x).to_bytes(POINT_BYTES, "big")

    def _decode(self, data: bytes) -> Point:
        z = int.from_bytes(data, "big")
        if not z & _COMPRESSED:
            raise ValueError("not a compressed encoding")
        x = z & _X_MASK
        if z & _INFINITY:
            if z != _COMPRESSED | _INFINITY:
                raise ValueError("the identity's encoding has no sign and no x")
            return None
        if not 0 < x < P:  # x = 0 would read as the identity without its flag
            raise ValueError("x is 0 or not reduced")
        rhs = (x * x * x + 4) % P
        y = pow(rhs, _SQRT_EXPONENT, P)
        if y * y % P != rhs:
            raise ValueError("no point has this x")
        return x, P - y if (2 * y > P) != bool(z & _SIGN) else y

    def decode_uncompressed(self, data: bytes) -> Point:
        return decode_uncompressed(data)


def decode_uncompressed(data: bytes) -> Affine:
    """A finite point from its 96-byte uncompressed encoding (the generator table's),
    checked on the curve; ValueError otherwise."""
    x = int.from_bytes(data[:POINT_BYTES], "big")
    y = int.from_bytes(data[POINT_BYTES:], "big")
    if len(data) != 2 * POINT_BYTES or x > _X_MASK or not is_on_curve(x, y):
        raise ValueError(f"not an uncompressed finite point: {data.hex()}")
    return x, y


PURE_PYTHON: PurePythonGroup = PurePythonGroup()


def uncompress(encoding: bytes) -> bytes:
    """The 96-byte uncompressed encoding of the finite point `encoding` compresses."""
    point = PURE_PYTHON.decode_point(encoding)
    if point is None:
        raise ValueError("the identity has no uncompressed encoding here")
    return b"".join(c.to_bytes(POINT_BYTES, "big") for c in point)
