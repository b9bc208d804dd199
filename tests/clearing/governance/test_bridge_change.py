"""Registering and removing external bridges (clearing/governance/bridge_change.py)."""

from __future__ import annotations

import pytest

from clearing.errors import GenesisError
from clearing.genesis import ExternalBridge, parse_genesis
from clearing.governance_changes import AddExternalBridge, RemoveExternalBridge
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import genesis_doc

KEY = bytes(range(32))
BRIDGE = ExternalBridge("solana-gw", KEY, (31337, 31338))


def test_a_bridge_added_at_its_height_is_in_the_root_and_survives_a_snapshot() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (AddExternalBridge(BRIDGE),)))
    box.apply(ballots(box, proposal, range(4)))
    run_until(box, proposal.execute_height - 1)
    assert box.state.genesis.external_bridges == ()
    root_before = compute_state_root(box.state)
    box.apply([])
    assert box.state.genesis.external_bridges == (BRIDGE,)
    assert compute_state_root(box.state) != root_before
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.genesis.external_bridges == (BRIDGE,)
    assert compute_state_root(restored) == compute_state_root(box.state)


def test_removing_a_bridge_is_an_emergency_executed_when_it_passes() -> None:
    doc = genesis_doc()
    doc["external_bridges"] = [{"id": "gw", "pubkey": "0x" + KEY.hex(), "chains": [31338]}]
    box = gov_sandbox(doc)
    assert box.state.genesis.external_bridges == (ExternalBridge("gw", KEY, (31338,)),)
    proposal = submit(box, propose(box, (RemoveExternalBridge("gw"),)))
    box.apply(ballots(box, proposal, range(3)))
    assert box.state.genesis.external_bridges == ()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (AddExternalBridge(ExternalBridge("new", bytes(32), (1,))), "ChainWithoutCollateral"),
        (AddExternalBridge(ExternalBridge("gw", KEY, (31337,))), "ExternalBridgeListed"),
        (AddExternalBridge(ExternalBridge("other", KEY, (31337,))), "BridgeKeyInUse"),
        (RemoveExternalBridge("nope"), "UnknownExternalBridge"),
    ],
)
def test_bad_bridge_changes_are_refused_with_their_numbers(
    change: AddExternalBridge | RemoveExternalBridge, code: str
) -> None:
    doc = genesis_doc()
    doc["external_bridges"] = [{"id": "gw", "pubkey": "0x" + KEY.hex(), "chains": [31338]}]
    box = gov_sandbox(doc)
    assert_refused(box, propose(box, (change,)), code)


def test_genesis_bridges_report_only_collateral_chains_with_unique_keys() -> None:
    entry = {"id": "gw", "pubkey": "0x" + KEY.hex(), "chains": [31337]}
    for bad, key in (
        ([{**entry, "chains": [5]}], "external_bridges[0].chains"),
        ([entry, {**entry, "id": "gw2"}], "external_bridges[1]"),
        ([{**entry, "chains": []}], "external_bridges[0].chains"),
    ):
        doc = genesis_doc()
        doc["external_bridges"] = bad
        with pytest.raises(GenesisError) as raised:
            parse_genesis(doc)
        assert raised.value.key == key
