"""A validator process whose wall clock is off (Debian's libfaketime, preloaded: trio's
monotonic clock runs true), fixed for its life (`clock_off_by`) or moved while it runs
(`MovableClock`: libfaketime reads the offset from a file, at most two seconds late), and
what its peers' metrics show of it (`read_samples`).

libfaketime moves the clock of what reads it through libc: our node's processes. A
CometBFT process reads the kernel's clock from Go's runtime, past any preloaded library,
so its clock stays true whatever its environment says."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.node.netproc import NodeHome

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
NO_FAKETIME = "no libfaketime (make installs faketime)"


def clock_off_by(seconds: int) -> dict[str, str]:
    """The environment of a process whose clock is `seconds` off for its whole life."""
    return {
        "LD_PRELOAD": str(FAKETIME),
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


@dataclass(frozen=True)
class MovableClock:
    """A process clock whose offset `set` moves while the process runs (true at first)."""

    path: Path
    """The file libfaketime reads the offset from."""

    def __post_init__(self) -> None:
        self.set(0)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process on this clock."""
        return {
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def set(self, seconds: int) -> None:
        """The clock `seconds` off from now on (ahead if positive), whole: a reader never
        meets a half-written file."""
        written = self.path.with_name(self.path.name + ".new")
        written.write_text(f"{seconds:+d}s\n")
        os.replace(written, self.path)


def read_samples(home: NodeHome, sample: str) -> dict[str, float]:
    """`sample`'s values on `home`'s /metrics, by their proposer label ("" without one)."""
    families = text_string_to_metric_families(home.get_metrics())
    return {
        s.labels.get("proposer", ""): s.value
        for f in families
        for s in f.samples
        if s.name == sample
    }
