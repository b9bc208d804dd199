"""The state root: accounts Merkle root bound to a hash of the global records.

``state_root = H(0x03 || accounts_root || globals_hash)`` with
``globals_hash = H(0x07 || market_hash || configuration_hash || roles_hash ||
ledger_hash || reported_hash || H(globals))``: what the solvency rows are computed from
besides the genesis is two leaves of their own, the market
(``clearing.risk.solvency.SolvencyMarket``: the time options are priced at, marks, index
prices) and the configuration in force (its governed sections as canonical JSON,
``clearing.governance.configuration.encode_configuration``: instruments, risk parameters,
...), and a third leaf is who clears through whom (``clearing.published_roles``), a
fourth what a report publishes of the ledger (the epoch's defaults, the insurance fund,
the reserves, the reported cash: ``clearing.published_ledger``) and a fifth the accounts
a report must cover (``clearing.transition.reported_accounts``), so a report proves all five under
the root with their hashes and the bytes of all but the market (``MarketProof``) and
publishes nothing else of the globals (they hold pending withdrawals). Accounts are leaves
keyed by member address with value ``encode_account(member)`` (msgpack, fixed
field order, every map as a list sorted by key). Only members in
``state.dirty`` are re-encoded per root. Globals (prices, pools, open
interest, funding, pending withdrawals, instrument statuses and proposals, the clearing
members and client accounts, ...) are small and encoded whole; the configuration's
documents and the epoch's defaults are not among them (their leaves hold them), nor
are the height and the block time: the root is the state's, and a block's header
commits to both, so a block that changes nothing but them leaves the root as it was.
Committed report hashes, one more per epoch, enter by their running digest
(``report_commitment.ReportHashChain``), extended by one link per new epoch.
The replay protection's state (replay_protection.py) enters by content: each venue's
trade-id window as its top and its bitmap's cached hash, each vault's credited deposit
nonces whole.

A member proves its account with ``get_account_proof`` and anyone checks it
with ``verify_account_proof(root, member, account_bytes, proof)``; the bytes
decode with ``clearing.transition.snapshot.decode_member``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from clearing.clients import get_role_fields
from clearing.collateral import get_collateral_quanta, get_credited_quanta
from clearing.derived import DerivedKey
from clearing.governance.configuration import (
    MAX_CONFIGURATION_BYTES,
    encode_configuration,
    get_configuration_encoding,
    get_configuration_fields,
    get_governance_records,
)
from clearing.merkle import MerkleTree, compute_root_from_proof, hash_leaf
from clearing.published_ledger import (
    MAX_PUBLISHED_LEDGER_BYTES,
    PublishedLedger,
    get_published_ledger,
    hash_published_ledger,
)
from clearing.published_roles import (
    MAX_PUBLISHED_ROLES_BYTES,
    get_published_roles,
    hash_published_roles,
)
from clearing.replay_protection import get_replay_fields
from clearing.report_commitment import ReportHashChain, compute_report_hashes_digest
from clearing.risk.engine import get_solvency_market
from clearing.risk.solvency import SolvencyMarket
from clearing.state import ClearingState, Member
from clearing.transition.reported_accounts import (
    MAX_REPORTED_ACCOUNTS_BYTES,
    AccountKey,
    ReportedAccounts,
    add_insurance_fund,
    get_member_reported,
    get_reported_accounts,
    hash_reported_accounts,
)
from clearing.upgrade_plan import get_upgrade_fields
from clearing.validator_set import get_validator_fields
from records.codec import DecodeError, encode_big_int, expect_bytes, expect_list, pack, unpack
from records.declared import Bytes, Declared, Hash, declare_record

ACCOUNT_VERSION = 3  # 3: assessments, auction bidder, each sub-account's margin call
# 11: the clearing members and client accounts; 10: the configuration in force (with
# the collateral haircuts) a leaf beside the market's, its documents no longer among the
# records; 9: the validator set, jailings and set changes; the external bridges, listing
# templates and fee split in the governed configuration; 8: the governed configuration
# and proposals; 7: beside the market leaf; 6: the epoch's defaults; 5: settlement, ...
# 12: the published roles a leaf of the globals hash
# 13: the epoch's defaults in the published ledger's leaf, not here
# 14: the upgrade planned and those done
# 15: each validator's newest price observation applied
# 16: what each vault holds by the ledger; the paid totals unbounded
GLOBALS_VERSION = 17  # 17: neither the height nor the block time
PROOF_VERSION = 1
ROOT_PREFIX = b"\x03"
# 7: the reported accounts; 6: the published ledger; 5: the published roles; 4 had market,
# configuration, records
GLOBALS_PREFIX = b"\x07"
MARKET_DOMAIN = b"clearnode-market-v2"  # 2: the pricing time, no height or block time
CONFIGURATION_DOMAIN = b"clearnode-configuration-v1"


def encode_account(member: Member) -> bytes:
    """Canonical bytes of one member's account (all sub-accounts)."""
    subs = []
    for sub_id in sorted(member.sub_accounts):
        sub = member.sub_accounts[sub_id]
        collateral = [[c, t, q] for (c, t), q in sorted(sub.collateral.items())]
        positions = [
            [
                i,
                p.quantity,
                p.average_entry_price,
                p.settlement_price,
                p.realised_pnl,
                encode_big_int(p.funding_index),
            ]
            for i, p in sorted(sub.positions.items())
        ]
        call = [] if sub.margin_call is None else sub.margin_call.to_fields()
        subs.append([sub_id, sub.cash, collateral, positions, call])
    return pack(
        [
            ACCOUNT_VERSION,
            member.address,
            subs,
            sorted(member.venues),
            sorted(member.used_nonces),
            member.default_fund,
            member.default_fund_required,
            member.assessed,
            member.bidder,
        ]
    )


def get_global_fields(state: ClearingState) -> list[object]:
    """Every record outside member accounts but the report hashes, in canonical order:
    what a snapshot carries."""
    return [
        state.chain_id,
        state.height,
        state.time_ms,
        *_get_ledger_fields(state),
        [r.to_fields() for r in state.defaults],
        [[c, t, encode_big_int(q)] for (c, t), q in sorted(state.withdrawals_paid.items())],
        [[c, t, q] for (c, t), q in sorted(state.vault_quanta.items())],
        *get_configuration_fields(state),
        *get_validator_fields(state),
        *get_role_fields(state),
        *get_upgrade_fields(state.upgrade_plan, state.upgrades_done),
    ]


def _get_ledger_fields(state: ClearingState) -> list[object]:
    return [
        state.fee_pool,
        state.insurance_fund,
        sorted(state.mark_prices.items()),
        sorted(state.index_prices.items()),
        state.price_time_ms,
        sorted(state.open_interest.items()),
        [[i, encode_big_int(v)] for i, v in sorted(state.funding_indices.items())],
        sorted(state.last_funding_ms.items()),
        sorted(state.final_settlement_prices.items()),
        [r.to_fields() for _, r in sorted(state.pending_withdrawals.items())],
        sorted(state.settlement_reserves.items()),
        list(state.default_fund_cover),
        [a.to_fields() for _, a in sorted(state.auctions.items())],
        state.next_auction_id,
    ]


def encode_globals(state: ClearingState, report_hashes_digest: bytes) -> bytes:
    """Canonical bytes of the global records, the report hashes' digest and the replay
    state: every global record but the configuration's documents and the epoch's
    defaults, which the configuration's and the published ledger's leaves commit to
    (encoding them here again would hash them twice at every block), and but the height
    and the block time: a block header commits to both, and a block that changes nothing
    else leaves the root as it was (CometBFT proposes at once after a block that changed
    the app hash, so an idle network would otherwise make a block every commit wait)."""
    return pack(
        [
            GLOBALS_VERSION,
            state.chain_id,
            *_get_ledger_fields(state),
            *get_governance_records(state),
            *get_validator_fields(state),
            *get_role_fields(state),
            *get_upgrade_fields(state.upgrade_plan, state.upgrades_done),
            report_hashes_digest,
            *get_replay_fields(state.trade_windows, state.deposit_nonces),
        ]
    )


@dataclass(slots=True)
class RootCache:
    """What the root keeps between blocks; rebuilt from the state when absent."""

    accounts: MerkleTree
    reports: ReportHashChain
    # each member's reported accounts and their cash, and over all members: the reported
    # accounts' leaf, encoded again only when an account enters or leaves the list
    reported: dict[bytes, tuple[tuple[AccountKey, ...], int]] = field(default_factory=dict)
    reported_keys: set[AccountKey] = field(default_factory=set)
    reported_cash: int = 0
    reported_leaf: tuple[bytes, bytes] | None = None  # (encoding, hash)


ROOT_CACHE: DerivedKey[RootCache] = DerivedKey("root")


def _get_cache(state: ClearingState) -> RootCache:
    cache = state.derived.get(ROOT_CACHE)
    if cache is None:
        cache = RootCache(MerkleTree(), ReportHashChain(state.report_hashes))
        state.derived.keep(ROOT_CACHE, cache)
        state.dirty.update(state.members)
    return cache


def _get_tree(state: ClearingState) -> MerkleTree:
    """The cached accounts tree with every dirty member re-encoded (and its reported
    accounts counted again)."""
    cache = _get_cache(state)
    tree = cache.accounts
    for address in state.dirty:
        member = state.members[address]
        tree.set_leaf(address, hash_leaf(address, encode_account(member)))
        _count_reported(cache, address, member)
    state.dirty.clear()
    return tree


def _count_reported(cache: RootCache, address: bytes, member: Member) -> None:
    old_keys, old_cash = cache.reported.pop(address, ((), 0))
    keys, cash = get_member_reported(address, member)
    cache.reported_cash += cash - old_cash
    if keys != old_keys:
        cache.reported_keys.difference_update(old_keys)
        cache.reported_keys.update(keys)
        cache.reported_leaf = None
    if keys:
        cache.reported[address] = keys, cash


def _get_ledger(state: ClearingState) -> PublishedLedger:
    _get_tree(state)  # brings the reported cash up to date
    cache = _get_cache(state)
    cash = add_insurance_fund(state, cache.reported_keys, cache.reported_cash)
    return get_published_ledger(state, get_credited_quanta(state), cash)


def _get_reported_leaf(state: ClearingState) -> tuple[bytes, bytes]:
    """The reported accounts' bytes and their hash."""
    _get_tree(state)
    cache = _get_cache(state)
    if cache.reported_leaf is None:
        data = ReportedAccounts(tuple(sorted(cache.reported_keys))).encode()
        cache.reported_leaf = data, hash_reported_accounts(data)
    return cache.reported_leaf


def _get_records_hash(state: ClearingState) -> bytes:
    digest = _get_cache(state).reports.get_digest(state.report_hashes)
    return hashlib.sha256(encode_globals(state, digest)).digest()


def _get_globals_hash(state: ClearingState) -> bytes:
    return compute_globals_hash(
        hash_market(get_solvency_market(state)),
        get_configuration_leaf(state)[1],
        hash_published_roles(get_published_roles(state).encode()),
        hash_published_ledger(_get_ledger(state).encode()),
        _get_reported_leaf(state)[1],
        _get_records_hash(state),
    )


def hash_market(market: SolvencyMarket) -> bytes:
    return hashlib.sha256(MARKET_DOMAIN + pack(market.to_fields())).digest()


def hash_configuration(configuration: bytes) -> bytes:
    return hashlib.sha256(CONFIGURATION_DOMAIN + configuration).digest()


def get_configuration_leaf(state: ClearingState) -> tuple[bytes, bytes]:
    """The bytes of the configuration in force and their hash, encoded and hashed once per
    configuration: it changes only when governance installs one."""
    kept = get_configuration_encoding(state)
    if kept.leaf is None:
        data = encode_configuration(state.genesis)
        kept.leaf = (data, hash_configuration(data))
    return kept.leaf


def compute_globals_hash(
    market_hash: bytes,
    configuration_hash: bytes,
    roles_hash: bytes,
    ledger_hash: bytes,
    reported_hash: bytes,
    records_hash: bytes,
) -> bytes:
    """The published roles and the insurance fund are also among the records (with what
    is not published): hashed twice, so that the records keep one encoding for the root
    and snapshots."""
    leaves = market_hash + configuration_hash + roles_hash + ledger_hash + reported_hash
    return hashlib.sha256(GLOBALS_PREFIX + leaves + records_hash).digest()


def compute_root(accounts_root: bytes, globals_hash: bytes) -> bytes:
    return hashlib.sha256(ROOT_PREFIX + accounts_root + globals_hash).digest()


def compute_state_root(state: ClearingState) -> bytes:
    """The root of the state now; re-encodes only the dirty accounts."""
    accounts_root = _get_tree(state).root()
    return compute_root(accounts_root, _get_globals_hash(state))


def compute_state_root_from_scratch(state: ClearingState) -> bytes:
    """Reference: encode every account and chain every report hash again (tests compare
    it with the cache)."""
    tree = MerkleTree()
    for address, member in state.members.items():
        tree.set_leaf(address, hash_leaf(address, encode_account(member)))
    digest = compute_report_hashes_digest(state.report_hashes)
    records_hash = hashlib.sha256(encode_globals(state, digest)).digest()
    market_hash = hash_market(get_solvency_market(state))
    configuration_hash = hash_configuration(encode_configuration(state.genesis))
    roles_hash = hash_published_roles(get_published_roles(state).encode())
    reported, reported_cash = get_reported_accounts(state)
    ledger = get_published_ledger(state, get_collateral_quanta(state), reported_cash)
    ledger_hash = hash_published_ledger(ledger.encode())
    reported_hash = hash_reported_accounts(reported.encode())
    globals_hash = compute_globals_hash(
        market_hash, configuration_hash, roles_hash, ledger_hash, reported_hash, records_hash
    )
    return compute_root(tree.root(), globals_hash)


@dataclass(frozen=True, slots=True)
class AccountProof:
    """Path from a member's account leaf to the accounts root, plus the globals hash."""

    steps: tuple[tuple[bool, bytes], ...]
    globals_hash: bytes

    def encode(self) -> bytes:
        return pack([PROOF_VERSION, [[left, h] for left, h in self.steps], self.globals_hash])

    @classmethod
    def decode(cls, data: bytes) -> AccountProof:
        version, steps, globals_hash = expect_list(unpack(data, "AccountProof"), "AccountProof", 3)
        if version != PROOF_VERSION:
            raise DecodeError("AccountProof", f"version {version!r} is not {PROOF_VERSION}")
        parsed: list[tuple[bool, bytes]] = []
        for step in expect_list(steps, "steps"):
            left, sibling = expect_list(step, "step", 2)
            if not isinstance(left, bool):
                raise DecodeError("step", "sibling side must be a bool")
            parsed.append((left, expect_bytes(sibling, "sibling", 32)))
        return cls(tuple(parsed), expect_bytes(globals_hash, "globals_hash", 32))


def get_account_proof(state: ClearingState, member: bytes) -> tuple[bytes, AccountProof] | None:
    """``(account_bytes, proof)`` for ``member`` against the current root, or None."""
    return get_account_proofs(state, [member]).get(member)


def get_account_proofs(
    state: ClearingState, members: Iterable[bytes]
) -> dict[bytes, tuple[bytes, AccountProof]]:
    """``get_account_proof`` of each of ``members`` that has an account (the globals
    hash, the same in every proof, computed once)."""
    tree = _get_tree(state)
    globals_hash = _get_globals_hash(state)
    proofs = {}
    for member in members:
        if member in state.members:
            steps = tree.proof(member)
            assert steps is not None
            account = encode_account(state.members[member])
            proofs[member] = account, AccountProof(tuple(steps), globals_hash)
    return proofs


def verify_account_proof(
    root: bytes, member: bytes, account_bytes: bytes, proof: AccountProof
) -> bool:
    """True iff ``account_bytes`` is ``member``'s account under state root ``root``."""
    leaf = hash_leaf(member, account_bytes)
    accounts_root = compute_root_from_proof(leaf, list(proof.steps))
    return compute_root(accounts_root, proof.globals_hash) == root


@declare_record
@dataclass(frozen=True, slots=True)
class MarketProof(Declared):
    """What, with a market, gives the state root: the accounts root, the configuration in
    force (its bytes, ``encode_configuration``: what the statement's rows are computed
    from besides the market), the published roles' bytes (who clears through whom), the
    published ledger's bytes (the epoch's defaults, the insurance fund, the reserves, the
    reported cash), the reported accounts' bytes (every account a report must cover) and
    the hash of the other global records."""

    accounts_root: Hash
    configuration: Annotated[bytes, Bytes(max_length=MAX_CONFIGURATION_BYTES)]
    roles: Annotated[bytes, Bytes(max_length=MAX_PUBLISHED_ROLES_BYTES)]
    ledger: Annotated[bytes, Bytes(max_length=MAX_PUBLISHED_LEDGER_BYTES)]
    reported_accounts: Annotated[bytes, Bytes(max_length=MAX_REPORTED_ACCOUNTS_BYTES)]
    records_hash: Hash

    def get_configuration_hash(self) -> bytes:
        return hash_configuration(self.configuration)

    def get_root(self, market: SolvencyMarket) -> bytes:
        """The state root under which this proves ``market``, its configuration, the
        published roles, the published ledger and the reported accounts."""
        globals_hash = compute_globals_hash(
            hash_market(market), self.get_configuration_hash(), hash_published_roles(self.roles),
            hash_published_ledger(self.ledger), hash_reported_accounts(self.reported_accounts),
            self.records_hash,
        )  # fmt: skip
        return compute_root(self.accounts_root, globals_hash)


def get_market_proof(state: ClearingState) -> MarketProof:
    """The proof of ``get_solvency_market(state)`` and of the configuration in force
    under the current root."""
    configuration, _ = get_configuration_leaf(state)
    roles = get_published_roles(state).encode()
    ledger = _get_ledger(state).encode()
    reported, _ = _get_reported_leaf(state)
    accounts_root = _get_tree(state).root()
    return MarketProof(
        accounts_root, configuration, roles, ledger, reported, _get_records_hash(state)
    )
