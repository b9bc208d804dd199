"""Registering an external bridge with its key and the chains it may report (delayed),
or removing one (an emergency: a bridge whose key leaked must stop at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from clearing.errors import GenesisError
from clearing.genesis import ExternalBridge, parse_external_bridge
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import (
    BridgeKeyInUse,
    ChainWithoutCollateral,
    ExternalBridgeListed,
    UnknownExternalBridge,
)
from clearing.state import ClearingState
from lightclient.codec import DecodeError, expect_bytes, expect_list, expect_str
from lightclient.records import Declared, Name


@dataclass(frozen=True, slots=True)
class AddExternalBridge:
    NAME: ClassVar[str] = "add_external_bridge"
    EMERGENCY: ClassVar[bool] = False
    bridge: ExternalBridge

    def to_fields(self) -> list[object]:
        return [self.NAME, self.bridge.id, self.bridge.pubkey, list(self.bridge.chains)]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AddExternalBridge:
        """Validated as a genesis ``external_bridges`` entry: chains sorted, distinct."""
        _, bridge_id, pubkey, chains = expect_list(fields, cls.NAME, 4)
        entry = {
            "id": expect_str(bridge_id, "bridge"),
            "pubkey": "0x" + expect_bytes(pubkey, "pubkey", 32).hex(),
            "chains": expect_list(chains, "chains"),
        }
        try:
            bridge = parse_external_bridge(entry, "bridge")
        except GenesisError as error:
            raise DecodeError(error.key, f"expected {error.expected}, got {error.got!r}") from None
        if list(bridge.chains) != chains:
            raise DecodeError("bridge.chains", f"{chains!r} is not in ascending order")
        return cls(bridge)

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A new id and a key no other bridge has, for chains holding collateral."""
        if self.bridge.id in draft.external_bridges:
            raise ExternalBridgeListed(self.bridge.id)
        for other in draft.external_bridges.values():
            if other.pubkey == self.bridge.pubkey:
                raise BridgeKeyInUse(self.bridge.pubkey, other.id)
        chains = tuple(sorted({chain for chain, _ in state.collateral_tokens}))
        for chain in self.bridge.chains:
            if chain not in chains:
                raise ChainWithoutCollateral(chain, chains)
        draft.external_bridges[self.bridge.id] = self.bridge


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveExternalBridge(Declared):
    NAME: ClassVar[str] = "remove_external_bridge"
    EMERGENCY: ClassVar[bool] = True
    bridge_id: Name

    def apply(self, draft: Draft, state: ClearingState) -> None:
        if self.bridge_id not in draft.external_bridges:
            raise UnknownExternalBridge(self.bridge_id)
        del draft.external_bridges[self.bridge_id]
