from __future__ import annotations

import pytest

from clearing.default.events import DefaultEvent, EventKind
from clearing.errors import DecodeError


def test_event_round_trip_and_bad_bytes() -> None:
    event = DefaultEvent(EventKind.DELEVERAGED, b"\x01" * 20, 2, 500, "BTC-PERP", -3, 61_000,
                         b"\x02" * 20, 0)  # fmt: skip
    assert DefaultEvent.decode(event.encode()) == event
    with pytest.raises(DecodeError):
        DefaultEvent.decode(b"\x92\x01\xa3bad")
