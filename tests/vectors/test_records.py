"""The committed record vectors: each record kind encodes to exactly the bytes its
hand-written encoding gave (tests/vectors/records/records.json, written before the
records were declared) and decodes from them to an equal record."""

from __future__ import annotations

import json

import pytest

from tests.vectors.make_records import VECTORS, make_vectors

EXPECTED: dict[str, str] = json.loads(VECTORS.read_text())
KINDS = make_vectors()


def test_every_record_kind_has_its_vector() -> None:
    assert sorted(KINDS) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_record_gives_its_committed_bytes_and_reads_them_back(name: str) -> None:
    vector = KINDS[name]
    data = vector.encode(vector.record)
    assert data.hex() == EXPECTED[name]
    if vector.decode is not None:
        assert vector.decode(data) == vector.record
