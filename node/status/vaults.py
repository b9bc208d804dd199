"""Each configured chain's vault as the status page shows it: its balances and the
validator set it trusts as last read, or why they could not be read. Reading them is
vault_reads.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.validators import EvmValidatorSet


@dataclass
class VaultView:
    """One chain's vault as last read: balances by token symbol and the validator set it
    trusts, or why they could not be read."""

    name: str
    chain_id: int
    vault: str
    balances: dict[str, int] = field(default_factory=dict)
    error: str = ""
    read_at_ms: int = 0
    validators: EvmValidatorSet | None = None
