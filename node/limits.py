"""The node's transport caps, each derived from the protocol table in `clearing/limits.py`.

| cap                          | derivation                                                  |
|------------------------------|-------------------------------------------------------------|
| MAX_PROPOSAL_BYTES           | a proposal carrying a full block (MAX_BLOCK_BYTES in        |
|                              | MAX_BLOCK_TXS txs, consensus framing and envelope)          |
| MAX_CONSENSUS_GOSSIP_BYTES   | = MAX_PROPOSAL_BYTES (the largest consensus message)        |
| MAX_TX_GOSSIP_BYTES          | = MAX_TX_BYTES                                              |
| MAX_SYNC_RESPONSE_BYTES      | SYNC_FULL_BLOCKS_PER_RESPONSE x MAX_PROPOSAL_BYTES (a block |
|                              | and its commit certificate fit in a proposal's bound)       |
| MAX_API_BODY_BYTES           | `{"tx": "0x<hex>"}`: 2 x MAX_TX_BYTES + JSON_ENVELOPE_BYTES |
|                              | (the transaction routes' body cap)                          |
| MAX_JSON_REQUEST_BYTES       | every other route's body cap: a signed member request or    |
|                              | query (at most 672 bytes measured, pretty-printed)          |
| MAX_MEMPOOL_TX_BYTES         | = MAX_TX_BYTES                                              |

The consensus WAL holds records up to the consensus message cap
(`consensus.wal.MAX_RECORD_BYTES`), which `EngineConfig` checks a full proposal fits.
The prices, bridge and reports topics carry no transactions (observations, credit
attestations, report announcements), so their own caps in node/oracle, node/bridge
and node/reports do not depend on this table.
"""

from __future__ import annotations

from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES
from consensus.types import compute_max_proposal_bytes

MAX_PROPOSAL_BYTES = compute_max_proposal_bytes(MAX_BLOCK_BYTES, MAX_BLOCK_TXS)
MAX_CONSENSUS_GOSSIP_BYTES = MAX_PROPOSAL_BYTES
MAX_TX_GOSSIP_BYTES = MAX_TX_BYTES
SYNC_FULL_BLOCKS_PER_RESPONSE = 4
MAX_SYNC_RESPONSE_BYTES = SYNC_FULL_BLOCKS_PER_RESPONSE * MAX_PROPOSAL_BYTES
JSON_ENVELOPE_BYTES = 1024
"""`{"tx": "0x"}` and whitespace around it: 11 bytes plus generous room."""
MAX_API_BODY_BYTES = 2 * MAX_TX_BYTES + JSON_ENVELOPE_BYTES
MAX_JSON_REQUEST_BYTES = 4 * 1024
"""Six times the largest signed member request: room for whitespace and a long venue id."""
MAX_MEMPOOL_TX_BYTES = MAX_TX_BYTES
