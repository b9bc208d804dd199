"""The governed configuration in the state root and snapshots
(clearing/governance/configuration.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from clearing.errors import GenesisError
from clearing.genesis import Genesis, parse_genesis
from clearing.governance.configuration import (
    apply_configuration,
    encode_configuration,
)
from clearing.governance_changes import make_risk_change
from clearing.state import initialize_state
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from records.codec import DecodeError, pack
from tests.clearing.governance.support import (
    NEXT_FUTURE,
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import genesis_doc


def test_an_executed_change_survives_a_snapshot() -> None:
    box = gov_sandbox()
    risk = genesis_doc()["risk"]
    risk["k_num"], risk["k_den"] = 2, 3
    proposal = submit(box, propose(box, (next_future_listing(), make_risk_change(risk))))
    box.apply(ballots(box, proposal, range(4)))
    run_until(box, proposal.execute_height)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.genesis == box.state.genesis and restored.genesis is not box.genesis
    assert list(restored.instruments) == list(box.state.instruments)
    assert restored.instruments[NEXT_FUTURE] == box.state.instruments[NEXT_FUTURE]
    assert restored.proposals[1].get_record_fields() == proposal.get_record_fields()
    assert restored.proposals[1].changes == proposal.changes
    assert compute_state_root(restored) == compute_state_root(box.state)
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)


def test_the_root_covers_proposals_and_the_configuration() -> None:
    box = gov_sandbox()
    before = compute_state_root(box.state)
    submit(box, propose(box, (next_future_listing(),)))
    fresh = initialize_state(box.genesis)
    fresh.height, fresh.time_ms = box.state.height, box.state.time_ms
    assert compute_state_root(fresh) != compute_state_root(box.state) != before


def test_a_snapshot_with_a_bad_instrument_is_refused() -> None:
    box = gov_sandbox()
    data = encode_snapshot(box.state)
    bad = data.replace(b'"tick_size":100', b'"tick_size":-10', 1)
    assert bad != data
    with pytest.raises(DecodeError, match="tick_size"):
        decode_snapshot(box.genesis, bad)
    with pytest.raises(DecodeError):
        decode_snapshot(box.genesis, pack([5, [], [], [], []]))


def test_a_snapshot_whose_changes_are_not_the_signed_ones_is_refused() -> None:
    box = gov_sandbox()
    submit(box, propose(box, (next_future_listing(),)))
    data = encode_snapshot(box.state)
    bad = data.replace(b"BTC-26MAR27", b"BTC-26MAR28", 1)  # in the listing only
    assert bad != data
    with pytest.raises(DecodeError, match="do not match its digest"):
        decode_snapshot(box.genesis, bad)


def _with_haircuts(genesis: Genesis, haircuts: object) -> bytes:
    doc = json.loads(encode_configuration(genesis))
    doc["collateral_haircuts"] = haircuts
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def test_the_configuration_carries_each_tokens_haircut_in_force() -> None:
    genesis = parse_genesis(genesis_doc())
    entries = [[t.chain_id, "0x" + t.token.hex(), t.haircut_bps] for t in genesis.collateral]
    assert json.loads(encode_configuration(genesis))["collateral_haircuts"] == entries
    raised = [[c, t, 2_000 if h else 0] for c, t, h in entries]
    applied = apply_configuration(genesis, _with_haircuts(genesis, raised))
    assert [t.haircut_bps for t in applied.collateral] == [h for _, _, h in raised]
    assert [t.key for t in applied.collateral] == [t.key for t in genesis.collateral]


@pytest.mark.parametrize(
    ("edit", "key", "expected"),
    [
        (lambda e: e[:-1], "collateral_haircuts", "a list of 3 entries"),
        (lambda e: [e[1], e[0], *e[2:]], "collateral_haircuts[0]", "of the genesis's token"),
        (lambda e: [[True, *e[0][1:]], *e[1:]], "collateral_haircuts[0]", "of the genesis's token"),
        (lambda e: [*e[:1], [*e[1][:2], 10_000], *e[2:]], "collateral_haircuts[1]", "[0, 9999]"),
        (lambda e: [*e[:1], [*e[1][:2], 1.0], *e[2:]], "collateral_haircuts[1]", "[0, 9999]"),
        (lambda e: [[*e[0][:2], 5], *e[1:]], "collateral_haircuts[0]", "a settlement token"),
    ],
)
def test_a_configuration_whose_haircuts_are_not_the_genesis_tokens_is_refused(
    edit: Callable[[list[list[object]]], object], key: str, expected: str
) -> None:
    genesis = parse_genesis(genesis_doc())
    entries = json.loads(encode_configuration(genesis))["collateral_haircuts"]
    with pytest.raises(GenesisError) as info:
        apply_configuration(genesis, _with_haircuts(genesis, edit(entries)))
    assert info.value.key == key and expected in info.value.expected
