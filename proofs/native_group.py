"""The native core's group (native/: Rust on blst), the fast backend of proofs/group.py.

Imported only where the native core is installed: a node's `make install` builds it;
the light SDK (clearnode-client) has no such module, and proofs/backends.py's
`get_fastest` then answers the pure-Python group (proofs/pure_python_group.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import clearnode_native as native

from proofs.group import SCALAR_BYTES, Group, MsmJob, R


class NativeGroup(Group[native.Point]):
    """The native core (native/: Rust on blst): every call that does real work releases
    the GIL and runs on all cores. With `proves`, the range prover and the batch verifier
    of proofs/bulletproofs.py and proofs/statement.py run natively too (same transcript,
    same bytes); without, those modules' Python code drives this arithmetic (the
    readable path the benchmark compares with)."""

    def __init__(self, *, proves: bool) -> None:
        self.proves = proves
        self.name = "native" if proves else "native-arithmetic"

    def identity(self) -> native.Point:
        return native.identity()

    def hash_to_point(self, message: bytes) -> native.Point:
        return native.hash_to_point(message)  # with GENERATOR_DST, as the native vectors

    def add(self, a: native.Point, b: native.Point) -> native.Point:
        return a + b

    def neg(self, a: native.Point) -> native.Point:
        return -a

    def mul(self, a: native.Point, k: int) -> native.Point:
        return a.mul(encode_native_scalars((k,)))

    def msm(self, points: Sequence[native.Point], scalars: Sequence[int]) -> native.Point:
        if len(points) != len(scalars):
            raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        return native.msm(list(points), encode_native_scalars(scalars))

    def msm_batch(self, jobs: Sequence[MsmJob[native.Point]]) -> list[native.Point]:
        for points, scalars in jobs:
            if len(points) != len(scalars):
                raise ValueError(f"msm of {len(points)} points and {len(scalars)} scalars")
        return native.msm_batch([(list(p), encode_native_scalars(s)) for p, s in jobs])

    def sum(self, points: Sequence[native.Point]) -> native.Point:
        return native.sum_points(list(points))

    def eq(self, a: native.Point, b: native.Point) -> bool:
        return a == b

    def is_identity(self, a: native.Point) -> bool:
        return a.is_identity()

    def encode(self, a: native.Point) -> bytes:
        return a.encode()

    def _decode(self, data: bytes) -> native.Point:
        # Checks the curve equation and the encoding, not subgroup membership (proofs/group.py).
        return native.decode_point(data)

    def prove_range(
        self, state: bytes, values: Sequence[int], blindings: Sequence[int], n: int
    ) -> tuple[bytes, bytes]:
        return native.prove_range(state, list(values), encode_native_scalars(blindings), n)

    def verify_batch(
        self,
        n: int,
        offsets: Sequence[int],
        rows: Sequence[Sequence[int]],
        claims: Sequence[tuple[bytes, bytes, bytes]],
    ) -> tuple[list[list[native.Point] | str], list[int]]:
        encoded_rows = [encode_native_scalars(row) for row in rows]
        return native.verify_batch(n, encode_native_scalars(offsets), encoded_rows, list(claims))


def encode_native_scalars(ks: Iterable[int]) -> bytes:
    """Scalars as the native core takes them: 32 bytes little-endian each, reduced."""
    return b"".join((k % R).to_bytes(SCALAR_BYTES, "little") for k in ks)


def get_worker_count() -> int:
    """Cores the native core spreads its work over."""
    return native.get_worker_count()


FAST: NativeGroup = NativeGroup(proves=True)
