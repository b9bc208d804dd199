"""Whether a validator attests an external bridge's deposit report: the checks the API
runs on a report it takes and each validator runs on one gossip brings, against its
committed state."""

from __future__ import annotations

from bridge.external import SignedExternalEvent, verify_external_event
from clearing.collateral import CollateralObservation, is_credited
from clearing.errors import DuplicateCredit, UnknownCollateral
from clearing.state import ClearingState


def check_external_event(state: ClearingState, event: SignedExternalEvent) -> CollateralObservation:
    """A registered bridge's report on a chain it may report (``UnregisteredBridge``,
    ``BadBridgeSignature``, ``ChainNotAllowed``), of a deposit the ledger has not settled
    (``DuplicateCredit``) and of registered collateral unless it only consumes the nonce
    (``UnknownCollateral``)."""
    observation = verify_external_event(event, state.genesis.external_bridges, state.chain_id)
    if is_credited(state, observation.key):
        raise DuplicateCredit(*observation.key)
    token = (observation.chain_id, observation.token)
    if observation.quanta and token not in state.collateral_tokens:
        raise UnknownCollateral(*token)
    return observation
