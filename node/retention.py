"""What a pruned node keeps of its chain, and what every node keeps whatever its age.

An operator bounds the store with `[storage] blocks_kept` and `history_blocks_kept`
(node/config.py; 0 keeps all: an archive node). At each snapshot the node prunes to
them, never past what a restart re-applies (the blocks after the oldest snapshot kept),
and keeps, whatever their age, the blocks a light client's walk and a report's anchor
read (node/reports/anchor.py):

- block c + 1 of every change c of the validator set: its header names the new set,
  and the walk from genesis to the set signing today goes through each;
- block e * L + 1 of each epoch e whose report this node keeps (`[reports] keep`, the
  newest committed) or may still commit (the EPOCHS_TRACKED newest after the newest
  committed), L the epoch length: its header carries the state root the report proves
  against. An older epoch's anchor goes at the next prune, with its report: the store
  stays within its bounds however long the chain, and a verifier holding an older
  report reads its anchor from an archive node.

A few blocks, against the thousands a day pruning removes. A snapshot carries
the set changes and the newest epochs' anchors (`get_carried_heights`), so the node it
restores holds them too. On CometBFT the node's first height is handed on as ABCI
Commit's `retain_height`, so CometBFT's own stores are pruned to the same height.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from clearing.state import ClearingState
from clearing.validator_set import get_set_change_heights
from node.storage import NodeStore, Pruned

log = logging.getLogger(__name__)

EPOCHS_TRACKED = 4
"""Uncommitted epochs whose reports and shares a node keeps, the newest: its reports
service holds their inputs (node/reports/service.py) and its store their anchors."""

SNAPSHOT_REPORT_ANCHORS = 16
"""How many of the newest report epochs' anchor blocks a snapshot carries, so that a
restored node serves those reports with their anchors: more than `[reports] keep`'s
default (10), the reports its report sync fetches."""

ALL_HEIGHTS = range(1, 2**63)
"""What a node keeping every block pins: none goes, not even an anchor a pruned past left."""
MIN_BLOCKS_KEPT = 10
"""The least nonzero retention: the blocks a CometBFT node's signed headers are still
being fetched for, with room to spare."""
MAX_PRUNE_STEP = 10_000
"""Blocks removed by one prune at most: a node turned from archive to pruned works its
backlog off over several snapshots, not in one long transaction on the commit path."""


@dataclass(frozen=True)
class Retention:
    """Keep the newest `blocks_kept` blocks and the history of the newest
    `history_blocks_kept` (0: all), and the anchors of the `reports_kept` newest reports."""

    blocks_kept: int
    history_blocks_kept: int
    reports_kept: int

    @property
    def keeps_everything(self) -> bool:
        """An archive node's: nothing to prune, no prune to run at its snapshots."""
        return self.blocks_kept == 0 and self.history_blocks_kept == 0

    def get_blocks_below(self, store: NodeStore, latest: int) -> int:
        """The first height of the blocks to keep: `blocks_kept` back from `latest`, but
        none after the oldest snapshot (a restart re-applies them) and at most
        MAX_PRUNE_STEP above the store's first height."""
        first = store.first_height()
        if self.blocks_kept == 0:
            return first
        oldest = store.oldest_snapshot_height()
        below = min(latest - self.blocks_kept + 1, first + MAX_PRUNE_STEP)
        return first if oldest is None else max(first, min(below, oldest))

    def get_lowest_kept(self, latest: int) -> int:
        """The lowest block this retention keeps at `latest`: what a state-synced node
        backfills down to (node/statesync/backfill.py)."""
        return 1 if self.blocks_kept == 0 else max(1, latest - self.blocks_kept + 1)

    def get_history_below(self, latest: int) -> int:
        return 1 if self.history_blocks_kept == 0 else latest - self.history_blocks_kept + 1

    def prune(self, store: NodeStore, state: ClearingState) -> Pruned:
        """Prunes `store`, whose latest block is `state`'s, to this retention."""
        pruned = store.prune(
            self.get_blocks_below(store, state.height),
            self.get_history_below(state.height),
            get_pinned_heights(state, self.reports_kept) if self.blocks_kept else ALL_HEIGHTS,
        )
        if pruned.blocks or pruned.history_rows:
            log.info(
                "pruned %d blocks and %d history rows: blocks held from height %d (and the "
                "older ones light clients read), history from %d",
                pruned.blocks, pruned.history_rows, pruned.blocks_from, pruned.history_from,
            )  # fmt: skip
        return pruned


def get_pinned_heights(state: ClearingState, reports_kept: int) -> frozenset[int]:
    """The blocks a node keeps whatever their age (see the module's docstring)."""
    length = state.genesis.epoch_length_blocks
    anchors = (e * length + 1 for e in get_report_epochs(state, reports_kept))
    return frozenset([*get_set_change_heights(state), *anchors])


def get_carried_heights(state: ClearingState, height: int) -> tuple[int, ...]:
    """The pinned blocks before `height` that a snapshot of `height` carries, ascending:
    every set change, and the anchors of the SNAPSHOT_REPORT_ANCHORS newest report epochs.
    The node it restores then holds what its own later snapshots carry: an epoch newer
    than those has its anchor after `height`, which it applies."""
    length = state.genesis.epoch_length_blocks
    epochs = get_report_epochs(state, SNAPSHOT_REPORT_ANCHORS)[-SNAPSHOT_REPORT_ANCHORS:]
    anchors = (e * length + 1 for e in epochs)
    return tuple(sorted(h for h in {*get_set_change_heights(state), *anchors} if h < height))


def get_report_epochs(state: ClearingState, committed_kept: int) -> list[int]:
    """The `committed_kept` (at least 1) newest epochs whose report is committed and
    those whose report may still be, ascending."""
    ended = state.height // state.genesis.epoch_length_blocks
    committed = sorted(state.report_hashes)[-committed_kept:]
    newest = committed[-1] if committed else 0
    return [*committed, *range(max(newest + 1, ended - EPOCHS_TRACKED + 1), ended + 1)]
