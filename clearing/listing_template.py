"""Listing templates: the futures series (and their option strikes) a network lists by
itself, at each expiry, rather than by one governance proposal per contract.

A template names a future's terms but its id and expiry, a cycle of expiries, how many
series stay listed at once, and optionally a strike ladder of calls and puts around
the new future's starting mark. Everything a roll lists is a function of the template,
the block time and the index price (clearing/governance/roll.py): ids, expiry times and
strikes are derived here, without a clock or I/O, so every node lists the same contracts.

- cycle ``periodic``: expiries at ``first_expiry_ms + k * period_ms`` (k >= 0);
- cycle ``quarterly``: the last Friday of March, June, September and December at
  08:00 UTC (the quarterly expiry of the main crypto futures venues).

A series' id is ``PREFIX-DMONYY`` (``BTC-26MAR27``), with ``-HHMMSS`` after it when
the expiry is not at 08:00 UTC (a short periodic cycle); an option's is the series' id,
the strike divided by ``strike_unit``, and ``C`` or ``P`` (``BTC-26MAR27-65000-C``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from enum import StrEnum

from clearing.instruments import Instrument, OptionType

DAY_MS = 86_400_000
EXPIRY_TIME_OF_DAY_MS = 8 * 3_600_000  # 08:00 UTC
MAX_SERIES = 8
MAX_STRIKES_EACH_SIDE = 16
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
QUARTER_MONTHS = (3, 6, 9, 12)
FRIDAY = 4  # datetime.date.weekday()
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


class Cycle(StrEnum):
    PERIODIC = "periodic"
    QUARTERLY = "quarterly"


@dataclass(frozen=True, slots=True)
class StrikeLadder:
    """``2 * strikes_each_side + 1`` strikes ``spacing`` apart (a call and a put at each),
    centred on the multiple of ``spacing`` nearest the future's starting mark; strikes
    not above zero are left out. ``option``: the terms every strike shares (its id,
    strike, type, underlying and expiry are each strike's)."""

    strikes_each_side: int
    spacing: int
    strike_unit: int
    option: Instrument

    def get_strikes(self, mark: int) -> list[int]:
        centre = (mark + self.spacing // 2) // self.spacing * self.spacing
        n = self.strikes_each_side
        strikes = (centre + k * self.spacing for k in range(-n, n + 1))
        return [strike for strike in strikes if strike > 0]


@dataclass(frozen=True, slots=True)
class ListingTemplate:
    id: str
    prefix: str
    future: Instrument  # every term of the series but its id and expiry
    cycle: Cycle
    first_expiry_ms: int  # periodic only (0 for quarterly)
    period_ms: int  # periodic only (0 for quarterly)
    series: int  # how many unexpired series stay listed
    ladder: StrikeLadder | None

    def get_next_expiries(self, time_ms: int) -> list[int]:
        """The ``series`` expiries after ``time_ms`` (strictly: a series expiring at the
        block time expires in this block)."""
        if self.cycle is Cycle.QUARTERLY:
            return get_quarterly_expiries(time_ms, self.series)
        first = 0
        if time_ms >= self.first_expiry_ms:
            first = (time_ms - self.first_expiry_ms) // self.period_ms + 1
        ks = range(first, first + self.series)
        return [self.first_expiry_ms + k * self.period_ms for k in ks]

    def make_series(self, expiry_ms: int) -> Instrument:
        return replace(self.future, id=get_series_id(self.prefix, expiry_ms), expiry_ms=expiry_ms)

    def make_options(self, future: Instrument, mark: int) -> list[Instrument]:
        """The ladder's calls and puts on ``future`` around ``mark`` (none without a ladder)."""
        if self.ladder is None:
            return []
        ladder = self.ladder
        return [
            replace(
                ladder.option,
                id=f"{future.id}-{strike // ladder.strike_unit}-{option_type.value[0].upper()}",
                underlying=future.id,
                expiry_ms=future.expiry_ms,
                strike=strike,
                option_type=option_type,
            )
            for strike in ladder.get_strikes(mark)
            for option_type in (OptionType.CALL, OptionType.PUT)
        ]


def get_date(time_ms: int) -> datetime.date:
    return datetime.date.fromordinal(EPOCH_ORDINAL + time_ms // DAY_MS)


def get_day_start_ms(day: datetime.date) -> int:
    return (day.toordinal() - EPOCH_ORDINAL) * DAY_MS


def get_series_id(prefix: str, expiry_ms: int) -> str:
    day = get_date(expiry_ms)
    series_id = f"{prefix}-{day.day}{MONTHS[day.month - 1]}{day.year % 100:02d}"
    time_of_day_ms = expiry_ms % DAY_MS
    if time_of_day_ms != EXPIRY_TIME_OF_DAY_MS:
        seconds = time_of_day_ms // 1000
        series_id += f"-{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
    return series_id


def get_last_friday_ms(year: int, month: int) -> int:
    """08:00 UTC on the last Friday of ``month``."""
    next_month = datetime.date(year + month // 12, month % 12 + 1, 1)
    last_day = next_month - datetime.timedelta(days=1)
    friday = last_day - datetime.timedelta(days=(last_day.weekday() - FRIDAY) % 7)
    return get_day_start_ms(friday) + EXPIRY_TIME_OF_DAY_MS


def get_quarterly_expiries(time_ms: int, count: int) -> list[int]:
    year = get_date(time_ms).year
    expiries: list[int] = []
    while len(expiries) < count:
        for month in QUARTER_MONTHS:
            expiry_ms = get_last_friday_ms(year, month)
            if expiry_ms > time_ms and len(expiries) < count:
                expiries.append(expiry_ms)
        year += 1
    return expiries
