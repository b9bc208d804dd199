"""A member request is the member's own and still live: not past its expiry, its nonce
unused, its EIP-712 signature the member's for this chain.

Every member-signed transaction (a `SignedRequest`: `clearing.member_requests`) checks
all three before it changes anything, and spends its nonce with its change; the
mempool's admission runs the same checks (`check_member_request`, at the latest
committed block's time) so a request that can never apply is refused before it is
gossiped. A request a block refuses for any other reason spends its nonce all the same
(`spend_refused_nonce`), as Ethereum spends a failed transaction's: its signed bytes
never apply later, when the member would no longer want them.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.eip712 import verify_member_signature
from clearing.errors import InvalidTransaction, NonceReused
from clearing.replay_protection import check_expiry
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState, Member, get_member_for_write


def check_nonce_unused(state: ClearingState, member: bytes, nonce: int) -> None:
    found = state.members.get(member)
    if found is not None and nonce in found.used_nonces:
        raise NonceReused(member, nonce)


def check_request_unspent(state: ClearingState, time_ms: int, tx: SignedRequest) -> None:
    """Live at the block time `time_ms` (`RequestExpired`, `ExpiryTooFar`) and its nonce
    unused: what no later block can make true again."""
    max_lifetime_ms = state.genesis.max_request_lifetime_ms
    check_expiry(max_lifetime_ms, tx.SCHEMA.primary_type, tx.expires_ms, time_ms)
    check_nonce_unused(state, tx.member, tx.nonce)


def check_member_signed(chain_id: int, tx: SignedRequest) -> None:
    """Raises BadSignature (naming the domain and the address recovered) unless the
    request's member signed it for `chain_id`."""
    verify_member_signature(
        tx.member, tx.signable(chain_id), tx.signature, type(tx).__name__, chain_id
    )


def check_member_request(state: ClearingState, ctx: BlockContext, tx: SignedRequest) -> None:
    """The expiry and the nonce, then the signature (the costly check last)."""
    check_request_unspent(state, ctx.time_ms, tx)
    check_member_signed(ctx.chain_id, tx)


def get_next_nonce(member: Member | None) -> int:
    """A nonce above every one the member spent (any unused nonce is accepted; counting
    up from this one never meets a spent one, refused requests' included)."""
    return 0 if member is None else max(member.used_nonces, default=-1) + 1


def spend_nonce(state: ClearingState, tx: SignedRequest) -> None:
    get_member_for_write(state, tx.member).used_nonces.add(tx.nonce)


def spend_refused_nonce(state: ClearingState, ctx: BlockContext, tx: SignedRequest) -> None:
    """After a block refused `tx`: spend its nonce if the request was live, unused and its
    member's (a request that is none of these spends nothing: nobody can burn a member's
    nonces with requests it did not sign, and an expired one can never apply anyway)."""
    try:
        check_member_request(state, ctx, tx)
    except InvalidTransaction:
        return
    spend_nonce(state, tx)
