"""What happened to a transaction: the results of the last `window` committed blocks,
kept in memory by the API from the commit listener and looked up by tx hash.

Nothing here is persisted: after a restart (or `window` blocks later) a transaction
is no longer found, and a client reads the block itself (GET /v1/blocks/{height}).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from clearing.block import BlockResult, TxResult
from clearing.events import Event
from node.api.errors import to_json_value
from node.mempool import compute_tx_hash

# Not in the config file: node/config.py is not the API's to change; 1,000 blocks of
# results is a few MB at most.
TX_WINDOW_BLOCKS = 1_000


@dataclass(frozen=True)
class TxOutcome:
    height: int
    index: int
    result: TxResult


class RecentTxs:
    """Index tx hash → outcome over the last `window` recorded blocks.

    Invariant: every indexed hash belongs to a block still in `_blocks`; a hash
    committed twice (a replay, rejected the second time) answers its latest outcome.
    """

    def __init__(self, window: int = TX_WINDOW_BLOCKS) -> None:
        self.window = window
        self._blocks: deque[tuple[int, list[bytes]]] = deque()
        self._by_hash: dict[bytes, TxOutcome] = {}

    @property
    def heights(self) -> tuple[int, int] | None:
        """(oldest, latest) height kept, or None before the first block."""
        return (self._blocks[0][0], self._blocks[-1][0]) if self._blocks else None

    def record_block(self, txs: Sequence[bytes], result: BlockResult) -> None:
        """Index a committed block's transactions (`txs[i]` has `result.tx_results[i]`)."""
        hashes = [compute_tx_hash(raw) for raw in txs]
        for index, (tx_hash, tx_result) in enumerate(zip(hashes, result.tx_results, strict=True)):
            # without its decoded record: a window of 1,000 blocks would keep them all
            self._by_hash[tx_hash] = TxOutcome(
                result.height, index, replace(tx_result, record=None)
            )
        self._blocks.append((result.height, hashes))
        while len(self._blocks) > self.window:
            height, old = self._blocks.popleft()
            for tx_hash in old:
                outcome = self._by_hash.get(tx_hash)
                if outcome is not None and outcome.height == height:
                    del self._by_hash[tx_hash]

    def get(self, tx_hash: bytes) -> TxOutcome | None:
        return self._by_hash.get(tx_hash)


def get_outcome_view(tx_hash: bytes, outcome: TxOutcome) -> dict[str, object]:
    """The JSON answer for a committed transaction (bytes as 0x-hex)."""
    result = outcome.result
    return {
        "tx_hash": "0x" + tx_hash.hex(),
        "status": "committed",
        "height": outcome.height,
        "index": outcome.index,
        "code": result.code,
        "detail": result.detail,
        "events": [get_event_view(event) for event in result.events],
    }


def get_event_view(event: Event) -> dict[str, object]:
    return {"kind": event.kind, "fields": {k: to_json_value(v) for k, v in event.data}}
