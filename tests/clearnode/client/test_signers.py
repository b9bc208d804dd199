"""What the SDK signs is what the node parses and checks: member requests through
`parse_member_request` and clearing's signature check, queries through the node's signed
query check, venue batches through clearing's batch signature."""

from __future__ import annotations

import json

from clearing.eip712 import verify_member_signature
from clearing.transition.member_requests import (
    ACCOUNT_EVENTS_FIELDS,
    ACCOUNT_QUERY_FIELDS,
    MEMBER_REQUESTS,
)
from clearing.transition.trade import Trade
from clearnode.client import Member, Venue
from clearnode.client.sandbox_keys import derive_ed25519_key
from clearnode.client.signers import (
    BATCH_LIFETIME_MS,
    REQUEST_LIFETIME_MS,
    get_member_request_body,
    now_ms,
)
from node.api.bodies import parse_account_query, parse_member_request

CHAIN_ID = 4242
ALICE = Member.from_sandbox("sdk-alice")
TOKEN = bytes.fromhex("00000000000000000000000000000000000000a1")


def test_every_member_request_parses_to_the_record_signed() -> None:
    for record in (
        ALICE.withdrawal(CHAIN_ID, 1, 31337, TOKEN, 5, recipient=b"\x07" * 20, sub_account=2),
        ALICE.transfer(CHAIN_ID, 2, 0, 1, 31337, TOKEN, 9),
        ALICE.authorise_venue(CHAIN_ID, 3, "alpha", authorised=False),
        ALICE.register_bidder(CHAIN_ID, 4),
        ALICE.auction_bid(CHAIN_ID, 5, auction=7, premium=11),
    ):
        body = json.dumps(get_member_request_body(record, CHAIN_ID)).encode()
        parsed = parse_member_request(body, CHAIN_ID)
        assert parsed == record
        kind = type(record).__name__
        verify_member_signature(ALICE.address, parsed.signable(CHAIN_ID), parsed.signature, kind,
                                CHAIN_ID)  # fmt: skip


def test_a_query_is_signed_over_the_fields_the_node_reads() -> None:
    body = json.dumps(ALICE.account_query(CHAIN_ID, sub_account=3)).encode()
    member, sub_account, _, signature = parse_account_query(body, CHAIN_ID)
    assert (member, sub_account, len(signature)) == (ALICE.address, 3, 65)
    events = json.dumps(ALICE.events_query(CHAIN_ID, from_height=9)).encode()
    assert parse_account_query(events, CHAIN_ID, ACCOUNT_EVENTS_FIELDS)[1] == 9
    assert ACCOUNT_QUERY_FIELDS[1]["name"] == "subAccount"


def test_a_venue_numbers_and_signs_its_batches() -> None:
    venue = Venue.from_sandbox("alpha")
    sandbox = derive_ed25519_key("venue-alpha").private_bytes_raw()
    assert venue.private_key.private_bytes_raw() == sandbox
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, b"\x02" * 20, 0, 60_000_000, 1)
    first, second = venue.batch(CHAIN_ID, [trade]), venue.batch(CHAIN_ID, [trade])
    assert (first.batch_id, second.batch_id, venue.next_batch_id) == (1, 2, 3)
    public = venue.private_key.public_key()
    public.verify(second.signature, second.signing_bytes(CHAIN_ID))  # raises unless signed


def test_requests_and_batches_carry_their_issue_and_the_default_expiry_unless_given() -> None:
    before = now_ms()
    requests = [
        ALICE.withdrawal(CHAIN_ID, 1, 31337, TOKEN, 5),
        ALICE.transfer(CHAIN_ID, 2, 0, 1, 31337, TOKEN, 9),
        ALICE.authorise_venue(CHAIN_ID, 3, "alpha"),
        ALICE.register_bidder(CHAIN_ID, 4),
        ALICE.auction_bid(CHAIN_ID, 5, auction=7, premium=11),
        ALICE.offer_client_account(CHAIN_ID, 6, b"\x07" * 20, "omnibus"),
        ALICE.accept_client_account(CHAIN_ID, 7, b"\x08" * 20, "omnibus"),
    ]
    assert {type(r) for r in requests} == set(MEMBER_REQUESTS.values())
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, b"\x02" * 20, 0, 60_000_000, 1)
    batch = Venue.from_sandbox("alpha").batch(CHAIN_ID, [trade])
    after = now_ms()
    for record in requests:
        assert before <= record.issued_at_ms <= after
        assert record.expires_ms == record.issued_at_ms + REQUEST_LIFETIME_MS
        message = record.get_message()  # signed with both
        assert (message["issuedAtMs"], message["expiresMs"]) == (
            record.issued_at_ms,
            record.expires_ms,
        )
    assert before <= batch.issued_at_ms <= after
    assert batch.expires_ms == batch.issued_at_ms + BATCH_LIFETIME_MS
    assert ALICE.register_bidder(CHAIN_ID, 8, expires_ms=1234).expires_ms == 1234
    given = ALICE.register_bidder(CHAIN_ID, 8, issued_at_ms=1000)
    assert (given.issued_at_ms, given.expires_ms) == (1000, 1000 + REQUEST_LIFETIME_MS)
    alpha = Venue.from_sandbox("alpha")
    assert alpha.batch(CHAIN_ID, [trade], expires_ms=99).expires_ms == 99
    assert alpha.batch(CHAIN_ID, [trade], 99, issued_at_ms=9).issued_at_ms == 9
