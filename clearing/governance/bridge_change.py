"""Registering an external bridge with its key and the chains it may report (delayed),
or removing one (an emergency: a bridge whose key leaked must stop at once)."""

from __future__ import annotations

from clearing.governance.draft import Draft
from clearing.governance.errors import (
    BridgeKeyInUse,
    ChainWithoutCollateral,
    ExternalBridgeListed,
    UnknownExternalBridge,
)
from clearing.governance_changes import AddExternalBridge, RemoveExternalBridge
from clearing.state import ClearingState


def apply_add_external_bridge(
    change: AddExternalBridge, draft: Draft, state: ClearingState
) -> None:
    """A new id and a key no other bridge has, for chains holding collateral."""
    if change.bridge.id in draft.external_bridges:
        raise ExternalBridgeListed(change.bridge.id)
    for other in draft.external_bridges.values():
        if other.pubkey == change.bridge.pubkey:
            raise BridgeKeyInUse(change.bridge.pubkey, other.id)
    chains = tuple(sorted({chain for chain, _ in state.collateral_tokens}))
    for chain in change.bridge.chains:
        if chain not in chains:
            raise ChainWithoutCollateral(chain, chains)
    draft.external_bridges[change.bridge.id] = change.bridge


def apply_remove_external_bridge(
    change: RemoveExternalBridge, draft: Draft, state: ClearingState
) -> None:
    if change.bridge_id not in draft.external_bridges:
        raise UnknownExternalBridge(change.bridge_id)
    del draft.external_bridges[change.bridge_id]
