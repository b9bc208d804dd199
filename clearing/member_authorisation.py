"""A member request is the member's own and still live: signed for a lifetime within the
limit, issued by the block's time and not past its expiry, its nonce unused, its EIP-712
signature the member's for this chain.

Every member-signed transaction (a `SignedRequest`: `clearing.transition.member_requests`) checks
all of these before it changes anything, and spends its nonce with its change; the
mempool's admission runs the same checks (`check_member_request`, at the next block's
time as the node sees it) so a request that cannot apply is refused before it is
gossiped.

A block's refusal is final: the request it refused spends its nonce
(`spend_refused_nonce`), as Ethereum spends a failed transaction's, unless no later block
could apply it anyway (its signed lifetime over the limit or negative, its expiry past,
its nonce spent, not its member's signature: nobody can burn a member's nonces with
requests it did not sign). So the signed bytes of a request a block refused never apply
later, when the member would no longer want them; that includes one refused as issued
ahead of the block's time (`IssuedInFuture`), the one refusal a later block time would
lift. Admission spends nothing: there, `IssuedInFuture` alone is not final, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from clearing.context import BlockContext
from clearing.eip712 import verify_member_signature
from clearing.errors import InvalidTransaction, NonceReused
from clearing.events import Event
from clearing.replay_protection import check_request_live, check_request_times
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState, Member, get_member_for_write
from clearing.tx_kind import Priority, Sender, Submitter, TxKind


def check_nonce_unused(state: ClearingState, member: bytes, nonce: int) -> None:
    found = state.members.get(member)
    if found is not None and nonce in found.used_nonces:
        raise NonceReused(member, nonce)


def check_request_unspent(state: ClearingState, time_ms: int, tx: SignedRequest) -> None:
    """Its times at the block time `time_ms` (`check_request_times`) and its nonce unused."""
    max_lifetime_ms = state.genesis.max_request_lifetime_ms
    check_request_times(max_lifetime_ms, tx.SCHEMA.primary_type, tx, time_ms)
    check_nonce_unused(state, tx.member, tx.nonce)


def check_member_signed(chain_id: int, tx: SignedRequest) -> None:
    """Raises BadSignature (naming the domain and the address recovered) unless the
    request's member signed it for `chain_id`."""
    verify_member_signature(
        tx.member, tx.signable(chain_id), tx.signature, type(tx).__name__, chain_id
    )


def check_member_request(state: ClearingState, ctx: BlockContext, tx: SignedRequest) -> None:
    """The times and the nonce, then the signature (the costly check last)."""
    check_request_unspent(state, ctx.time_ms, tx)
    check_member_signed(ctx.chain_id, tx)


def get_next_nonce(member: Member | None) -> int:
    """A nonce above every one the member spent (any unused nonce is accepted; counting
    up from this one never meets a spent one, refused requests' included)."""
    return 0 if member is None else max(member.used_nonces, default=-1) + 1


def spend_nonce(state: ClearingState, tx: SignedRequest) -> None:
    get_member_for_write(state, tx.member).used_nonces.add(tx.nonce)


def spend_refused_nonce(state: ClearingState, ctx: BlockContext, tx: SignedRequest) -> None:
    """After a block refused `tx`: spend its nonce unless no later block could apply it
    anyway (`check_request_live`, the nonce spent, not its member's signature)."""
    max_lifetime_ms = state.genesis.max_request_lifetime_ms
    try:
        check_request_live(max_lifetime_ms, tx.SCHEMA.primary_type, tx, ctx.time_ms)
        check_nonce_unused(state, tx.member, tx.nonce)
        check_member_signed(ctx.chain_id, tx)
    except InvalidTransaction:
        return
    spend_nonce(state, tx)


def admit_member_request(
    state: ClearingState, ctx: BlockContext, tx: SignedRequest, _raw: bytes
) -> Sender:
    """`check_member_request` at the next block; a member's requests are ordered by
    nonce."""
    check_member_request(state, ctx, tx)
    return Sender(tx.member, tx.nonce)


R = TypeVar("R", bound=SignedRequest)


def declare_member_request(
    record: type[R], process: Callable[[ClearingState, BlockContext, R], list[Event]]
) -> TxKind[R]:
    """A member's request: admitted as every request is, refused with its nonce spent."""
    return TxKind(
        record, admit_member_request, process, Priority.MEMBER, Submitter.MEMBER,
        spend_refused_nonce,
    )  # fmt: skip
