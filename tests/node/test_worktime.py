"""Where the node's time goes: each second counted once, in its innermost part."""

from __future__ import annotations

import pytest

from node.worktime import WorkTime


class Ticks:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_nested_part_takes_its_seconds_from_the_outer_one() -> None:
    clock = Ticks()
    work = WorkTime(clock)
    with work.measure("consensus"):
        clock.now += 1.0
        with work.measure("block_apply"):
            clock.now += 3.0
            with work.measure("block_store"):
                clock.now += 2.0
        clock.now += 0.5
    assert work.seconds == {"consensus": 1.5, "block_apply": 3.0, "block_store": 2.0}


def test_a_timed_call_counts_even_when_it_raises() -> None:
    clock = Ticks()
    work = WorkTime(clock)

    def check(tx: bytes) -> int:
        clock.now += 0.25
        if tx == b"bad":
            raise ValueError("refused")
        return len(tx)

    timed = work.timed("tx_check", check)
    assert timed(b"good") == 4
    with pytest.raises(ValueError, match="refused"):
        timed(b"bad")
    assert work.seconds == {"tx_check": 0.5}
