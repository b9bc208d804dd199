"""What one devnet run is asked for: `clearnode devnet`'s options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clearing.genesis import DEFAULT_ENGINE


@dataclass(frozen=True)
class DevnetConfig:
    validators: int = 4
    chains: int = 2
    members: int = 8
    duration_s: float = 120.0
    seed: int = 7
    epoch_length_blocks: int | None = None
    """None: `genesis.EPOCH_BLOCKS`, about 30 seconds."""
    out_dir: Path | None = None
    engine: str = DEFAULT_ENGINE
