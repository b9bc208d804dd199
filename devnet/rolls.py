"""The listing roll as the devnet shows it: the genesis lists a short-dated BTC future
and the template that rolls it (devnet/genesis.py); during the run the future
expires and settles, the template lists the next series in the same block, the
validators' oracle prices it (node/oracle/sources.py follows the instruments in force)
and the market makers trade it (devnet/script.py). The replica records
each series' milestones from the committed blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clearing.instruments import Instrument
from clearing.state import ClearingState


@dataclass
class RolledSeries:
    """One series a listing template made (the genesis' first one included)."""

    instrument: str
    expiry_ms: int
    listed_height: int  # 0: in the genesis
    listing_mark: int
    priced_height: int | None = None  # the first block that moved its mark
    traded_height: int | None = None  # the first block that left open interest in it
    settled_height: int | None = None  # its expiry's block
    final_price: int | None = None

    def get_line(self) -> str:
        listed = "in the genesis" if self.listed_height == 0 else f"at h{self.listed_height}"
        parts = [f"series {self.instrument}: listed {listed} at {self.listing_mark}"]
        if self.priced_height is not None:
            parts.append(f"priced by the oracle from h{self.priced_height}")
        if self.traded_height is not None:
            parts.append(f"traded from h{self.traded_height}")
        if self.settled_height is not None:
            parts.append(f"expired and settled at h{self.settled_height} at {self.final_price}")
        return ", ".join(parts)


def is_template_series(state: ClearingState, instrument: Instrument) -> bool:
    return instrument.expiry_ms is not None and any(
        t.make_series(instrument.expiry_ms).id == instrument.id
        for t in state.genesis.listing_templates
    )


@dataclass
class Rolls:
    series: dict[str, RolledSeries] = field(default_factory=dict)

    def start(self, state: ClearingState) -> None:
        for instrument in state.instruments.values():
            if is_template_series(state, instrument):
                self._add(instrument, 0, state.mark_prices[instrument.id])

    def _add(self, instrument: Instrument, height: int, mark: int) -> None:
        assert instrument.expiry_ms is not None
        self.series[instrument.id] = RolledSeries(instrument.id, instrument.expiry_ms, height, mark)

    def record(self, state: ClearingState, height: int, kind: str, data: dict[str, object]) -> str:
        """Follows one committed event; returns a line to log ('' for none)."""
        instrument_id = data.get("instrument")
        if kind == "instrument_listed" and isinstance(instrument_id, str):
            instrument = state.instruments[instrument_id]
            mark = data.get("mark")
            if instrument.strike is None and isinstance(mark, int):
                self._add(instrument, height, mark)
                return f"h{height} template {data.get('template')} listed {instrument_id}"
        series = self.series.get(instrument_id) if isinstance(instrument_id, str) else None
        if kind == "expiry" and series is not None:
            final = data.get("final_price")
            series.settled_height, series.final_price = (
                height,
                final if isinstance(final, int) else None,
            )
            return f"h{height} {series.instrument} expired and settled at {final}"
        return ""

    def observe(self, state: ClearingState, height: int) -> None:
        """After each block the replica applied: which series the oracle priced and members hold."""
        for series in self.series.values():
            if (
                series.priced_height is None
                and state.mark_prices[series.instrument] != series.listing_mark
            ):
                series.priced_height = height
            if series.traded_height is None and state.open_interest.get(series.instrument, 0) > 0:
                series.traded_height = height

    def get_live(self, time_ms: int) -> str | None:
        """The unexpired series the market makers trade (the nearest), if any."""
        live = [
            s for s in self.series.values() if s.settled_height is None and s.expiry_ms > time_ms
        ]
        return min(live, key=lambda s: s.expiry_ms).instrument if live else None

    def get_missing(self) -> str:
        """What of the roll the run did not show ('' if it showed all of it)."""
        rolled = self.get_rolled()
        if not any(s.settled_height is not None for s in self.series.values()):
            return "the listing roll: no series expired during the run"
        if not rolled:
            return "the listing roll: no series was listed after an expiry"
        if not any(s.priced_height is not None for s in rolled):
            return "the listing roll: the oracle never priced a rolled series"
        if all(s.traded_height is None for s in rolled):
            return "the listing roll: the market makers never traded a rolled series"
        return ""

    def get_rolled(self) -> list[RolledSeries]:
        """The series the roll listed during the run (not the genesis')."""
        return [s for s in self.series.values() if s.listed_height > 0]

    def get_summary(self) -> list[dict[str, Any]]:
        return [{**s.__dict__, "line": s.get_line()} for s in self.series.values()]
