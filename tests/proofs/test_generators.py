"""The generator cache shared by a node's verifying threads, and the table the
pure-Python backends read their generators from: the points both the native core and
py-ecc hash the labels to."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from proofs.group import Group
from proofs.native_group import FAST
from proofs.pedersen import (
    TABLE_PATH,
    TABLE_POINT_BYTES,
    TABLE_VECTORS,
    Generators,
    encode_table,
    get_table_labels,
    get_vector_label,
)
from proofs.pure_python_group import PURE_PYTHON
from proofs.pyecc_group import REFERENCE

COUNT = 256
THREADS = 4


def test_threads_growing_the_cache_at_once_get_the_same_vectors() -> None:
    """Several verifications starting together (a node's status page, an API
    request) each see g_i, h_i in order, none twice, none missing."""
    gens = Generators(FAST)
    results: list[tuple[list[object], list[object]]] = []
    start = threading.Barrier(THREADS)

    def grow() -> None:
        start.wait()
        for count in range(1, COUNT + 1, 7):  # many small extensions interleave
            gens.vectors(count)
        results.append(gens.vectors(COUNT))  # type: ignore[arg-type]

    threads = [threading.Thread(target=grow) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    g, h = results[0]
    assert all(r == (g, h) for r in results)
    assert g[-1] == FAST.hash_to_point(get_vector_label(b"g", COUNT - 1))
    assert h[-1] == FAST.hash_to_point(get_vector_label(b"h", COUNT - 1))
    assert len({FAST.encode(p) for p in g}) == COUNT


def test_the_table_is_the_native_cores_hashing_of_every_label() -> None:
    """(`python -m proofs.pedersen` writes it again.)"""
    assert encode_table(FAST) == TABLE_PATH.read_bytes()


def test_py_ecc_hashes_the_labels_to_the_tables_points() -> None:
    """py-ecc's own derivation, independent of the native core's, for a sample of the
    table's points (2.6 ms each): G, H, U and the first and last g_i and h_i."""
    labels = get_table_labels()
    table = TABLE_PATH.read_bytes()
    sample = [0, 1, 2, 3, 3 + TABLE_VECTORS - 1, 3 + TABLE_VECTORS, len(labels) - 1]
    for index in sample:
        entry = table[index * TABLE_POINT_BYTES :][:TABLE_POINT_BYTES]
        point = REFERENCE.hash_to_point(labels[index])
        assert REFERENCE.encode(point) == REFERENCE.encode(REFERENCE.decode_uncompressed(entry))
        assert PURE_PYTHON.encode(PURE_PYTHON.hash_to_point(labels[index])) == REFERENCE.encode(
            point
        )


@pytest.mark.parametrize("group", [REFERENCE, PURE_PYTHON], ids=lambda g: g.name)
def test_the_pure_python_backends_read_the_table_and_hash_past_it(group: Group[Any]) -> None:
    gens = Generators(group)
    assert group.encode(gens.U) == FAST.encode(FAST.hash_to_point(b"ipa/u"))
    g, h = gens.vectors(TABLE_VECTORS + 1)
    native_g, native_h = Generators(FAST).vectors(TABLE_VECTORS + 1)
    for ours, natives in ((g, native_g), (h, native_h)):
        assert [group.encode(p) for p in ours[-2:]] == [FAST.encode(p) for p in natives[-2:]]
