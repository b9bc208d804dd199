"""External bridges: a registered key reports collateral events on chains we do not watch.

Choice: Ed25519 (`cryptography`), like validator attestations, over clearing's own
canonical encoding of the observation under a separate domain
(`external-collateral`), so a bridge signature can never pass as a validator's
attestation or vice versa, nor be replayed on another network (chain id is signed).

Path: a validator's node receives a `SignedExternalEvent` on its API
(`POST /v1/bridge/external-events`); `verify_external_event` checks the key against the
registry in the state (governance adds and removes bridges: `external_bridges` of the
configuration in force), the chain against the ones the bridge may report and the
signature, and returns the plain `CollateralObservation`. The validator then attests
that observation with `sign_observation`, and it takes the same quorum path as watched
deposits. The
dedup key is the same (chain id, vault, deposit nonce), so one deposit reported by a
bridge and also seen by watchers, or reported twice, is credited at most once. A
bridge numbers the events of each (chain id, vault) 1, 2, 3, ... like the vault's
`depositNonce`; a gap it never fills keeps every later nonce in clearing's sparse set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.wire import FORMAT_VERSION, Versioned
from clearing.attestation import compute_signing_bytes, is_valid_signature
from clearing.collateral import CollateralObservation
from clearing.genesis import ExternalBridge
from records.declared import EdSignature, PublicKey, declare_record

EXTERNAL_DOMAIN = "external-collateral"


class ExternalEventError(Exception):
    """An external bridge event that must not enter the quorum path."""


class UnregisteredBridge(ExternalEventError):
    def __init__(self, public_key: bytes) -> None:
        super().__init__(f"bridge key {public_key.hex()} is not registered")
        self.public_key = public_key


class BadBridgeSignature(ExternalEventError):
    def __init__(self, bridge: str) -> None:
        super().__init__(f"signature of bridge {bridge!r} does not verify")
        self.bridge = bridge


class ChainNotAllowed(ExternalEventError):
    """The bridge reported a deposit on a chain it is not registered for."""

    def __init__(self, bridge: str, chain_id: int, chains: tuple[int, ...]) -> None:
        super().__init__(f"bridge {bridge!r} may report chains {list(chains)}, not {chain_id}")
        self.bridge, self.chain_id, self.chains = bridge, chain_id, chains


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class SignedExternalEvent(Versioned):
    observation: CollateralObservation
    bridge_key: PublicKey
    signature: EdSignature


def compute_external_signing_bytes(network_chain_id: int, obs: CollateralObservation) -> bytes:
    return compute_signing_bytes(EXTERNAL_DOMAIN, network_chain_id, obs.to_fields())


def sign_external_event(
    key: Ed25519PrivateKey, network_chain_id: int, observation: CollateralObservation
) -> SignedExternalEvent:
    signature = key.sign(compute_external_signing_bytes(network_chain_id, observation))
    return SignedExternalEvent(observation, key.public_key().public_bytes_raw(), signature)


def verify_external_event(
    event: SignedExternalEvent, registry: Iterable[ExternalBridge], network_chain_id: int
) -> CollateralObservation:
    """The observation, if a registered bridge signed it for a chain it may report."""
    bridge = next((b for b in registry if b.pubkey == event.bridge_key), None)
    if bridge is None:
        raise UnregisteredBridge(event.bridge_key)
    message = compute_external_signing_bytes(network_chain_id, event.observation)
    if not is_valid_signature(event.bridge_key, event.signature, message):
        raise BadBridgeSignature(bridge.id)
    if event.observation.chain_id not in bridge.chains:
        raise ChainNotAllowed(bridge.id, event.observation.chain_id, bridge.chains)
    return event.observation
