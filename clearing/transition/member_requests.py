"""What a member signs, by EIP-712 primary type: the requests that become transactions
(`MEMBER_REQUESTS`) and the queries that read its own data (`*_FIELDS` below).

The node parses them (node/api/bodies.py) and a client signs them (clearnode/client/)
from these same declarations, so both sides agree on every field name, type and order.
A query changes nothing: the node refuses one signed too long ago (`issuedAtMs`)
instead of remembering it.
"""

from __future__ import annotations

from clearing.eip712 import SignableMessage, compute_signable
from clearing.request_schema import SignedRequest
from clearing.transition.tx import get_records_submitted_by
from clearing.tx_kind import Submitter

MEMBER_REQUESTS: dict[str, type[SignedRequest]] = {
    record.__name__: record for record in get_records_submitted_by(Submitter.MEMBER)
}
"""Each request `POST /v1/member-requests` takes, by its EIP-712 primary type (its
fields: `SCHEMA.eip712_fields`)."""

ACCOUNT_QUERY_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "subAccount", "type": "uint32"},
    {"name": "issuedAtMs", "type": "uint64"},
]
"""EIP-712 `AccountQuery` (`POST /v1/accounts/query`)."""
ACCOUNT_EVENTS_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "fromHeight", "type": "uint64"},
    {"name": "issuedAtMs", "type": "uint64"},
]
"""EIP-712 `AccountEvents` (`POST /v1/accounts/events`) and `AccountStream`
(`POST /v1/accounts/stream`)."""
ACCOUNT_PROOF_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "height", "type": "uint64"},
    {"name": "issuedAtMs", "type": "uint64"},
]
"""EIP-712 `AccountProof`: `height` is the committed height the proof is for (0: the latest)."""
OPENINGS_QUERY = "ReportOpeningsQuery"
OPENINGS_QUERY_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "epoch", "type": "uint64"},
    {"name": "issuedAtMs", "type": "uint64"},
]
"""EIP-712 `ReportOpeningsQuery` (`POST /v1/reports/{epoch}/openings`)."""


def compute_openings_signable(
    chain_id: int, member: bytes, epoch: int, issued_ms: int
) -> SignableMessage:
    """What the member signs to get its openings of `epoch` (wallets and tests use it)."""
    message = {"member": "0x" + member.hex(), "epoch": epoch, "issuedAtMs": issued_ms}
    return compute_signable(chain_id, OPENINGS_QUERY, OPENINGS_QUERY_FIELDS, message)


CLIENTS_QUERY_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "offset", "type": "uint32"},
    {"name": "issuedAtMs", "type": "uint64"},
]
"""EIP-712 `ClientRiskQuery` (`POST /v1/clearing-members/clients`: a clearing member's
clients from the `offset`-th, by address) and `ClientAccountQuery` (`POST
/v1/clients/account`: a client's own clearing relationship and the offers made to it,
from the `offset`-th)."""
