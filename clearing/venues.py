"""A member authorises (or revokes) a venue to submit trades on its behalf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account.messages import SignableMessage

from clearing.codec import expect_bool, expect_bytes, expect_int, expect_list, expect_str
from clearing.context import BlockContext
from clearing.eip712 import compute_signable
from clearing.errors import UnknownVenue
from clearing.events import Event, make_event
from clearing.member_authorisation import check_member_request, spend_nonce
from clearing.state import ClearingState, get_member_for_write

EIP712_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "venue", "type": "string"},
    {"name": "authorised", "type": "bool"},
    {"name": "nonce", "type": "uint64"},
]


@dataclass(frozen=True, slots=True)
class AuthoriseVenue:
    KIND: ClassVar[int] = 2
    member: bytes
    venue_id: str
    authorised: bool  # False revokes
    nonce: int
    signature: bytes

    def signable(self, chain_id: int) -> SignableMessage:
        message = {
            "member": "0x" + self.member.hex(),
            "venue": self.venue_id,
            "authorised": self.authorised,
            "nonce": self.nonce,
        }
        return compute_signable(chain_id, "AuthoriseVenue", EIP712_FIELDS, message)

    def to_fields(self) -> list[object]:
        return [self.member, self.venue_id, self.authorised, self.nonce, self.signature]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AuthoriseVenue:
        member, venue, authorised, nonce, signature = expect_list(fields, "AuthoriseVenue", 5)
        return cls(
            expect_bytes(member, "member", 20),
            expect_str(venue, "venue"),
            expect_bool(authorised, "authorised"),
            expect_int(nonce, "nonce"),
            expect_bytes(signature, "signature", 65),
        )


def process_authorise_venue(
    state: ClearingState, ctx: BlockContext, tx: AuthoriseVenue
) -> list[Event]:
    """Member-signed; the venue must be registered; the nonce is used once."""
    if tx.venue_id not in state.venues:
        raise UnknownVenue(tx.venue_id)
    check_member_request(state, ctx.chain_id, tx)
    spend_nonce(state, tx)
    record = get_member_for_write(state, tx.member)
    if tx.authorised:
        record.venues.add(tx.venue_id)
    else:
        record.venues.discard(tx.venue_id)
    return [
        make_event(
            "venue_authorisation",
            member=tx.member,
            venue=tx.venue_id,
            authorised=int(tx.authorised),
        )
    ]
