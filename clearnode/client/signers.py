"""Who signs: a member (a secp256k1 key, EIP-712 typed data) and a venue (an Ed25519 key
over clearing's bytes), and the bodies the API reads their signatures in.

Every field list comes from clearing's declarations (clearing/transition/member_requests.py and the
records' own `signable`), which the node parses with: what is sent is what was signed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account

from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import compute_signable, sign_typed
from clearing.request_schema import SignedRequest
from clearing.transition.client_requests import NO_BACKUP, AcceptClientAccount, OfferClientAccount
from clearing.transition.member_requests import (
    ACCOUNT_EVENTS_FIELDS,
    ACCOUNT_PROOF_FIELDS,
    ACCOUNT_QUERY_FIELDS,
    CLIENTS_QUERY_FIELDS,
    compute_openings_signable,
)
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch
from clearing.transition.transfer import Transfer
from clearing.transition.withdrawal import Withdrawal
from clearing.venues import AuthoriseVenue
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key

MemberRequest = SignedRequest
"""What `POST /v1/member-requests` takes: any request of clearing/transition/member_requests.py."""
R = TypeVar("R", bound=SignedRequest)


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


REQUEST_LIFETIME_MS = 5 * 60_000
"""A member request's default lifetime, from the moment it is signed (`issuedAtMs`) to
its expiry (`expiresMs`): long enough for a busy mempool and clocks a little apart, short
enough that signed bytes nobody included are dead minutes later (a block refuses them
once its time is past their expiry)."""
BATCH_LIFETIME_MS = 2 * 60_000
"""A trade batch's default lifetime: its prices are the market's now, not in an hour."""


def now_ms() -> int:
    """A signed query's or request's `issuedAtMs`: the node refuses a query far from its
    own clock, a request issued ahead of the block's time or past its expiry."""
    return time.time_ns() // 1_000_000


def get_times(
    issued_at_ms: int | None, expires_ms: int | None, lifetime_ms: int
) -> tuple[int, int]:
    """`(issued_at_ms, expires_ms)`: as given, else now and `lifetime_ms` after the issue."""
    issued = now_ms() if issued_at_ms is None else issued_at_ms
    return issued, issued + lifetime_ms if expires_ms is None else expires_ms


def get_member_request_body(record: MemberRequest, chain_id: int) -> dict[str, Any]:
    """The JSON a wallet sends: the EIP-712 message it signed and the signature."""
    return {
        "type": record.SCHEMA.primary_type,
        "chainId": chain_id,
        "message": record.get_message(),
        "signature": hex0x(record.signature),
    }


@dataclass(frozen=True)
class Member:
    """A member's key: its address, the requests and queries it signs. Each request is
    signed as issued at `issued_at_ms` (default: now, by this machine's clock) and valid
    up to the block time `expires_ms` (default: `REQUEST_LIFETIME_MS` after the issue; the
    network refuses, forever, one signed to live longer than its
    `max_request_lifetime_ms`)."""

    private_key: bytes
    address: bytes = field(init=False)

    def __post_init__(self) -> None:
        address = bytes.fromhex(Account.from_key(self.private_key).address[2:])
        object.__setattr__(self, "address", address)

    @classmethod
    def from_sandbox(cls, name: str) -> Member:
        """The devnet's public test key `name` (sandbox_keys.py): never for value."""
        return cls(derive_member_key(name).private_key)

    @property
    def address_hex(self) -> str:
        """The member's address, 0x-hex: what the API and the reports name it by."""
        return hex0x(self.address)

    def sign(self, record: R, chain_id: int) -> R:
        """`record` with this member's EIP-712 signature for the network `chain_id`."""
        return record.with_signature(sign_typed(self.private_key, record.signable(chain_id)))

    def withdrawal(
        self,
        chain_id: int,
        nonce: int,
        asset_chain_id: int,
        token: bytes,
        quanta: int,
        recipient: bytes | None = None,
        sub_account: int = 0,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> Withdrawal:
        """Signed: `quanta` of `token` on chain `asset_chain_id`, paid to `recipient`
        (default: this member's own address)."""
        to = self.address if recipient is None else recipient
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = Withdrawal(
            self.address, sub_account, asset_chain_id, token, quanta, to, issued, expiry, nonce,
            b"",
        )  # fmt: skip
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, Withdrawal)
        return signed

    def transfer(
        self,
        chain_id: int,
        nonce: int,
        from_sub_account: int,
        to_sub_account: int,
        asset_chain_id: int,
        token: bytes,
        amount: int,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> Transfer:
        """Signed: `amount` of collateral `(asset_chain_id, token)` between two of this
        member's sub-accounts (`token` all zeros with chain 0: cash)."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = Transfer(
            self.address, from_sub_account, to_sub_account, asset_chain_id, token, amount,
            issued, expiry, nonce, b"",
        )  # fmt: skip
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, Transfer)
        return signed

    def authorise_venue(
        self,
        chain_id: int,
        nonce: int,
        venue_id: str,
        authorised: bool = True,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> AuthoriseVenue:
        """Signed: let `venue_id` clear this member's trades (or stop it: `authorised=False`)."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = AuthoriseVenue(self.address, venue_id, authorised, issued, expiry, nonce, b"")
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, AuthoriseVenue)
        return signed

    def register_bidder(
        self,
        chain_id: int,
        nonce: int,
        registered: bool = True,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> RegisterBidder:
        """Signed: register for the default auctions (or leave them: `registered=False`)."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = RegisterBidder(self.address, registered, issued, expiry, nonce, b"")
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, RegisterBidder)
        return signed

    def auction_bid(
        self,
        chain_id: int,
        nonce: int,
        auction: int,
        premium: int,
        sub_account: int = 0,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> AuctionBid:
        """Signed: a binding bid of `premium` for every lot of `auction`."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = AuctionBid(
            self.address, sub_account, auction, premium, issued, expiry, nonce, b""
        )
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, AuctionBid)
        return signed

    def offer_client_account(
        self,
        chain_id: int,
        nonce: int,
        client: bytes,
        model: str,
        backup: bytes | None = None,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> OfferClientAccount:
        """Signed by a clearing member: an account for `client` under it, margined by
        `model` (`"omnibus"` or `"segregated"`), ported to `backup` (another clearing
        member; None: no backup) should this member default."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = OfferClientAccount(
            self.address, client, model, NO_BACKUP if backup is None else backup, issued,
            expiry, nonce, b"",
        )  # fmt: skip
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, OfferClientAccount)
        return signed

    def accept_client_account(
        self,
        chain_id: int,
        nonce: int,
        clearing_member: bytes,
        model: str,
        backup: bytes | None = None,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> AcceptClientAccount:
        """Signed by the client: the terms `clearing_member` offered it, exactly."""
        issued, expiry = get_times(issued_at_ms, expires_ms, REQUEST_LIFETIME_MS)
        unsigned = AcceptClientAccount(
            self.address, clearing_member, model, NO_BACKUP if backup is None else backup,
            issued, expiry, nonce, b"",
        )  # fmt: skip
        signed = self.sign(unsigned, chain_id)
        assert isinstance(signed, AcceptClientAccount)
        return signed

    def sign_query(
        self, chain_id: int, primary_type: str, fields: list[dict[str, str]], middle: int
    ) -> dict[str, Any]:
        """The body of a signed read: `{member, <middle field>, issuedAtMs}` signed now."""
        names = [f["name"] for f in fields]
        message = dict(zip(names, (self.address_hex, middle, now_ms()), strict=True))
        signable = compute_signable(chain_id, primary_type, fields, message)
        signature = hex0x(sign_typed(self.private_key, signable))
        return {"chainId": chain_id, "message": message, "signature": signature}

    def account_query(self, chain_id: int, sub_account: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/accounts/query` (`Client.account`)."""
        return self.sign_query(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, sub_account)

    def events_query(self, chain_id: int, from_height: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/accounts/events` (`Client.history`)."""
        return self.sign_query(chain_id, "AccountEvents", ACCOUNT_EVENTS_FIELDS, from_height)

    def stream_query(self, chain_id: int, from_height: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/accounts/stream` (`Client.stream_history`)."""
        return self.sign_query(chain_id, "AccountStream", ACCOUNT_EVENTS_FIELDS, from_height)

    def proof_query(self, chain_id: int, height: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/accounts/proof` (`Client.account_proof`)."""
        return self.sign_query(chain_id, "AccountProof", ACCOUNT_PROOF_FIELDS, height)

    def client_risk_query(self, chain_id: int, offset: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/clearing-members/clients` (`Client.client_risk`)."""
        return self.sign_query(chain_id, "ClientRiskQuery", CLIENTS_QUERY_FIELDS, offset)

    def client_account_query(self, chain_id: int, offset: int = 0) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/clients/account` (`Client.client_account`)."""
        return self.sign_query(chain_id, "ClientAccountQuery", CLIENTS_QUERY_FIELDS, offset)

    def openings_query(self, chain_id: int, epoch: int) -> dict[str, Any]:
        """Signed now: the body of `POST /v1/reports/{epoch}/openings` (`Client.openings`)."""
        issued_ms = now_ms()
        signable = compute_openings_signable(chain_id, self.address, epoch, issued_ms)
        message = {"member": self.address_hex, "epoch": epoch, "issuedAtMs": issued_ms}
        signature = hex0x(sign_typed(self.private_key, signable))
        return {"chainId": chain_id, "message": message, "signature": signature}


@dataclass
class Venue:
    """A venue's Ed25519 key (genesis `venues`) and the id of its next trade batch."""

    venue_id: str
    private_key: Ed25519PrivateKey
    next_batch_id: int = 1
    """The mempool keeps one pending batch per id and proposes them in id order."""

    @classmethod
    def from_secret(cls, venue_id: str, secret: bytes, next_batch_id: int = 1) -> Venue:
        """From the 32-byte secret of its key file (`venue_keys/<id>.json`, kind
        `venue-ed25519`, written by `clearnode init`)."""
        return cls(venue_id, Ed25519PrivateKey.from_private_bytes(secret), next_batch_id)

    @classmethod
    def from_sandbox(cls, venue_id: str) -> Venue:
        """The devnet's public test key of venue `venue_id`: never for value."""
        return cls(venue_id, derive_ed25519_key(f"venue-{venue_id}"))

    def batch(
        self,
        chain_id: int,
        trades: list[Trade],
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> TradeBatch:
        """The next batch of `trades`, signed for the network `chain_id` as issued at
        `issued_at_ms` (default: now), valid up to the block time `expires_ms` (default:
        `BATCH_LIFETIME_MS` after the issue)."""
        issued, expiry = get_times(issued_at_ms, expires_ms, BATCH_LIFETIME_MS)
        batch = sign_trade_batch(
            self.private_key, chain_id, self.venue_id, self.next_batch_id, tuple(trades),
            issued, expiry,
        )  # fmt: skip
        self.next_batch_id += 1
        return batch
