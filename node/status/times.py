"""Block and commit times as a person reads them: a UTC date and an age, the age taken
from the `now_ms` the page is rendered at (never from a clock read here)."""

from __future__ import annotations

import time

AGE_STEPS = ((86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1_000, "s"))


def format_utc(time_ms: int) -> str:
    """`2026-11-24 07:59:25 UTC` (whole seconds, rounded down)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time_ms // 1000))


def format_clock(time_ms: int) -> str:
    """`07:59:25`: the time of day in UTC, for rows that share the page's date."""
    return time.strftime("%H:%M:%S", time.gmtime(time_ms // 1000))


def format_duration(ms: int) -> str:
    """`850 ms`, `12 s`, `3 min 20 s`, `2 h 5 min`, `4 d 1 h`: the two largest units."""
    if ms < 1_000:
        return f"{ms} ms"
    parts: list[str] = []
    for size, name in AGE_STEPS:
        count, ms = divmod(ms, size)
        if count or parts:
            parts.append(f"{count} {name}")
        if len(parts) == 2:
            break
    if parts[-1].startswith("0 "):
        parts.pop()
    return " ".join(parts)


def format_age(time_ms: int, now_ms: int) -> str:
    """How long before `now_ms` the moment `time_ms` was; a moment after it (another
    node's clock ahead of this one) says so rather than showing a negative age."""
    if time_ms > now_ms:
        return f"{format_duration(time_ms - now_ms)} ahead of this node's clock"
    return f"{format_duration(now_ms - time_ms)} ago"
