"""A binary Merkle tree over sorted keys, updated incrementally.

Hashes (sha256, domain-separated so a leaf can never pass for a node):
``leaf = H(0x00 || key || value)``, ``node = H(0x01 || left || right)``; an
odd node at the end of a level is carried up unchanged; the empty tree is
``H(0x02)``. Changing a value re-hashes only its path (log n hashes); a new key
shifts positions, so the levels are rebuilt from the cached leaf hashes
(n hashes, no re-encoding of any value).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"\x02").digest()

ProofStep = tuple[bool, bytes]
"""``(sibling_is_left, sibling_hash)`` from the leaf up."""


def hash_leaf(key: bytes, value: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + key + value).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def compute_parent_level(level: list[bytes]) -> list[bytes]:
    parents = [hash_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


class MerkleTree:
    """Leaves kept in key order; ``root()`` brings the cached levels up to date."""

    __slots__ = ("_dirty", "_keys", "_levels", "_rebuild")

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._levels: list[list[bytes]] = [[]]
        self._dirty: set[int] = set()
        self._rebuild = False

    def __len__(self) -> int:
        return len(self._keys)

    def set_leaf(self, key: bytes, leaf_hash: bytes) -> None:
        """Insert or replace the leaf hash of ``key``."""
        index = bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            self._levels[0][index] = leaf_hash
            self._dirty.add(index)
        else:
            self._keys.insert(index, key)
            self._levels[0].insert(index, leaf_hash)
            self._rebuild = True

    def root(self) -> bytes:
        if self._rebuild:
            self._rebuild_levels()
        elif self._dirty:
            self._update_paths()
        self._dirty.clear()
        self._rebuild = False
        return self._levels[-1][0] if self._keys else EMPTY_ROOT

    def proof(self, key: bytes) -> list[ProofStep] | None:
        """Siblings from ``key``'s leaf to the root, or None if ``key`` is absent."""
        self.root()
        index = bisect_left(self._keys, key)
        if index == len(self._keys) or self._keys[index] != key:
            return None
        steps: list[ProofStep] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                steps.append((sibling < index, level[sibling]))
            index //= 2
        return steps

    def _rebuild_levels(self) -> None:
        levels = [self._levels[0]]
        while len(levels[-1]) > 1:
            levels.append(compute_parent_level(levels[-1]))
        self._levels = levels

    def _update_paths(self) -> None:
        indices = self._dirty
        for depth in range(1, len(self._levels)):
            below, level = self._levels[depth - 1], self._levels[depth]
            parents = {i // 2 for i in indices}
            for p in parents:
                left = 2 * p
                level[p] = (
                    below[left]
                    if left + 1 == len(below)
                    else hash_node(below[left], below[left + 1])
                )
            indices = parents


def compute_root_from_proof(leaf_hash: bytes, steps: list[ProofStep]) -> bytes:
    node = leaf_hash
    for sibling_is_left, sibling in steps:
        node = hash_node(sibling, node) if sibling_is_left else hash_node(node, sibling)
    return node
