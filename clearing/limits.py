"""The protocol's size limits: one table, every other size cap in the node derives from it.

Why here: these are rules of the clearing application (what a transaction and a block
may hold), so every validator must apply the same numbers. `consensus/` stays generic
(it never imports clearing): it decodes a block of any transaction sizes, bounded only
by its whole-message cap, and leaves per-transaction and per-block limits to the
application's `process_proposal`, as CometBFT does. Transport caps (gossip topics,
block sync, API body) are derived from this table in `node/limits.py`.

| limit                    | value                 | derivation                                    |
|--------------------------|-----------------------|-----------------------------------------------|
| MAX_TRADES_PER_BATCH     | 10,000                | promised to venues (docs/venue.md)            |
| MAX_TX_BYTES             | 4 MiB                 | >= a MAX_TRADES_PER_BATCH batch with every    |
|                          |                       | field at its largest (3,410,340 bytes, tested)|
| MAX_BLOCK_BYTES          | 2 x MAX_TX_BYTES      | the largest tx plus the proposer's own txs    |
| MAX_PROPOSER_TXS_BYTES   | BLOCK - TX bytes      | what the proposer's own txs may take, so the  |
|                          |                       | largest tx always still fits                  |
| MAX_BLOCK_TXS            | 20,000                | bounds per-block work; > 2 x batch count      |
"""

from __future__ import annotations

MAX_TRADES_PER_BATCH = 10_000
MAX_TX_BYTES = 4 * 1024 * 1024
MAX_BLOCK_BYTES = 2 * MAX_TX_BYTES
MAX_PROPOSER_TXS_BYTES = MAX_BLOCK_BYTES - MAX_TX_BYTES
MAX_BLOCK_TXS = 20_000
