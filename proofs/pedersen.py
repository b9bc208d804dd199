"""Pedersen commitments C(v, γ) = v·G + γ·H and the nothing-up-my-sleeve generators.

Every generator is `hash_to_curve(label)` with the domain tag GENERATOR_DST, so
nobody knows a discrete-log relation between any two of them. Derivation is cached
per backend because a report's batch needs 4,096 vector generators (m = 32). The
native core derives them itself; the pure-Python backends, 2.6 ms a point (11 s for a
report), read the first ones from `generators.bin` beside this file, the points as the
native core derives them, each in its 96-byte uncompressed encoding: a compressed one
would cost a square root to decode, 1 s for a report's 4,099 (`python -m
proofs.pedersen` writes it; tests check it against both backends' hashing), and hash
any beyond. A node verifies on worker threads, several at once, so the cache grows
under a lock: two threads extending it together would interleave g_i and h_i.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Generic

from proofs.group import POINT_BYTES, Group, P
from proofs.pure_python_group import uncompress

VALUE_LABEL = b"pedersen/value"
BLINDING_LABEL = b"pedersen/blinding"
IPA_LABEL = b"ipa/u"

TABLE_PATH = Path(__file__).with_name("generators.bin")
TABLE_VECTORS = 2048
"""How many of g and of h the table holds: a report's batch needs 2,048 of each."""
TABLE_POINT_BYTES = 2 * POINT_BYTES


def get_vector_label(kind: bytes, index: int) -> bytes:
    return b"bulletproofs/" + kind + b"/" + index.to_bytes(4, "big")


def get_table_labels() -> list[bytes]:
    """The labels of the table's points, in its order: G, H, U, every g_i, every h_i."""
    vectors = [get_vector_label(kind, i) for kind in (b"g", b"h") for i in range(TABLE_VECTORS)]
    return [VALUE_LABEL, BLINDING_LABEL, IPA_LABEL, *vectors]


def encode_table(group: Group[P]) -> bytes:
    """`generators.bin` as `group` derives it (uncompressed by the pure-Python backend)."""
    return b"".join(uncompress(group.encode(group.hash_to_point(x))) for x in get_table_labels())


class Generators(Generic[P]):
    """G, H, U and the vectors g_i, h_i of one backend, grown on demand."""

    def __init__(self, group: Group[P]) -> None:
        self.group = group
        self._table = TABLE_PATH.read_bytes() if group.reads_generator_table else b""
        self._table_index = (
            {label: i for i, label in enumerate(get_table_labels())} if self._table else {}
        )
        self.G = self._get(VALUE_LABEL)
        self.H = self._get(BLINDING_LABEL)
        self.U = self._get(IPA_LABEL)
        self._g: list[P] = []
        self._h: list[P] = []
        self._growing = threading.Lock()

    def _get(self, label: bytes) -> P:
        """The point of `label`: the table's, if this backend reads the table and it holds
        the label, else hashed to the curve."""
        index = self._table_index.get(label)
        if index is None:
            return self.group.hash_to_point(label)
        entry = self._table[index * TABLE_POINT_BYTES :][:TABLE_POINT_BYTES]
        return self.group.decode_uncompressed(entry)

    def vectors(self, count: int) -> tuple[list[P], list[P]]:
        """The first `count` of g and of h (shared prefixes across sizes)."""
        with self._growing:
            while len(self._g) < count:
                i = len(self._g)
                self._g.append(self._get(get_vector_label(b"g", i)))
                self._h.append(self._get(get_vector_label(b"h", i)))
            return self._g[:count], self._h[:count]

    def commit(self, value: int, blinding: int) -> P:
        return self.group.msm([self.G, self.H], [value, blinding])


_CACHE: dict[int, Generators[object]] = {}
_CACHE_LOCK = threading.Lock()


def get_generators(group: Group[P]) -> Generators[P]:
    """The cached generator set of `group`."""
    key = id(group)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Generators(group)  # type: ignore[arg-type]
        return _CACHE[key]  # type: ignore[return-value]


def main() -> int:
    """Write `generators.bin` as the fastest backend here derives it."""
    from proofs.backends import get_fastest

    TABLE_PATH.write_bytes(encode_table(get_fastest()))
    print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
