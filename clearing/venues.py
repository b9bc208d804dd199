"""A member authorises (or revokes) a venue to submit trades on its behalf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.context import BlockContext
from clearing.errors import UnknownVenue
from clearing.events import Event, make_event
from clearing.member_authorisation import check_member_request, declare_member_request, spend_nonce
from clearing.request_schema import (
    Bool,
    ExpiresMs,
    IssuedAtMs,
    Nonce,
    Signature,
    SignedAddress,
    SignedRequest,
    Text,
    member_request,
)
from clearing.state import ClearingState, get_member_for_write


@member_request
@dataclass(frozen=True, slots=True)
class AuthoriseVenue(SignedRequest):
    KIND: ClassVar[int] = 2
    member: SignedAddress
    venue_id: Annotated[str, Text(signed_as="venue")]
    authorised: Bool  # False revokes
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature


def process_authorise_venue(
    state: ClearingState, ctx: BlockContext, tx: AuthoriseVenue
) -> list[Event]:
    """Member-signed; the venue must be registered; the nonce is used once."""
    if tx.venue_id not in state.venues:
        raise UnknownVenue(tx.venue_id)
    check_member_request(state, ctx, tx)
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


AUTHORISE_VENUE = declare_member_request(AuthoriseVenue, process_authorise_venue)
