"""The browser verifier decodes the published ledger (web/verifier/src/ledger.ts) as
clearing/published_ledger.py does: a vault's paid total past 64 bits as the same number,
and each malformed one refused with the same words."""

from __future__ import annotations

from pathlib import Path

from clearing.published_ledger import PublishedLedger, ReserveTotal
from records.codec import DecodeError, encode_big_int, pack
from tests.web.verifier.node_cli import bundle_cli, run_cli


def _ledger(paid: object) -> bytes:
    reserve = [1, bytes(20), 10, 2, 3, paid]
    return pack([3, [], 0, [reserve], 0])


def _python(data: bytes) -> dict[str, object]:
    try:
        return {"paid": [str(r.paid) for r in PublishedLedger.decode(data).reserves]}
    except DecodeError as e:
        return {"error": str(e)}


def test_the_paid_totals_decode_as_in_python(tmp_path: Path) -> None:
    honest = PublishedLedger((), 0, (ReserveTotal(1, bytes(20), 10, 2, 3, 2**64 + 7),), 0)
    ledgers = [
        honest.encode(),
        _ledger(2**64 - 1),  # the largest plain int
        _ledger(encode_big_int(2**200)),
        _ledger(-1),
        _ledger(encode_big_int(-(2**70))),  # a negative total of any size
        _ledger(b"\x00\x05"),  # a small total as bytes: not canonical
        _ledger(b"\x02\x01" + bytes(9)),  # no such sign
        _ledger("7"),
    ]
    expected = [_python(data) for data in ledgers]
    assert expected[0] == {"paid": [str(2**64 + 7)]} and "below 0" in str(expected[3])
    bundle = bundle_cli("ledger_cli", tmp_path)
    answer = run_cli(bundle, {"ledgers": [data.hex() for data in ledgers]}, timeout=60)
    assert answer["results"] == expected
