"""Pedersen commitments C(v, γ) = v·G + γ·H and the nothing-up-my-sleeve generators.

Every generator is `hash_to_curve(label)` with the domain tag GENERATOR_DST, so
nobody knows a discrete-log relation between any two of them. Both backends
derive them independently (tests check they agree); derivation is cached per
backend because the fast backend needs 4,096 vector generators for m = 32.
A node verifies on worker threads, several at once, so the cache grows under a
lock: two threads extending it together would interleave g_i and h_i.
"""

from __future__ import annotations

import threading
from typing import Generic

from proofs.group import Group, P

VALUE_LABEL = b"pedersen/value"
BLINDING_LABEL = b"pedersen/blinding"
IPA_LABEL = b"ipa/u"


def get_vector_label(kind: bytes, index: int) -> bytes:
    return b"bulletproofs/" + kind + b"/" + index.to_bytes(4, "big")


class Generators(Generic[P]):
    """G, H, U and the vectors g_i, h_i of one backend, grown on demand."""

    def __init__(self, group: Group[P]) -> None:
        self.group = group
        self.G = group.hash_to_point(VALUE_LABEL)
        self.H = group.hash_to_point(BLINDING_LABEL)
        self.U = group.hash_to_point(IPA_LABEL)
        self._g: list[P] = []
        self._h: list[P] = []
        self._growing = threading.Lock()

    def vectors(self, count: int) -> tuple[list[P], list[P]]:
        """The first `count` of g and of h (shared prefixes across sizes)."""
        with self._growing:
            while len(self._g) < count:
                i = len(self._g)
                self._g.append(self.group.hash_to_point(get_vector_label(b"g", i)))
                self._h.append(self.group.hash_to_point(get_vector_label(b"h", i)))
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
