"""Whole-state snapshots: a node restarts or catches up from one instead of
replaying every block since genesis.

``encode_snapshot(state)`` is msgpack ``[SNAPSHOT_VERSION, globals, trade-id
windows, credited deposit nonces, [account bytes...], [[proposal id, changes]...]]``
(the root holds a proposal's changes by its digest) where each account is exactly
the canonical leaf encoding of the state root (root.py) and the replay state is its
bounded form (replay_protection.py): per venue ``[venue, high, bitmap]``, per
vault ``[chain id, vault, through, [nonces above...]]``. An older version is
refused (``DecodeError``): the node then restores from an older snapshot or
replays blocks from genesis. The genesis is
not in the snapshot: ``decode_snapshot(genesis, data)`` rebuilds the state on
top of it, validating every field (a snapshot from a peer is untrusted until
its state root matches a committed one).
"""

from __future__ import annotations

from typing import Any

from clearing.assets import MAX_VAULT_QUANTA
from clearing.clients import ROLE_FIELDS, decode_role_fields
from clearing.genesis import Genesis
from clearing.governance.configuration import (
    CONFIGURATION_FIELDS,
    decode_configuration,
    get_proposal_changes,
)
from clearing.replay_protection import DepositNonces, TradeIdWindow, get_credit_fields
from clearing.state import (
    Auction,
    Bid,
    ClearingState,
    DefaultRecord,
    MarginCall,
    Member,
    Position,
    SubAccount,
    WithdrawalRecord,
    initialize_state,
    is_in_default_order,
)
from clearing.transition.root import ACCOUNT_VERSION, encode_account, get_global_fields
from clearing.upgrade_plan import UPGRADE_FIELDS, read_upgrade_fields
from clearing.validator_set import VALIDATOR_FIELDS, decode_validator_fields
from records.codec import (
    DecodeError,
    expect_big_int,
    expect_bool,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    pack,
    unpack,
)

# 11: each validator's newest price observation applied; 10: the upgrade planned and those
# done; 9: the withdrawals paid per (chain, token);
# 8: the clearing members and client accounts; 7: the collateral haircuts in the governed
# configuration; 6: the validator set, jailings and set changes; the external bridges,
# listing templates and fee split in the governed configuration; 5: the governed
# configuration and proposals; 4: the epoch's defaults; 3: settlement reserves,
# withdrawal expiry
SNAPSHOT_VERSION = 12  # 12: what each vault holds by the ledger; the paid totals unbounded
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _int(obj: object, what: str) -> int:
    return expect_int(obj, what, INT64_MIN, INT64_MAX)


def _prices(obj: object, what: str) -> dict[str, int]:
    pairs = (expect_list(p, what, 2) for p in expect_list(obj, what))
    return {expect_str(k, what): _int(v, what) for k, v in pairs}


def encode_snapshot(state: ClearingState) -> bytes:
    return pack(
        [
            SNAPSHOT_VERSION,
            [*get_global_fields(state), sorted(state.report_hashes.items())],
            [[v, w.high, bytes(w.bits)] for v, w in sorted(state.trade_windows.items())],
            get_credit_fields(state.deposit_nonces),
            [encode_account(state.members[a]) for a in sorted(state.members)],
            get_proposal_changes(state),
        ]
    )


def decode_snapshot(genesis: Genesis, data: bytes) -> ClearingState:
    """The state a snapshot describes; raises ``DecodeError`` on any bad field."""
    # No message cap: a state outgrows them (its trade-id bitmaps).
    fields = expect_list(unpack(data, "snapshot", max_bytes=None, max_items=None), "snapshot")
    if not fields or fields[0] != SNAPSHOT_VERSION:
        version = fields[0] if fields else None
        raise DecodeError("snapshot", f"version {version!r} is not {SNAPSHOT_VERSION}")
    _, globals_, trades, credits, accounts, changes = expect_list(fields, "snapshot", 6)
    state = initialize_state(genesis)
    _decode_globals(
        state,
        expect_list(
            globals_,
            "globals",
            21 + CONFIGURATION_FIELDS + VALIDATOR_FIELDS + ROLE_FIELDS + UPGRADE_FIELDS,
        ),
        changes,
    )
    for item in expect_list(trades, "trade_windows"):
        venue, high, bits = expect_list(item, "trade_window", 3)
        window = TradeIdWindow(
            expect_int(high, "high"),
            bytearray(expect_bytes(bits, "bits", genesis.trade_id_window >> 3)),
        )
        state.trade_windows[expect_str(venue, "venue")] = window
    for item in expect_list(credits, "deposit_nonces"):
        chain, vault, through, above = expect_list(item, "deposit_nonces", 4)
        key = (expect_int(chain, "chain_id"), expect_bytes(vault, "vault", 20))
        state.deposit_nonces[key] = _decode_nonces(through, above)
    for raw in expect_list(accounts, "accounts"):
        if not isinstance(raw, bytes):
            raise DecodeError("accounts", "each account must be bytes")
        member = decode_member(raw)
        state.members[member.address] = member
    return state


def _decode_nonces(through: object, above: object) -> DepositNonces:
    """Canonical: the nonces above are increasing and each leaves a gap after ``through``."""
    nonces = DepositNonces(expect_int(through, "through"))
    floor = nonces.through + 1
    for item in expect_list(above, "above"):
        nonce = expect_int(item, "nonce", floor + 1)
        nonces.above.add(nonce)
        floor = nonce
    return nonces


def _decode_globals(state: ClearingState, g: list[Any], proposal_changes: object) -> None:
    chain_id = expect_int(g[0], "chain_id")
    if chain_id != state.chain_id:
        raise DecodeError(
            "snapshot", f"chain id {chain_id} is not the genesis chain {state.chain_id}"
        )
    state.height = expect_int(g[1], "height")
    state.time_ms = expect_int(g[2], "time_ms")
    state.fee_pool = _int(g[3], "fee_pool")
    state.insurance_fund = _int(g[4], "insurance_fund")
    state.mark_prices = _prices(g[5], "mark_prices")
    state.index_prices = _prices(g[6], "index_prices")
    state.price_time_ms = expect_int(g[7], "price_time_ms")
    state.open_interest = _prices(g[8], "open_interest")
    state.funding_indices = {
        expect_str(k, "funding_indices"): expect_big_int(v, "funding_indices")
        for k, v in (
            expect_list(p, "funding_indices", 2) for p in expect_list(g[9], "funding_indices")
        )
    }
    state.last_funding_ms = _prices(g[10], "last_funding_ms")
    state.final_settlement_prices = _prices(g[11], "final_settlement_prices")
    for fields in expect_list(g[12], "pending_withdrawals"):
        record = WithdrawalRecord.from_fields(fields)
        state.pending_withdrawals[(record.member, record.nonce)] = record
    for item in expect_list(g[13], "settlement_reserves"):
        chain, reserve = expect_list(item, "settlement_reserve", 2)
        state.settlement_reserves[expect_int(chain, "chain_id", 1)] = expect_int(reserve, "reserve")
    state.default_fund_cover = tuple(
        expect_int(loss, "default_fund_cover") for loss in expect_list(g[14], "default_fund_cover")
    )
    for item in expect_list(g[15], "auctions"):
        auction = decode_auction(item)
        state.auctions[auction.id] = auction
    state.next_auction_id = expect_int(g[16], "next_auction_id", 1)
    state.defaults = [DefaultRecord.from_fields(item) for item in expect_list(g[17], "defaults")]
    if not is_in_default_order(state.defaults):
        raise DecodeError("defaults", "must be strictly sorted by (height, member, sub-account)")
    for item in expect_list(g[18], "withdrawals_paid"):
        chain, token, quanta = expect_list(item, "withdrawal_paid", 3)
        key = (expect_int(chain, "chain_id", 1), expect_bytes(token, "token", 20))
        state.withdrawals_paid[key] = expect_big_int(quanta, "quanta", 0)
    for item in expect_list(g[19], "vault_quanta"):
        chain, token, quanta = expect_list(item, "vault_quanta", 3)
        key = (expect_int(chain, "chain_id", 1), expect_bytes(token, "token", 20))
        state.vault_quanta[key] = expect_int(quanta, "quanta", 1, MAX_VAULT_QUANTA)
    decode_configuration(state, g[20 : 20 + CONFIGURATION_FIELDS], proposal_changes)
    validators_at = 20 + CONFIGURATION_FIELDS
    decode_validator_fields(state, g[validators_at : validators_at + VALIDATOR_FIELDS])
    roles_at = validators_at + VALIDATOR_FIELDS
    decode_role_fields(state, g[roles_at : roles_at + ROLE_FIELDS])
    upgrades_at = roles_at + ROLE_FIELDS
    state.upgrade_plan, state.upgrades_done = read_upgrade_fields(
        *g[upgrades_at : upgrades_at + UPGRADE_FIELDS]
    )
    for item in expect_list(g[upgrades_at + UPGRADE_FIELDS], "report_hashes"):
        epoch, report_hash = expect_list(item, "report_hash", 2)
        state.report_hashes[expect_int(epoch, "epoch", 1)] = expect_bytes(
            report_hash, "report_hash", 32
        )


def _decode_margin_call(obj: object) -> MarginCall | None:
    fields = expect_list(obj, "margin_call")
    if not fields:
        return None
    amount_due, opened, deadline = expect_list(fields, "margin_call", 3)
    opened_height = expect_int(opened, "opened_height")
    return MarginCall(
        expect_int(amount_due, "amount_due", 1, INT64_MAX),
        opened_height,
        expect_int(deadline, "deadline_height", opened_height + 1),
    )


def decode_auction(obj: object) -> Auction:
    auction_id, lots, round_, opened, closes, bids = expect_list(obj, "auction", 6)
    auction = Auction(
        expect_int(auction_id, "auction", 1),
        tuple(
            (expect_str(iid, "instrument"), _int(q, "lots"))
            for iid, q in (expect_list(lot, "lot", 2) for lot in expect_list(lots, "lots"))
        ),
        expect_int(round_, "round", 1),
        expect_int(opened, "opened_height"),
        expect_int(closes, "closes_height"),
    )
    auction.bids.extend(Bid.from_fields(item) for item in expect_list(bids, "bids"))
    return auction


def decode_member(account_bytes: bytes) -> Member:
    """A ``Member`` from its canonical account encoding (see ``encode_account``)."""
    f = expect_list(unpack(account_bytes, "account"), "account")
    if not f or f[0] != ACCOUNT_VERSION:
        version = f[0] if f else None
        raise DecodeError("account", f"version {version!r} is not {ACCOUNT_VERSION}")
    f = expect_list(f, "account", 9)
    member = Member(expect_bytes(f[1], "member", 20))
    for sub in expect_list(f[2], "sub_accounts"):
        sub_id, cash, collateral, positions, call = expect_list(sub, "sub_account", 5)
        account = SubAccount(_int(cash, "cash"))
        for item in expect_list(collateral, "collateral"):
            chain, token, quanta = expect_list(item, "collateral", 3)
            key = (expect_int(chain, "chain_id"), expect_bytes(token, "token", 20))
            account.collateral[key] = expect_int(quanta, "quanta")
        for item in expect_list(positions, "positions"):
            p = expect_list(item, "position", 6)
            quantity, entry, settlement, realised = (_int(v, "position") for v in p[1:5])
            account.positions[expect_str(p[0], "instrument")] = Position(
                quantity, entry, settlement, realised, expect_big_int(p[5], "funding_index")
            )
        account.margin_call = _decode_margin_call(call)
        member.sub_accounts[expect_int(sub_id, "sub_account")] = account
    member.venues = {expect_str(v, "venue") for v in expect_list(f[3], "venues")}
    member.used_nonces = {expect_int(n, "nonce") for n in expect_list(f[4], "used_nonces")}
    member.default_fund = _int(f[5], "default_fund")
    member.default_fund_required = _int(f[6], "default_fund_required")
    member.assessed = _int(f[7], "assessed")
    member.bidder = expect_bool(f[8], "bidder")
    return member
