"""Opening a client account: the clearing member offers it, the client accepts it.

Both must consent: the member takes on the guarantee of the client's losses (and the
default-fund share its positions cost), and the client puts its positions in the member's
hands should the member default (they are ported to the backup or closed out). So the
clearing member signs ``OfferClientAccount`` (the client, the segregation model, the
backup member) and the client signs ``AcceptClientAccount`` with the same terms; the
account opens on the acceptance, and the offer is spent. Each is an ordinary member
request (EIP-712, a nonce of its signer's), so wallets, the API and the SDK carry them as
they carry a transfer. A pending offer is state (``state.client_offers``, in the root).
Their events name the client as ``member`` (the opening also the member as
``counterparty``), so each reads them in its history, with the ``client`` and
``clearing_member`` fields.

The member must be admitted at both steps; the client is not an admitted clearing member
(a house account is never a client's) and holds no account under another member. A
client whose member defaulted and was not ported joins a new member the same way. The
backup is another admitted clearing member, or none (the zero address); at the member's
default it must still be admitted and have the headroom to take the client
(clearing/default/porting.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clearing.context import BlockContext
from clearing.errors import (
    AlreadyClient,
    InvalidBackup,
    NoClientOffer,
    NotAClientAddress,
    NotAdmitted,
    UnknownSegregationModel,
)
from clearing.events import Event, make_event
from clearing.member_authorisation import check_member_request, declare_member_request, spend_nonce
from clearing.request_schema import (
    ExpiresMs,
    IssuedAtMs,
    Nonce,
    Signature,
    SignedAddress,
    SignedName,
    SignedRequest,
    member_request,
)
from clearing.risk.params import INSURANCE_MEMBER
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import ClearingState

NO_BACKUP = bytes(20)
"""The backup a request names when the client names none (EIP-712 has no empty address)."""


def get_model(text: str) -> SegregationModel:
    """Raise ``UnknownSegregationModel`` unless ``text`` names one."""
    try:
        return SegregationModel(text)
    except ValueError:
        raise UnknownSegregationModel(text, [m.value for m in SegregationModel]) from None


@member_request
@dataclass(frozen=True, slots=True)
class OfferClientAccount(SignedRequest):
    """Signed by the clearing member ``member``."""

    KIND: ClassVar[int] = 23
    member: SignedAddress
    client: SignedAddress
    model: SignedName  # a SegregationModel value
    backup: SignedAddress  # NO_BACKUP: none
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature

    def get_terms(self) -> ClientAccount:
        backup = NO_MEMBER if self.backup == NO_BACKUP else self.backup
        return ClientAccount(self.member, get_model(self.model), backup)


@member_request
@dataclass(frozen=True, slots=True)
class AcceptClientAccount(SignedRequest):
    """Signed by the client ``member``: the terms ``clearing_member`` offered it."""

    KIND: ClassVar[int] = 24
    member: SignedAddress
    clearing_member: SignedAddress
    model: SignedName
    backup: SignedAddress
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature

    def get_terms(self) -> ClientAccount:
        backup = NO_MEMBER if self.backup == NO_BACKUP else self.backup
        return ClientAccount(self.clearing_member, get_model(self.model), backup)


def check_terms(state: ClearingState, client: bytes, terms: ClientAccount) -> None:
    """The member admitted, the client a possible client, the backup valid, and the client
    under no other member."""
    member = terms.clearing_member
    if member not in state.clearing_members:
        raise NotAdmitted(member)
    if client in state.clearing_members or client in (INSURANCE_MEMBER, member):
        raise NotAClientAddress(client)
    if terms.backup != NO_MEMBER and (
        terms.backup not in state.clearing_members or terms.backup == member
    ):
        raise InvalidBackup(member, terms.backup)
    current = state.clients.get(client)
    if current is not None and current.is_attached() and current.clearing_member != member:
        raise AlreadyClient(client, current.clearing_member)


def process_offer_client_account(
    state: ClearingState, ctx: BlockContext, tx: OfferClientAccount
) -> list[Event]:
    """Record the member's offer (replacing an earlier one of its to the same client)."""
    terms = tx.get_terms()
    check_terms(state, tx.client, terms)
    check_member_request(state, ctx, tx)
    spend_nonce(state, tx)
    state.client_offers[(tx.client, tx.member)] = terms
    return [make_event("client_account_offered", member=tx.client, client=tx.client,
                       clearing_member=tx.member, model=tx.model,
                       backup=terms.backup)]  # fmt: skip


def process_accept_client_account(
    state: ClearingState, ctx: BlockContext, tx: AcceptClientAccount
) -> list[Event]:
    """Open the account on the offered terms, if they still hold."""
    terms = tx.get_terms()
    if state.client_offers.get((tx.member, tx.clearing_member)) != terms:
        raise NoClientOffer(tx.member, tx.clearing_member)
    check_terms(state, tx.member, terms)
    check_member_request(state, ctx, tx)
    spend_nonce(state, tx)
    del state.client_offers[(tx.member, tx.clearing_member)]
    state.clients[tx.member] = terms
    return [make_event("client_account_opened", member=tx.member,
                       counterparty=tx.clearing_member, client=tx.member,
                       clearing_member=tx.clearing_member, model=tx.model,
                       backup=terms.backup)]  # fmt: skip


OFFER_CLIENT_ACCOUNT = declare_member_request(OfferClientAccount, process_offer_client_account)
ACCEPT_CLIENT_ACCOUNT = declare_member_request(AcceptClientAccount, process_accept_client_account)
