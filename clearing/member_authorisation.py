"""A member request is the member's own: its nonce unused, its EIP-712 signature the
member's for this chain.

Every member-signed transaction (a `SignedRequest`: `clearing.member_requests`) checks
both before it changes anything, and spends its nonce with its change; the mempool's
admission runs the same checks (`check_member_request`) so a request that can never
apply is refused before it is gossiped.
"""

from __future__ import annotations

from clearing.eip712 import verify_member_signature
from clearing.errors import NonceReused
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState, get_member_for_write


def check_nonce_unused(state: ClearingState, member: bytes, nonce: int) -> None:
    found = state.members.get(member)
    if found is not None and nonce in found.used_nonces:
        raise NonceReused(member, nonce)


def check_member_signed(chain_id: int, tx: SignedRequest) -> None:
    """Raises BadSignature (naming the domain and the address recovered) unless the
    request's member signed it for `chain_id`."""
    verify_member_signature(
        tx.member, tx.signable(chain_id), tx.signature, type(tx).__name__, chain_id
    )


def check_member_request(state: ClearingState, chain_id: int, tx: SignedRequest) -> None:
    """The nonce, then the signature (the costly check last)."""
    check_nonce_unused(state, tx.member, tx.nonce)
    check_member_signed(chain_id, tx)


def spend_nonce(state: ClearingState, tx: SignedRequest) -> None:
    get_member_for_write(state, tx.member).used_nonces.add(tx.nonce)
