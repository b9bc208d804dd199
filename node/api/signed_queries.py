"""Signed queries: how a member reads what is its own (its account, history, proof,
stream, clients) with its EIP-712 signature instead of a credential.

A query names its member, one middle field (a sub-account, a height, an offset) and
when it was signed; it is answered only when the member's key signed exactly those
fields on this chain, within `max_age_ms` of the node's clock. That window is its
replay protection: reads change nothing, so an old signature is refused rather than
remembered (a stream, which keeps delivering, also remembers its signatures:
member_stream.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clearing.eip712 import compute_signable, verify_member_signature
from clearing.errors import BadSignature
from node.api.bodies import hex0x, parse_account_query, require_json
from node.api.errors import ApiError, api_error_from
from node.api.http import Request
from node.api.node_interface import NodeInterface

QUERY_MAX_AGE_MS = 60_000


@dataclass(frozen=True)
class SignedQuery:
    """A member's signed query, checked: its signer, its middle field, when it was signed."""

    member: bytes
    middle: int
    issued_ms: int


class SignedQueries:
    """Checks the signed queries of one node's API (its chain id, its clock)."""

    def __init__(self, node: NodeInterface, clock_ms: Callable[[], int], max_age_ms: int) -> None:
        self.node = node
        self.clock_ms = clock_ms
        self.max_age_ms = max_age_ms

    def check(
        self, request: Request, primary_type: str, fields: list[dict[str, str]]
    ) -> SignedQuery:
        """The query `request` carries, signed by its member within `max_age_ms` of the
        node's clock."""
        require_json(request)
        chain_id = self.node.chain_id
        member, middle, issued_ms, signature = parse_account_query(request.body, chain_id, fields)
        self.check_fresh(issued_ms)
        names = [f["name"] for f in fields]
        message = dict(zip(names, (hex0x(member), middle, issued_ms), strict=True))
        signable = compute_signable(chain_id, primary_type, fields, message)
        try:
            verify_member_signature(member, signable, signature, primary_type, chain_id)
        except BadSignature as exc:
            raise api_error_from(exc) from None
        return SignedQuery(member, middle, issued_ms)

    def check_fresh(self, issued_ms: int) -> None:
        """Refuse a query signed more than `max_age_ms` from the node's time (either way)."""
        now = self.clock_ms()
        if abs(now - issued_ms) > self.max_age_ms:
            raise ApiError(
                401,
                "StaleQuery",
                f"issuedAtMs {issued_ms} is more than {self.max_age_ms} ms "
                f"from the node's time {now}",
                issued_at_ms=issued_ms,
                now_ms=now,
                max_age_ms=self.max_age_ms,
            )
