"""Who may connect to this node: the nodes of the validator records in force (and of
those in their rotation grace) and the operator's observers, followed as the set changes;
and which of them form the clique whose messages on direct topics are relayed only to
peers outside it (node/p2p/router.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from clearing.genesis import Genesis, Validator
from clearing.state import ClearingState
from clearing.validator_set import get_retiring_validators
from node.config import NodeConfig
from node.config_table import ConfigError
from node.keys import check_peer_id
from node.p2p import P2PNode

log = logging.getLogger(__name__)


def get_allowed_peers(
    config: NodeConfig, genesis: Genesis, validators: Iterable[Validator]
) -> frozenset[str] | None:
    """The peers this node talks to: the nodes of `validators`, the records in force (jailed
    ones included: governance may unjail them), and `[p2p] observers`.

    None (everyone) only for a genesis naming no validator's peer id (one written before
    `clearnode init` wrote them), said loudly; a genesis naming some but not all, or one
    that is not a peer id, is an error. A record governance wrote with no peer id, or one
    that is not a peer id (clearing does not parse them), is left out, said once per
    change of the set.
    """
    given = [v.peer_id for v in genesis.validators if v.peer_id]
    if not given:
        log.warning(
            "genesis names no validator peer_id: every peer may connect and hear all gossip "
            "(add each validator's node peer id, `clearnode keys show`, to genesis)"
        )
        return None
    for index, validator in enumerate(genesis.validators):
        key = f"validators[{index}].peer_id"
        try:
            check_peer_id(validator.peer_id)
        except ValueError as exc:
            expected = "a libp2p peer id (on every validator, or on none)"
            raise ConfigError(config.genesis_file, key, expected, str(exc)) from None
    allowed = set(config.p2p.observers)
    for validator in validators:
        try:
            allowed.add(check_peer_id(validator.peer_id))
        except ValueError as exc:
            log.warning("validator %s's node is not allowed to connect: %s", validator.name, exc)
    return frozenset(allowed)


def check_persistent_peers(config: NodeConfig, genesis: Genesis, allowed: frozenset[str]) -> None:
    """Every persistent peer is allowed, or a genesis validator's node governance removed
    since (said; the host dials it again if governance adds it back): anyone else would
    be refused at every redial."""
    genesis_nodes = {v.peer_id for v in genesis.validators}
    for index, addr in enumerate(config.p2p.persistent_peers):
        peer = addr.rsplit("/p2p/", 1)[-1]
        if peer in allowed:
            continue
        if peer in genesis_nodes:
            log.info("persistent peer %s is no longer a validator's node: not dialled", peer)
            continue
        raise ConfigError(
            config.config_file or config.home,
            f"p2p.persistent_peers[{index}]",
            "a validator's node (of the set in force) or one of p2p.observers",
            peer,
        )


def get_peer_validators(config: NodeConfig, state: ClearingState) -> list[Validator]:
    """Whose nodes may connect: the records in force, and those that lost their power
    within `[bridge] rotation_grace_blocks` (they may still sign vault rotations)."""
    retiring = get_retiring_validators(state, config.bridge.rotation_grace_blocks)
    return [*state.validators.values(), *retiring]


def get_clique(validators: Iterable[Validator]) -> frozenset[str]:
    """The validators' nodes, which all connect to each other (node/p2p/router.py)."""
    clique = set()
    for validator in validators:
        try:
            clique.add(check_peer_id(validator.peer_id))
        except ValueError:
            continue  # not allowed to connect either (get_allowed_peers says so)
    return frozenset(clique)


class AllowedPeers:
    """Keeps the host's allowed peers on the validator records in force and those still
    in their rotation grace: recomputed after each commit that changed either
    (governance, a jailing, a grace ending), so a validator governance added connects
    once the block adding it commits, and a removed one is cut off when its grace ends."""

    def __init__(
        self, config: NodeConfig, genesis: Genesis, p2p: P2PNode, state: ClearingState
    ) -> None:
        self.config, self.genesis, self.p2p = config, genesis, p2p
        self.seen = get_peer_validators(config, state)
        if p2p.allowed_peers is not None:
            p2p.set_clique(get_clique(state.validators.values()))

    def on_commit(self, state: ClearingState) -> None:
        if self.p2p.allowed_peers is None:
            return
        validators = get_peer_validators(self.config, state)
        if validators == self.seen:
            return
        self.seen = validators
        self.p2p.set_clique(get_clique(state.validators.values()))
        allowed = get_allowed_peers(self.config, self.genesis, validators)
        if allowed == self.p2p.allowed_peers:
            return
        assert allowed is not None  # the genesis named peer ids at start
        log.info(
            "allowed peers follow the validator set at height %d: %d joined, %d left",
            state.height,
            len(allowed - self.p2p.allowed_peers),
            len(self.p2p.allowed_peers - allowed),
        )
        self.p2p.set_allowed_peers(allowed)
