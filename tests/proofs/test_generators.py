"""The generator cache shared by a node's verifying threads."""

from __future__ import annotations

import threading

from proofs.native_group import FAST
from proofs.pedersen import Generators, get_vector_label

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
