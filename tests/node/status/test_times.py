"""Times as dates and ages, against a pinned `now_ms`."""

from __future__ import annotations

from node.status.times import format_age, format_clock, format_duration, format_utc

NOW_MS = 1_795_939_165_123  # 2026-11-29 07:59:25.123 UTC


def test_dates_are_utc_to_the_second() -> None:
    assert format_utc(NOW_MS) == "2026-11-29 07:59:25 UTC"
    assert format_utc(0) == "1970-01-01 00:00:00 UTC"
    assert format_clock(NOW_MS) == "07:59:25"


def test_durations_name_their_two_largest_units() -> None:
    assert [format_duration(ms) for ms in (0, 40, 999, 1_000, 12_345)] == [
        "0 ms", "40 ms", "999 ms", "1 s", "12 s",
    ]  # fmt: skip
    assert format_duration(61_000) == "1 min 1 s"
    assert format_duration(3_600_000) == "1 h"
    assert format_duration(3_660_000) == "1 h 1 min"
    assert format_duration(3_601_000) == "1 h"  # seconds past the two largest units drop
    assert format_duration(90_061_000) == "1 d 1 h"


def test_ages_count_back_from_the_pinned_now() -> None:
    assert format_age(NOW_MS - 12_000, NOW_MS) == "12 s ago"
    assert format_age(NOW_MS, NOW_MS) == "0 ms ago"
    assert format_age(NOW_MS + 2_000, NOW_MS) == "2 s ahead of this node's clock"
