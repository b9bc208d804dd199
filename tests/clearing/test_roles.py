"""Clearing members and client accounts: the genesis keys, the state root and snapshots,
and the governance changes that admit and remove clearing members."""

from __future__ import annotations

from typing import Any

import pytest

from clearing.clients import decode_role_fields, get_role_fields
from clearing.errors import GenesisError
from clearing.genesis import parse_genesis
from clearing.governance.errors import (
    ClearingMemberAdmitted,
    ClearingMemberHasClients,
    IsAClient,
    NotAClearingMember,
)
from clearing.governance.rules import build_draft
from clearing.governance_changes import AdmitClearingMember, RemoveClearingMember
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import initialize_state
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from records.codec import DecodeError
from tests.clearing.default.test_clients import OMNI, M, N, S, client_doc, hexed
from tests.clearing.support import ALICE, genesis_doc


def test_a_genesis_without_clearing_members_keeps_the_open_membership() -> None:
    genesis = parse_genesis(genesis_doc())
    assert genesis.clearing_members is None and genesis.clients == ()
    state = initialize_state(genesis)
    assert state.clearing_members == set() and state.clients == {}


def test_the_genesis_names_clearing_members_and_their_clients() -> None:
    state = initialize_state(parse_genesis(client_doc()))
    assert {M.address, N.address} < state.clearing_members
    assert state.clients[OMNI.address] == ClientAccount(
        M.address, SegregationModel.OMNIBUS, N.address
    )
    assert state.clients[S.address].model is SegregationModel.SEGREGATED


def _client(doc: dict[str, Any], **fields: str) -> dict[str, Any]:
    doc["clients"][0].update(fields)
    return doc


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d.pop("clearing_members"), "clearing_members"),
        (lambda d: _client(d, clearing_member=hexed(S)), "clearing_member"),
        (lambda d: _client(d, backup=hexed(M)), "backup"),  # its own member
        (lambda d: _client(d, backup=hexed(ALICE)), "backup"),  # not admitted
        (lambda d: _client(d, address=hexed(N)), "clients.0x"),  # a clearing member
        (lambda d: _client(d, model="pooled"), "model"),
        (lambda d: d["clearing_members"].append(hexed(M)), "clearing_members[4]"),
        (lambda d: d["clearing_members"].append("0x12"), "clearing_members[4]"),
        (lambda d: d["clearing_members"].append("0x" + "00" * 20), "clearing_members"),
        (lambda d: _client(d, address="0x" + "00" * 20), "clients.0x"),
        (lambda d: d.__setitem__("porting_window_blocks", -1), "porting_window_blocks"),
    ],
)  # fmt: skip
def test_a_bad_clearing_genesis_names_its_key(edit: Any, key: str) -> None:
    doc = client_doc()
    edit(doc)
    with pytest.raises(GenesisError) as error:
        parse_genesis(doc)
    assert key in error.value.key


def test_the_root_and_snapshots_commit_the_roles() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    root = compute_state_root(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.clients == box.state.clients
    assert restored.clearing_members == box.state.clearing_members
    assert compute_state_root_from_scratch(restored) == root
    box.state.clients[S.address] = ClientAccount(NO_MEMBER, SegregationModel.SEGREGATED)
    assert compute_state_root(box.state) != root
    box.state.clients[S.address] = ClientAccount(M.address, SegregationModel.SEGREGATED, N.address)
    box.state.clearing_members.discard(N.address)
    assert compute_state_root(box.state) != root


def test_roles_out_of_order_are_a_decode_error_not_a_state() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    fields = get_role_fields(box.state)
    assert len(fields[1]) >= 2
    for reorder in (
        lambda f: [f[0][::-1], f[1], f[2]],
        lambda f: [f[0], f[1][::-1], f[2]],
        lambda f: [f[0], [f[1][0], f[1][0]], f[2]],
    ):
        with pytest.raises(DecodeError, match="strictly sorted"):
            decode_role_fields(initialize_state(box.genesis), reorder(fields))


def test_governance_admits_and_removes_clearing_members() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    draft = build_draft(box.state, [AdmitClearingMember(ALICE.address)])
    assert ALICE.address in draft.clearing_members
    draft = build_draft(
        box.state, [AdmitClearingMember(ALICE.address), RemoveClearingMember(ALICE.address)]
    )
    assert ALICE.address not in draft.clearing_members


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda: AdmitClearingMember(M.address), ClearingMemberAdmitted),
        (lambda: AdmitClearingMember(S.address), IsAClient),
        (lambda: RemoveClearingMember(ALICE.address), NotAClearingMember),
        (lambda: RemoveClearingMember(M.address), ClearingMemberHasClients),  # two clients
        (lambda: RemoveClearingMember(N.address), ClearingMemberHasClients),  # a backup
    ],
)  # fmt: skip
def test_a_membership_change_is_refused_with_its_reason(change: Any, error: type) -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    with pytest.raises(error):
        build_draft(box.state, [change()])
