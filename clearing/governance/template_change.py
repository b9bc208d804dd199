"""Installing and removing a listing template (clearing/listing_template.py): delayed
changes, since members see the series a template will list, or stop listing, coming.
Removing a template lists nothing more; the series it listed trade on to expiry."""

from __future__ import annotations

from clearing.governance.draft import Draft
from clearing.governance.errors import (
    FeedNotPriced,
    TemplateInstalled,
    UnknownTemplate,
)
from clearing.governance_changes import AddListingTemplate, RemoveListingTemplate
from clearing.state import ClearingState


def apply_add_listing_template(
    change: AddListingTemplate, draft: Draft, state: ClearingState
) -> None:
    """A new template id, on a feed the validators price (the draft's check: the risk
    section covers its underlying)."""
    template = change.get_template()
    if template.id in draft.templates:
        raise TemplateInstalled(template.id)
    if template.future.index_feed not in state.index_prices:
        raise FeedNotPriced(template.id, template.future.index_feed)
    draft.templates[template.id] = template


def apply_remove_listing_template(
    change: RemoveListingTemplate, draft: Draft, state: ClearingState
) -> None:
    if change.template_id not in draft.templates:
        raise UnknownTemplate(change.template_id)
    del draft.templates[change.template_id]
