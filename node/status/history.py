"""What the status page's charts draw: one sample per committed block, the last
HISTORY_BLOCKS of them, kept in memory (never read from disk per request).

Only public figures: the block's height, time and commit latency, the mark prices and
the default fund's totals (posted and required over all members, naming none), each
None in the public columns where the public view withheld it (node/api/disclosure.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from clearing.state import ClearingState
from node.api.house import get_default_fund_view
from node.status.journal import BlockLine

HISTORY_BLOCKS = 240


@dataclass(frozen=True, slots=True)
class Sample:
    height: int
    time_ms: int
    commit_ms: int
    marks: dict[str, int]
    default_fund_posted: int
    default_fund_required: int
    withheld: frozenset[str]
    """The default fund's totals the public view withheld at this block."""


class History:
    def __init__(self, size: int = HISTORY_BLOCKS) -> None:
        self.samples: deque[Sample] = deque(maxlen=size)

    def record(self, state: ClearingState, line: BlockLine) -> None:
        """The sample of the block `line` describes, `state` being the state it left."""
        fund = get_default_fund_view(state, detailed=True)
        posted, required = fund["posted"], fund["required"]
        assert isinstance(posted, int) and isinstance(required, int)
        withheld = get_default_fund_view(state, detailed=False)["withheld"]
        assert isinstance(withheld, dict)
        self.samples.append(
            Sample(line.height, line.time_ms, line.commit_ms, dict(state.mark_prices),
                   posted, required, frozenset(withheld))
        )  # fmt: skip

    def to_columns(self, detailed: bool = False) -> dict[str, Any]:
        """Oldest first, one list per figure; `marks` per instrument, None in the samples
        taken before its first price; the default fund's totals None where the public
        view withheld them, unless `detailed` (the operator's view)."""
        samples = list(self.samples)
        instruments = sorted({iid for s in samples for iid in s.marks})

        def fund(s: Sample, name: str, value: int) -> int | None:
            return value if detailed or name not in s.withheld else None

        return {
            "height": [s.height for s in samples],
            "time_ms": [s.time_ms for s in samples],
            "commit_ms": [s.commit_ms for s in samples],
            "default_fund_posted": [fund(s, "posted", s.default_fund_posted) for s in samples],
            "default_fund_required": [
                fund(s, "required", s.default_fund_required) for s in samples
            ],
            "marks": {iid: [s.marks.get(iid) for s in samples] for iid in instruments},
        }
