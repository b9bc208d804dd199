"""Where the engine keeps committed blocks (`BlockStore`)."""

from __future__ import annotations

from typing import Protocol

from consensus.types import Block, CommitCertificate


class BlockStore(Protocol):
    """Durable committed blocks with their certificates and resulting state roots."""

    def get_height(self) -> int:
        """Height of the last stored block; 0 when empty."""
        ...

    def get_block(self, height: int) -> tuple[Block, CommitCertificate] | None: ...

    def get_state_root(self, height: int) -> bytes:
        """State root after `height` (genesis root at 0)."""
        ...

    def save_block(self, block: Block, certificate: CommitCertificate, state_root: bytes) -> None:
        """Durably store a committed block before consensus moves to the next height."""
        ...

    def load_validator_checkpoint(self) -> bytes | None:
        """What `save_validator_checkpoint` last kept; None if nothing."""
        ...

    def save_validator_checkpoint(self, checkpoint: bytes) -> None:
        """Keep `checkpoint` (a `ValidatorCheckpoint`), replacing the one kept before."""
        ...
