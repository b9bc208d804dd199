"""Each watched vault's validator set as this node last read it at a final block, and
the set it must move to: what GET /v1/bridge shows, what the withdrawal and rotation
books check signatures against, and what the rotation duty (rotations.py) updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.validators import EvmValidatorSet

IN_SYNC, ROTATING, UNKNOWN = "in_sync", "rotating", "unknown"


@dataclass
class VaultSetStatus:
    """One watched vault's validator set as last read at a final block, and the target
    it must move to (None when it equals the consensus set)."""

    name: str
    chain_id: int
    vault: bytes
    current: EvmValidatorSet | None = None
    final_block: int = -1
    target: EvmValidatorSet | None = None
    error: str = ""

    @property
    def state(self) -> str:
        if self.current is None:
            return UNKNOWN
        return IN_SYNC if self.target is None else ROTATING

    def to_json(self) -> dict[str, Any]:
        current, target = self.current, self.target
        return {
            "chain_id": self.chain_id,
            "vault": "0x" + self.vault.hex(),
            "status": self.state,
            "epoch": None if current is None else current.epoch,
            "validators": None if current is None else len(current.members),
            "total_power": None if current is None else current.total_power,
            "final_block": self.final_block,
            "target_epoch": None if target is None else target.epoch,
            "target_validators": None if target is None else len(target.members),
            "error": self.error,
        }


def get_known_set(statuses: Mapping[int, VaultSetStatus], chain_id: int,
                  vault: bytes) -> EvmValidatorSet | None:  # fmt: skip
    """The set of a vault this node reads, as last read at a final block, or None."""
    status = statuses.get(chain_id)
    return None if status is None or status.vault != vault else status.current
