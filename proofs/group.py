"""BLS12-381 G1 behind one small interface, with three backends giving identical bytes.

`PyEccGroup` (proofs/pyecc_group.py) is the readable reference (py-ecc, ~10 ms per
scalar multiplication) and the test oracle; `NativeGroup` (proofs/native_group.py) is
the fast backend, the native core of native/ (Rust, the blst library), which also proves
and batch-verifies whole statements (proofs/bulletproofs.py, proofs/statement.py). The
native core is optional: a node's install builds it, the light SDK (clearnode-client)
ships without it, and proofs/backends.py's `get_fastest` is then `PurePythonGroup`
(proofs/pure_python_group.py: Python ints, batched affine additions; same verdicts,
slower than the native core); a verifier imports py-ecc only to hash a generator past
the shipped table. Scalars are Python
ints; the backends reduce them mod `R`. Points travel as 48-byte compressed
encodings (ZCash/IETF flags), which all backends produce identically;
`decode_point` accepts only canonical encodings of points on the curve.

Subgroup membership is deliberately not checked on decoding (it costs 2.5x the
decompression): every check we make is an equality of linear combinations, and
an equality in E(Fp) implies the same equality of the projections onto the
prime-order subgroup (r does not divide the cofactor), where the proofs are
sound; all generators are in the subgroup. See proofs/FORMAT.md. The native core
keeps this argument rather than clearing cofactors (multiplying each decoded point
by the cofactor costs more than decompressing it, for every one of a member's 42
points); so its arithmetic is exact on the whole curve (no GLV endomorphism on a
decoded point, native/src/group.rs), which tests check off the subgroup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from proofs.errors import ReportDecodeError

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
    proves = False
    """Whether `prove_range` and `verify_batch` run whole statements in the backend
    (the native core); otherwise proofs/' Python code drives this arithmetic."""
    reads_generator_table = False
    """Whether the generators are read from proofs/generators.bin, not hashed to the
    curve one by one (proofs/pedersen.py): for a backend whose `hash_to_point` is slow."""

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

    def decode_uncompressed(self, data: bytes) -> P:
        """A point of proofs/generators.bin: its 96-byte uncompressed encoding, checked on
        the curve (a backend that `reads_generator_table`); ValueError otherwise."""
        raise NotImplementedError

    def prove_range(
        self, state: bytes, values: Sequence[int], blindings: Sequence[int], n: int
    ) -> tuple[bytes, bytes]:
        """proofs/bulletproofs.py `prove_range` from the transcript `state` on: the
        encoded proof and the transcript's state after it (a backend that `proves`)."""
        raise NotImplementedError

    def verify_batch(
        self,
        n: int,
        offsets: Sequence[int],
        rows: Sequence[Sequence[int]],
        claims: Sequence[tuple[bytes, bytes, bytes]],
    ) -> tuple[list[list[P] | str], list[int]]:
        """Claims `(transcript state after the commitments, commitments, proof)` of a
        statement, checked as one msm: per claim its decoded commitments or why it is
        malformed, and the indices of the well-formed claims that fail (a backend that
        `proves`)."""
        raise NotImplementedError

    def sum(self, points: Sequence[P]) -> P:
        acc = self.identity()
        for p in points:
            acc = self.add(acc, p)
        return acc

    def is_identity(self, a: P) -> bool:
        return self.eq(a, self.identity())

    def decode_point(self, data: bytes) -> P:
        """A point from its canonical compressed encoding, or ReportDecodeError."""
        if len(data) != POINT_BYTES:
            raise ReportDecodeError(f"point must be {POINT_BYTES} bytes, got {len(data)}")
        try:
            point = self._decode(bytes(data))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ReportDecodeError(f"not a point on BLS12-381 G1: {data.hex()}: {exc}") from exc
        if self.encode(point) != bytes(data):
            raise ReportDecodeError(f"non-canonical point encoding {data.hex()}")
        return point

    def decode_points(self, blob: bytes) -> list[P]:
        if len(blob) % POINT_BYTES:
            raise ReportDecodeError(f"point list of {len(blob)} bytes is not a multiple of 48")
        return [
            self.decode_point(blob[i : i + POINT_BYTES]) for i in range(0, len(blob), POINT_BYTES)
        ]


REFERENCE_NAME = "py-ecc"
"""The reference backend's name (proofs/pyecc_group.py; proofs/backends.py picks one)."""


def encode_scalar(k: int) -> bytes:
    """32 bytes big-endian, canonical (< R)."""
    return (k % R).to_bytes(SCALAR_BYTES, "big")


def decode_scalar(data: bytes) -> int:
    if len(data) != SCALAR_BYTES:
        raise ReportDecodeError(f"scalar must be {SCALAR_BYTES} bytes, got {len(data)}")
    k = int.from_bytes(data, "big")
    if k >= R:
        raise ReportDecodeError(f"scalar {k:#x} is not reduced mod the group order")
    return k
