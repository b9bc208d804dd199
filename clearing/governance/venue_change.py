"""Adding a venue with the key that signs its trade batches (delayed), or removing one
(an emergency: a venue whose key leaked must stop at once)."""

from __future__ import annotations

from clearing.errors import UnknownVenue
from clearing.governance.draft import Draft
from clearing.governance.errors import VenueListed
from clearing.governance_changes import AddVenue, RemoveVenue
from clearing.state import ClearingState


def apply_add_venue(change: AddVenue, draft: Draft, state: ClearingState) -> None:
    """A new id; its trade-id window, kept if the id was used before, still refuses
    the ids it saw."""
    if change.venue.id in draft.venues:
        raise VenueListed(change.venue.id)
    draft.venues[change.venue.id] = change.venue


def apply_remove_venue(change: RemoveVenue, draft: Draft, state: ClearingState) -> None:
    if change.venue_id not in draft.venues:
        raise UnknownVenue(change.venue_id)
    del draft.venues[change.venue_id]
