"""A validator's rotation duty: keep each watched vault's validator set equal to the
consensus set.

On every round (after each commit, and every few seconds) the validator reads each
watched vault's set at a final block (the watcher's finality rule, so every
validator reads the same set) and compares it with the consensus set of its
committed state (bridge.rotation.get_consensus_set). When they differ and this
validator is in the vault's set, it signs the `Rotation` to the consensus set at the
next epoch and gossips it; every validator derives the same target, so the
signatures meet on one digest. Anyone relays the quorum (`clearnode relay`).

Idempotent: a restart reads the chain again and signs the same bytes again (RFC 6979
signatures are deterministic); a rotation is signed once per (current set, target)
and re-gossiped by the node until the vault's epoch moves past it. A vault seen at a
later epoch than before is a rotation: logged and counted on every validator.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bridge.eip712 import get_address
from bridge.rotation import Rotation, RotationSignature, compute_target_set, sign_rotation_message
from bridge.validators import EvmValidatorSet, ValidatorSetError
from node.bridge.chains import CHAIN_READ_ERRORS, VaultReader, get_vault
from node.bridge.vault_sets import VaultSetStatus

log = logging.getLogger(__name__)


@dataclass
class VaultRotator:
    """Reads each watched vault's set and, with an EVM key in that set, signs its
    rotation to the consensus set."""

    readers: Mapping[int, VaultReader]  # by EVM chain id
    statuses: dict[int, VaultSetStatus]
    get_consensus: Callable[[], Sequence[tuple[bytes, int]]]
    get_evm_key: Callable[[], bytes | None]  # None: status only (no usable bridge key now)
    send: Callable[[RotationSignature], Awaitable[None]]
    counters: dict[tuple[str, str], int] = field(default_factory=dict)  # (chain, event)
    signed: dict[int, Rotation] = field(default_factory=dict)  # the last signed, by chain

    def __post_init__(self) -> None:
        for chain_id, reader in self.readers.items():
            config = reader.config
            self.statuses.setdefault(
                chain_id, VaultSetStatus(config.name, chain_id, get_vault(config))
            )

    async def check_all(self) -> None:
        for chain_id, reader in sorted(self.readers.items()):
            await self.check(self.statuses[chain_id], reader)

    async def check(self, status: VaultSetStatus, reader: VaultReader) -> None:
        try:
            read = await reader.get_final_set()
        except CHAIN_READ_ERRORS as exc:
            status.error = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("chain %d: vault set unreadable, retrying later: %s", status.chain_id,
                        exc)  # fmt: skip
            return
        if read is None:
            return
        block, current = read
        previous = status.current
        status.current, status.final_block, status.error = current, block, ""
        try:
            status.target = compute_target_set(current, self.get_consensus())
        except ValidatorSetError as exc:
            status.target, status.error = None, f"consensus set: {exc}"
            log.error("chain %d: no rotation, the consensus set is no vault set: %s",
                      status.chain_id, exc)  # fmt: skip
            return
        if previous is not None and current.epoch > previous.epoch:
            self.note_rotated(status, current)
        if status.target is not None:
            await self.sign(status, Rotation(status.chain_id, status.vault, current,
                                             status.target))  # fmt: skip

    def note_rotated(self, status: VaultSetStatus, current: EvmValidatorSet) -> None:
        self.count(status.name, "rotated")
        log.info("vault 0x%s on chain %d rotated to epoch %d: %d validators, power %d, %s",
                 status.vault.hex(), status.chain_id, current.epoch, len(current.members),
                 current.total_power,
                 "in sync" if status.target is None else "still not the consensus set")  # fmt: skip

    async def sign(self, status: VaultSetStatus, rotation: Rotation) -> None:
        """Sign once per (current set, target), and only as a member of the current set
        whose bridge key the set in force lists with power."""
        key = self.get_evm_key()
        if key is None or rotation.current.get_power(get_address(key)) == 0:
            return
        if self.signed.get(status.chain_id) == rotation:
            return
        signed = sign_rotation_message(rotation, key)
        self.signed[status.chain_id] = rotation
        self.count(status.name, "signed")
        log.info("vault 0x%s on chain %d: set of epoch %d (%d validators) is not the consensus "
                 "set (%d validators): signed the rotation to epoch %d",
                 status.vault.hex(), status.chain_id, rotation.current.epoch,
                 len(rotation.current.members), len(rotation.target.members),
                 rotation.target.epoch)  # fmt: skip
        await self.send(signed)

    def count(self, chain: str, event: str) -> None:
        self.counters[chain, event] = self.counters.get((chain, event), 0) + 1
