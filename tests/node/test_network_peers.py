"""Who may talk to a node, whole nodes in one trio loop: the nodes of the validators in
force and the observers their configs list; a stranger gets neither blocks nor a
connection."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from clearing.genesis import Validator
from clearing.state import initialize_state
from clearing.validator_set import install_validators
from node.config import load_config
from node.config_table import ConfigError
from node.genesis_file import load_genesis
from node.p2p import HostConfig, RequestFailed, open_p2p
from node.p2p.allowed_peers import AllowedPeers, check_persistent_peers, get_allowed_peers
from node.p2p.blocksync import fetch_blocks
from node.p2p.topics import get_topics
from tests.node.netproc import GENESIS_DOC, ORACLE_OFF, SHORT_TIMEOUTS, NodeHome
from tests.node.nodenet import open_node_network

VALIDATORS = 4


def genesis_naming_peers() -> dict[str, object]:
    """The example genesis with each validator's node peer id, as `clearnode init` writes
    it (nodenet's homes `v0`..`v3` derive their node keys from their names)."""
    doc = json.loads(GENESIS_DOC.read_text())
    for index, validator in enumerate(doc["validators"]):
        validator["peer_id"] = NodeHome(Path(), f"v{index}", index).peer_id
    return doc


@pytest.mark.slow
async def test_an_observer_follows_a_stranger_is_refused_and_a_restarted_validator_returns(
    tmp_path: Path,
) -> None:
    # short timeouts: the heights waited for come sooner (idle blocks twice as often, a
    # round on the restarted validator's turn failing in 1.8 s, was 5 s)
    quiet = ORACLE_OFF + SHORT_TIMEOUTS
    full = NodeHome(tmp_path / "full", "full", None, log_level="warning", extra_config=quiet)
    async with open_node_network(
        tmp_path, extra_config=quiet, genesis=genesis_naming_peers(), observers=(full.peer_id,)
    ) as net:
        v0, v1 = net.homes[0], net.homes[1]
        full.write(genesis_naming_peers(), [h.addr for h in net.homes])
        net.homes.append(full)
        await net.start(full)
        await net.wait_for_height(3, timeout_s=90)

        stranger_config = HostConfig(key_seed=secrets.token_bytes(32))
        async with open_p2p(stranger_config, get_topics()) as stranger:
            for _ in range(3):
                with pytest.raises(RequestFailed):
                    try:
                        await stranger.connect(v0.addr)
                    except RequestFailed:
                        pass  # v0's close may land under the dial
                    await fetch_blocks(stranger, v0.peer_id, 1, 8)
                await trio.sleep(0.2)
            validator = net.peers[v0.name]
            assert validator.counters["connections", "refused_not_allowed"] >= 1
            assert stranger.peer_id not in validator.connected_peers()
            assert validator.scores.get_score(stranger.peer_id) == 0
            assert full.peer_id in validator.connected_peers()

        await net.stop(v1)
        await net.start(v1)
        height = net.get_height(v0)
        await net.wait_for_height(height + 3, timeout_s=90)
        assert v1.peer_id in net.peers[v0.name].connected_peers()


def test_genesis_naming_only_some_validators_peers_is_refused(tmp_path: Path) -> None:
    doc = genesis_naming_peers()
    del doc["validators"][2]["peer_id"]  # type: ignore[index]
    home = NodeHome(tmp_path, "v0", 0)
    home.write(doc, [])
    config = load_config(home.path)
    genesis = load_genesis(config)
    with pytest.raises(ConfigError) as info:
        get_allowed_peers(config, genesis, genesis.validators)
    assert info.value.key == "validators[2].peer_id"


def test_a_persistent_peer_outside_the_allowed_set_is_refused(tmp_path: Path) -> None:
    home = NodeHome(tmp_path, "v0", 0)
    home.write(genesis_naming_peers(), [NodeHome(tmp_path, "elsewhere", None).addr])
    config = load_config(home.path)
    genesis = load_genesis(config)
    allowed = get_allowed_peers(config, genesis, genesis.validators)
    assert allowed is not None
    with pytest.raises(ConfigError) as info:
        check_persistent_peers(config, genesis, allowed)
    assert info.value.key == "p2p.persistent_peers[0]"


def test_a_persistent_peer_governance_removed_or_added_is_no_error(tmp_path: Path) -> None:
    """A genesis validator's node removed since is kept in the config (not dialled while
    removed); a validator's node governance added is allowed like the genesis ones."""
    removed, added = NodeHome(tmp_path, "v3", 3), NodeHome(tmp_path, "v4", 4)
    home = NodeHome(tmp_path, "v0", 0)
    home.write(genesis_naming_peers(), [removed.addr, added.addr])
    config = load_config(home.path)
    genesis = load_genesis(config)
    allowed = get_allowed_peers(config, genesis, genesis.validators)
    assert allowed is not None
    check_persistent_peers(config, genesis, allowed - {removed.peer_id} | {added.peer_id})


def test_the_allowed_set_is_the_validators_nodes_and_the_observers(tmp_path: Path) -> None:
    observer = NodeHome(tmp_path, "full", None)
    home = NodeHome(tmp_path, "v0", 0, observers=(observer.peer_id,))
    home.write(genesis_naming_peers(), [])
    config = load_config(home.path)
    expected = {NodeHome(tmp_path, f"v{i}", i).peer_id for i in range(VALIDATORS)}
    genesis = load_genesis(config)
    assert get_allowed_peers(config, genesis, genesis.validators) == expected | {observer.peer_id}


def test_the_allowed_set_is_the_validators_in_force_jailed_ones_included(tmp_path: Path) -> None:
    """Governance added v4's node and removed v3's; v2 is jailed (it may be unjailed); a
    record governance wrote without a peer id allows no one."""
    home = NodeHome(tmp_path, "v0", 0)
    home.write(genesis_naming_peers(), [])
    config = load_config(home.path)
    genesis = load_genesis(config)
    v0, v1, v2, _ = genesis.validators
    added = Validator("v4", b"\x04" * 32, 10, b"\x04" * 20, NodeHome(tmp_path, "v4", 4).peer_id)
    unnamed = Validator("v5", b"\x05" * 32, 10, b"\x05" * 20, "")
    in_force = [v0, v1, replace(v2, power=0), added, unnamed]
    peers = {v.peer_id for v in (v0, v1, v2, added)}
    assert get_allowed_peers(config, genesis, in_force) == peers


async def test_the_host_follows_the_validator_set_and_the_rotation_grace_at_each_commit(
    tmp_path: Path,
) -> None:
    home = NodeHome(tmp_path, "v0", 0)
    home.write(genesis_naming_peers(), [])
    config = load_config(home.path)
    genesis = load_genesis(config)
    state = initialize_state(genesis)
    added = Validator("v4", b"\x04" * 32, 10, b"\x04" * 20, NodeHome(tmp_path, "v4", 4).peer_id)
    removed = genesis.validators[3]
    allowed = get_allowed_peers(config, genesis, genesis.validators)
    async with open_p2p(HostConfig(secrets.token_bytes(32), allowed_peers=allowed), []) as p2p:
        follower = AllowedPeers(config, genesis, p2p, state)
        validators = {**state.validators, added.pubkey: added}
        del validators[removed.pubkey]
        state.height = 5
        install_validators(state, validators, {})
        follower.on_commit(state)
        assert p2p.allowed_peers is not None and allowed is not None
        # removed in block 5, it may still sign vault rotations: allowed during its grace
        assert p2p.allowed_peers == allowed | {added.peer_id}
        state.height += config.bridge.rotation_grace_blocks - 1
        follower.on_commit(state)
        assert p2p.is_allowed(removed.peer_id)
        state.height += 1
        follower.on_commit(state)
        assert p2p.allowed_peers == allowed - {removed.peer_id} | {added.peer_id}
        assert p2p.is_allowed(added.peer_id) and not p2p.is_allowed(removed.peer_id)
