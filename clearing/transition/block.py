"""Applying a block: transactions in order, then the end-of-block steps.

    process_block(state, ctx, txs):
        check the context (chain, next height, time not going back)
        check this release may apply it (an upgrade due is one it carries)
        run the migration of an upgrade due at this height
        for each tx: decode, dispatch, all-or-nothing -> TxResult
        for step in END_OF_BLOCK_STEPS: step(state, ctx)
        at an epoch boundary: for step in EPOCH_STEPS: step(state, ctx)
        compute the state root (incremental)

A rejected transaction (``InvalidTransaction`` or ``DecodeError``) yields a
result with its error class as code and changes nothing, except that a refusal is
final: a member request spends its nonce (``spend_refused_nonce``) and a trade batch
refused whole its trades' ids (``spend_refused_trade_ids``; a rejected trade spends its
own, trade.py), unless no later block could apply them anyway. So the signed bytes of a
refusal never apply later. Any other exception is a bug in a rule and propagates: a node
must halt rather than diverge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from clearing.context import BlockContext
from clearing.default.auction import process_house_book
from clearing.default.house import process_house_collateral
from clearing.default.margin_call import process_margin_calls
from clearing.default.porting import process_porting
from clearing.default.records import process_defaults_roll
from clearing.default.steps import process_default_fund_step, process_liquidation_step
from clearing.errors import InvalidTransaction, TimeNotMonotonic, WrongBlockChain, WrongBlockHeight
from clearing.events import Event
from clearing.expiry import process_expiries
from clearing.governance.execution import process_governance
from clearing.governance.pruning import process_instrument_pruning
from clearing.governance.roll import process_listing_roll
from clearing.jailing import process_equivocations
from clearing.release import MIGRATIONS
from clearing.settlement import process_mark_to_market
from clearing.state import ClearingState
from clearing.transition.funding import process_funding
from clearing.transition.negative_cash import process_negative_cash
from clearing.transition.root import compute_state_root
from clearing.transition.tx import KIND_OF, Transaction, decode_tx
from clearing.upgrade import Migration, check_release, process_upgrade
from records.codec import (
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    pack,
    unpack,
)

__all__ = ["BlockContext", "BlockResult", "TxResult", "process_block"]

OK = "ok"
RESULT_VERSION = 1

Step = Callable[[ClearingState, BlockContext], list[Event]]
Decode = Callable[[bytes], Transaction]

# Order matters: equivocators are jailed first (a ballot of a key jailed in this block
# counts for nothing in its tally); then governance, so the block's other steps run under the
# configuration in force from this height (a listing is marked, new risk parameters
# margin); settled instruments retained long enough then leave the configuration
# (before the expiries, so that none is settled and pruned in one block); then settle
# variation margin at the new marks before funding, and
# both before expiring instruments; the listing templates then list the series
# after those that expired (at marks that are this block's); margin calls and liquidation (and the
# waterfall behind it) then see every account at its settled equity, liquidation
# sees the calls that expired in this block and leaves no account insolvent;
# the clients of a clearing member that defaulted in the run are then ported or closed out
# (their closed-out lots reach the house before its auctions open);
# the house's default auctions then close and open on the lots it now holds;
# only then is negative cash paid from collateral and the house's seized
# collateral sold, so a sale never races a default.
END_OF_BLOCK_STEPS: tuple[Step, ...] = (
    process_equivocations,
    process_governance,
    process_instrument_pruning,
    process_mark_to_market,
    process_funding,
    process_expiries,
    process_listing_roll,
    process_margin_calls,
    process_liquidation_step,
    process_porting,
    process_house_book,
    process_negative_cash,
    process_house_collateral,
)

# At heights that are multiples of genesis.epoch_length_blocks.
EPOCH_STEPS: tuple[Step, ...] = (process_default_fund_step, process_defaults_roll)


@dataclass(frozen=True, slots=True)
class TxResult:
    code: str  # "ok" or the error class name
    detail: str  # the error with its numbers, "" when ok
    events: tuple[Event, ...]
    record: Transaction | None = field(default=None, compare=False, repr=False)
    """The applied transaction, decoded (ok results of a block just applied; not encoded):
    what reads a block's cleared trades (node/history/) need not decode it again."""

    def is_ok(self) -> bool:
        return self.code == OK

    def to_fields(self) -> list[object]:
        """``[code, detail, [event]]`` (not the record, which the block holds)."""
        return [self.code, self.detail, [e.to_fields() for e in self.events]]

    @classmethod
    def from_fields(cls, obj: object) -> TxResult:
        code, detail, events = expect_list(obj, "TxResult", 3)
        if not isinstance(detail, str):
            raise DecodeError("TxResult", "detail must be a string")
        decoded = tuple(Event.from_fields(e) for e in expect_list(events, "events"))
        return cls(expect_str(code, "code"), detail, decoded)


@dataclass(frozen=True, slots=True)
class BlockResult:
    height: int
    tx_results: tuple[TxResult, ...]
    events: tuple[Event, ...]  # end-of-block and epoch events, in order
    state_root: bytes

    def get_events(self) -> list[Event]:
        """Every event of the block in order: each transaction's, then the end-of-block
        and epoch steps'."""
        return [*(e for r in self.tx_results for e in r.events), *self.events]

    def encode(self) -> bytes:
        """``[RESULT_VERSION, height, [[code, detail, [event]]], [event], root]``."""
        txs = [r.to_fields() for r in self.tx_results]
        events = [e.to_fields() for e in self.events]
        return pack([RESULT_VERSION, self.height, txs, events, self.state_root])

    @classmethod
    def decode(cls, data: bytes) -> BlockResult:
        fields = expect_list(unpack(data, "BlockResult"), "BlockResult", 5)
        if fields[0] != RESULT_VERSION:
            raise DecodeError("BlockResult", f"version {fields[0]!r} is not {RESULT_VERSION}")
        return cls(
            expect_int(fields[1], "height"),
            tuple(TxResult.from_fields(r) for r in expect_list(fields[2], "tx_results")),
            tuple(Event.from_fields(e) for e in expect_list(fields[3], "events")),
            expect_bytes(fields[4], "state_root", 32),
        )


def check_block_context(state: ClearingState, ctx: BlockContext) -> None:
    if ctx.chain_id != state.chain_id:
        raise WrongBlockChain(state.chain_id, ctx.chain_id)
    if ctx.height != state.height + 1:
        raise WrongBlockHeight(state.height + 1, ctx.height)
    if ctx.time_ms < state.time_ms:
        raise TimeNotMonotonic(state.time_ms, ctx.time_ms)


def process_transaction(
    state: ClearingState, ctx: BlockContext, raw: bytes, decode: Decode = decode_tx
) -> TxResult:
    """Decode and apply one transaction; a rejection changes nothing but what makes it
    final (a member request's nonce, a batch's trade ids)."""
    try:
        tx = decode(raw)
    except DecodeError as error:
        return TxResult(error.code, str(error), ())
    kind = KIND_OF[type(tx)]
    try:
        events = kind.process(state, ctx, tx)
    except (InvalidTransaction, DecodeError) as error:
        if kind.spend_refused is not None:
            kind.spend_refused(state, ctx, tx)
        return TxResult(error.code, str(error), ())
    return TxResult(OK, "", tuple(events), tx)


def is_epoch_boundary(state: ClearingState, ctx: BlockContext) -> bool:
    return ctx.height % state.genesis.epoch_length_blocks == 0


def process_epoch(state: ClearingState, ctx: BlockContext) -> list[Event]:
    events: list[Event] = []
    for step in EPOCH_STEPS:
        events.extend(step(state, ctx))
    return events


def process_end_of_block(state: ClearingState, ctx: BlockContext) -> list[Event]:
    events: list[Event] = []
    for step in END_OF_BLOCK_STEPS:
        events.extend(step(state, ctx))
    return events


def process_block(
    state: ClearingState,
    ctx: BlockContext,
    txs: list[bytes],
    migrations: tuple[Migration, ...] = MIGRATIONS,
    decode: Decode = decode_tx,
) -> BlockResult:
    """Apply a committed block; same state + same txs -> same state and root.
    ``migrations``: this release's (clearing/release.py); a block it may not apply
    (``ReleaseMismatch``) is refused with the state untouched. ``decode``: ``decode_tx``,
    or a node's memo of it (node/decoded_txs.py: the same records, decoded once)."""
    check_block_context(state, ctx)
    check_release(state, migrations)
    state.height = ctx.height
    state.time_ms = ctx.time_ms
    upgraded = process_upgrade(state, ctx, migrations)
    results = tuple(process_transaction(state, ctx, raw, decode) for raw in txs)
    events = [*upgraded, *process_end_of_block(state, ctx)]
    if is_epoch_boundary(state, ctx):
        events.extend(process_epoch(state, ctx))
    return BlockResult(ctx.height, results, tuple(events), compute_state_root(state))
