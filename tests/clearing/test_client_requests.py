"""Opening a client account: the clearing member's offer, the client's acceptance; and a
client of a defaulted member that no backup took choosing its new member within the
porting window."""

from __future__ import annotations

from typing import Any

import pytest

from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.transition.client_requests import NO_BACKUP, AcceptClientAccount, OfferClientAccount
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import MemberKey
from devnet.sandbox import Sandbox
from tests.clearing.default.test_clients import (
    ETH,
    OMNI,
    C,
    M,
    N,
    S,
    X,
    client_doc,
    crash,
    field,
    of,
    start,
    trade,
)
from tests.clearing.support import assert_rejected, only_result


def offer(box: Sandbox, member: MemberKey, client: MemberKey, model: str = "segregated",
          backup: bytes = NO_BACKUP) -> OfferClientAccount:  # fmt: skip
    nonce = box.take_nonce(member.address)
    unsigned = OfferClientAccount(member.address, client.address, model, backup,
                                  *box.get_times(), nonce, b"")  # fmt: skip
    return box.sign(member, unsigned)


def accept(box: Sandbox, client: MemberKey, member: MemberKey, model: str = "segregated",
           backup: bytes = NO_BACKUP,
           signer: MemberKey | None = None) -> AcceptClientAccount:  # fmt: skip
    nonce = box.take_nonce(client.address)
    unsigned = AcceptClientAccount(client.address, member.address, model, backup,
                                   *box.get_times(), nonce, b"")  # fmt: skip
    return box.sign(signer or client, unsigned)


def test_an_offer_accepted_opens_the_account_and_the_client_trades() -> None:
    box = start()
    assert field(trade(box, 2, [(X, C, ETH, 1)]).tx_results[0].events[0], "code") == "NotCleared"
    assert only_result(box.apply([offer(box, M, X, "omnibus", N.address)]))[0] == "ok"
    assert (X.address, M.address) in box.state.client_offers
    block = box.apply([accept(box, X, M, "omnibus", N.address)])
    assert block.tx_results[0].is_ok(), block.tx_results
    assert block.tx_results[0].events[0].kind == "client_account_opened"
    assert box.state.clients[X.address] == ClientAccount(
        M.address, SegregationModel.OMNIBUS, N.address
    )
    assert box.state.client_offers == {}
    block = trade(box, 3, [(X, C, ETH, 1)])  # a new trade: the refused one's id is spent
    assert [e.kind for e in block.tx_results[0].events] == ["trade_batch"], block.tx_results


def test_a_member_changes_its_clients_terms_the_same_way() -> None:
    box = start()
    box.apply([offer(box, M, S, "omnibus")])
    assert box.apply([accept(box, S, M, "omnibus")]).tx_results[0].is_ok()
    assert box.state.clients[S.address] == ClientAccount(M.address, SegregationModel.OMNIBUS)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda b: offer(b, X, OMNI), "NotAdmitted"),
        (lambda b: offer(b, M, N), "NotAClientAddress"),
        (lambda b: offer(b, M, M), "NotAClientAddress"),
        (lambda b: offer(b, M, X, backup=M.address), "InvalidBackup"),
        (lambda b: offer(b, M, X, backup=X.address), "InvalidBackup"),
        (lambda b: offer(b, N, S), "AlreadyClient"),
        (lambda b: accept(b, X, M), "NoClientOffer"),
    ],
)  # fmt: skip
def test_a_refused_request_changes_nothing(make: Any, code: str) -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    assert_rejected(box, make(box), code)


def test_the_acceptance_must_match_the_offer_and_be_the_clients() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    box.apply([box.authorise(X, "alpha"), offer(box, M, X, "segregated", N.address)])
    assert_rejected(box, accept(box, X, M, "omnibus", N.address), "NoClientOffer")
    assert_rejected(box, accept(box, X, M, "segregated"), "NoClientOffer")
    assert_rejected(box, accept(box, X, M, "segregated", N.address, signer=M), "BadSignature")
    nonce = box.next_nonce[X.address]
    box.next_nonce[X.address] = 0  # a nonce X used on its venue authorisation
    assert_rejected(box, accept(box, X, M, "segregated", N.address), "NonceReused")
    box.next_nonce[X.address] = nonce
    assert box.apply([accept(box, X, M, "segregated", N.address)]).tx_results[0].is_ok()


def test_requests_encode_and_an_unknown_model_is_refused() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    for tx in (offer(box, M, X, backup=N.address), accept(box, X, M)):
        assert decode_tx(encode_tx(tx)) == tx
    detail = assert_rejected(box, offer(box, M, X, model="pooled"), "UnknownSegregationModel")
    assert "pooled" in detail and "omnibus" in detail


def test_a_pending_offer_is_in_the_root_and_the_snapshot() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    root = compute_state_root(box.state)
    box.apply([offer(box, M, X)])
    assert box.state.client_offers == {
        (X.address, M.address): ClientAccount(M.address, SegregationModel.SEGREGATED, NO_MEMBER)
    }
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.client_offers == box.state.client_offers
    assert compute_state_root_from_scratch(restored) == compute_state_root(box.state) != root


def test_within_the_window_a_client_chooses_its_new_member() -> None:
    box = start(segregated_backup=None, window=3)
    crash(box)
    s = S.address
    detached = box.state.clients[s]
    assert (detached.clearing_member, detached.close_out_height) == (
        NO_MEMBER,
        box.state.height + 3,
    )
    assert box.state.members[s].sub_accounts[0].positions[ETH].quantity == 10  # kept for now
    box.apply([offer(box, N, S)])
    assert box.apply([accept(box, S, N)]).tx_results[0].is_ok()
    for _ in range(3):
        box.apply([])
    assert box.state.clients[s] == ClientAccount(N.address, SegregationModel.SEGREGATED)
    assert box.state.members[s].sub_accounts[0].positions[ETH].quantity == 10


def test_a_client_that_chose_no_member_is_closed_out_when_the_window_ends() -> None:
    box = start(segregated_backup=None, window=3)
    crash(box)
    s = S.address
    deadline = box.state.clients[s].close_out_height
    events = []
    while box.state.height < deadline:
        events += list(box.apply([]).events)
    closed = of(events, "client_closed_out", member=s)
    assert [(e.get("instrument"), e.get("quantity")) for e in closed] == [(ETH, 10)]
    assert box.state.clients[s] == ClientAccount(NO_MEMBER, SegregationModel.SEGREGATED)
    assert all(p.quantity == 0 for p in box.state.members[s].sub_accounts[0].positions.values())
