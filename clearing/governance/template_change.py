"""Installing and removing a listing template (clearing/listing_template.py): delayed
changes, since members see the series a template will list, or stop listing, coming.
Removing a template lists nothing more; the series it listed trade on to expiry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from clearing.errors import GenesisError
from clearing.genesis import parse_listing_template
from clearing.governance.documents import decode_document, encode_document, expect_document_text
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import (
    FeedNotPriced,
    InvalidTemplate,
    TemplateInstalled,
    UnknownTemplate,
)
from clearing.listing_template import ListingTemplate
from clearing.state import ClearingState
from lightclient.records import Checked, Declared, Name


@declare_change
@dataclass(frozen=True, slots=True)
class AddListingTemplate(Declared):
    """``template``: the JSON text of a genesis ``listing_templates`` entry."""

    NAME: ClassVar[str] = "add_listing_template"
    EMERGENCY: ClassVar[bool] = False
    template: Annotated[str, Checked(expect_document_text)]

    def get_template(self) -> ListingTemplate:
        try:
            return parse_listing_template(
                decode_document(self.template, "listing_template"), "listing_template"
            )
        except GenesisError as error:
            raise InvalidTemplate(error.key, error.expected, error.got) from None

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A new template id, on a feed the validators price (the draft's check: the risk
        section covers its underlying)."""
        template = self.get_template()
        if template.id in draft.templates:
            raise TemplateInstalled(template.id)
        if template.future.index_feed not in state.index_prices:
            raise FeedNotPriced(template.id, template.future.index_feed)
        draft.templates[template.id] = template


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveListingTemplate(Declared):
    NAME: ClassVar[str] = "remove_listing_template"
    EMERGENCY: ClassVar[bool] = False
    template_id: Name

    def apply(self, draft: Draft, state: ClearingState) -> None:
        if self.template_id not in draft.templates:
            raise UnknownTemplate(self.template_id)
        del draft.templates[self.template_id]


def make_template_change(doc: dict[str, Any]) -> AddListingTemplate:
    """An installation of the genesis entry ``doc`` (operators' tools and tests)."""
    return AddListingTemplate(encode_document(doc))
