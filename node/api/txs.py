"""The answer of GET /v1/txs/{hash} for a committed transaction: its outcome as the node
saved it with its block (node/storage/outcomes.py), in JSON."""

from __future__ import annotations

from clearing.events import Event
from node.api.errors import to_json_value
from node.storage.outcomes import TxOutcome


def get_outcome_view(outcome: TxOutcome) -> dict[str, object]:
    """The JSON answer for a committed transaction (bytes as 0x-hex)."""
    result = outcome.result
    return {
        "tx_hash": "0x" + outcome.tx_hash.hex(),
        "status": "committed",
        "height": outcome.height,
        "index": outcome.index,
        "code": result.code,
        "detail": result.detail,
        "events": [get_event_view(event) for event in result.events],
    }


def get_event_view(event: Event) -> dict[str, object]:
    return {"kind": event.kind, "fields": {k: to_json_value(v) for k, v in event.data}}
