"""Adding a venue with the key that signs its trade batches (delayed), or removing one
(an emergency: a venue whose key leaked must stop at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from clearing.errors import UnknownVenue
from clearing.genesis import Venue
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import VenueListed
from clearing.state import ClearingState
from lightclient.codec import DecodeError, expect_bytes, expect_list, expect_str
from lightclient.records import Declared, Name


@dataclass(frozen=True, slots=True)
class AddVenue:
    NAME: ClassVar[str] = "add_venue"
    EMERGENCY: ClassVar[bool] = False
    venue: Venue

    def to_fields(self) -> list[object]:
        return [self.NAME, self.venue.id, self.venue.pubkey]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AddVenue:
        _, venue_id, pubkey = expect_list(fields, cls.NAME, 3)
        if not expect_str(venue_id, "venue"):
            raise DecodeError("venue", "an empty id")
        return cls(Venue(venue_id, expect_bytes(pubkey, "pubkey", 32)))

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A new id; its trade-id window, kept if the id was used before, still refuses
        the ids it saw."""
        if self.venue.id in draft.venues:
            raise VenueListed(self.venue.id)
        draft.venues[self.venue.id] = self.venue


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveVenue(Declared):
    NAME: ClassVar[str] = "remove_venue"
    EMERGENCY: ClassVar[bool] = True
    venue_id: Name

    def apply(self, draft: Draft, state: ClearingState) -> None:
        if self.venue_id not in draft.venues:
            raise UnknownVenue(self.venue_id)
        del draft.venues[self.venue_id]
