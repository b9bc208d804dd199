"""What the status page remembers of recent commits: blocks and default events.

Filled by a commit listener from the block the node just applied, so it holds
only public facts: the block, its certificate, and per block and kind of default
event how many there were, how many members they were of, and what they moved in
total. A default event names a member and, for a liquidation or a deleveraging, the
instrument and lots moved: that is the member's position, so none of it is kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from clearing.default.events import WATERFALL_KINDS, EventKind
from clearing.events import Event
from clearing.transition.block import BlockResult
from node.committed import CommittedBlock

RECENT_BLOCKS = 20
RECENT_DEFAULT_EVENTS = 200
SHOWN_KINDS = frozenset(
    (*WATERFALL_KINDS, EventKind.LIQUIDATION_FEE.value, EventKind.REDUCE_ONLY.value)
)


@dataclass(frozen=True)
class BlockLine:
    height: int
    round: int | None
    """None where the engine hands a block over before its commit (CometBFT)."""
    time_ms: int
    txs: int
    rejected: int
    signers: tuple[bytes, ...]
    state_root: bytes
    commit_ms: int
    """From the block's proposal to the moment this node applied it: from its block time
    on ours (its proposer's clock at the proposal), on CometBFT from this node's
    acceptance of the proposal (`CommittedBlock.get_proposed_ms`)."""


@dataclass(frozen=True)
class DefaultLine:
    """The `count` events of one `kind` in the block at `height`, `amount` their sum over
    `members` members (public only from `min_public_contributors` members up)."""

    height: int
    kind: str
    count: int
    amount: int
    members: int


class Journal:
    def __init__(self) -> None:
        self.blocks: deque[BlockLine] = deque(maxlen=RECENT_BLOCKS)
        self.defaults: deque[DefaultLine] = deque(maxlen=RECENT_DEFAULT_EVENTS)

    def record(
        self,
        block: CommittedBlock,
        root: bytes,
        result: BlockResult | None,
        now_ms: int,
    ) -> None:
        tx_results = () if result is None else result.tx_results
        self.blocks.appendleft(
            BlockLine(
                block.height,
                block.round,
                block.time_ms,
                len(block.txs),
                sum(r.code != "ok" for r in tx_results),
                block.signers,
                root,
                max(0, now_ms - block.get_proposed_ms()),
            )
        )
        if result is None:
            return
        for line in get_default_lines(block.height, result.get_events()):
            self.defaults.appendleft(line)


def get_default_lines(height: int, events: list[Event]) -> list[DefaultLine]:
    """One line per shown kind, in the order the kinds first occur in the block."""
    totals: dict[str, tuple[int, int, set[object]]] = {}
    for event in events:
        if event.kind in SHOWN_KINDS:
            count, amount, members = totals.get(event.kind, (0, 0, set()))
            data = dict(event.data)
            value = data.get("amount", 0)
            members.add(data.get("member"))
            totals[event.kind] = (
                count + 1, amount + (value if isinstance(value, int) else 0), members
            )  # fmt: skip
    return [
        DefaultLine(height, kind, count, amount, len(members))
        for kind, (count, amount, members) in totals.items()
    ]
