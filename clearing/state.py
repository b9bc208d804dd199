"""The clearing state: members, sub-accounts, positions and global records.

Mutable for speed (plain slotted records, dicts and ints; no per-trade copies).
Transactions stay all-or-nothing by checking everything before the first write
(consensus-specs style). Every write to a member's account must go through
``get_sub_account_for_write`` / ``get_member_for_write`` (or add the member to
``state.dirty``) so the incremental state root re-encodes exactly the touched
accounts. What modules compute from the state and keep between blocks (the root's
tree, the risk arrays and margin figures, the configuration's encodings) is no field of
it: ``derived`` holds it for them (clearing/derived.py).

Units: ``cash`` is ``Amount`` (may go negative), collateral is ``Quanta`` per
``(chain_id, token)``, positions are keyed by instrument id. See units.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from clearing.assets import CollateralKey, CollateralToken, compute_haircut_value_per_quantum
from clearing.derived import Derived
from clearing.errors import UnknownMember, UnknownSubAccount, UnknownWithdrawal
from clearing.genesis import Genesis, Validator, Venue
from clearing.governance_proposal import GovernanceProposal
from clearing.instruments import Instrument, InstrumentStatus
from clearing.replay_protection import DepositNonces, TradeIdWindow, VaultKey
from clearing.roles import ClientAccount
from clearing.upgrade_plan import DoneUpgrade, UpgradePlan
from records.declared import Address, Declared, Int, Int64, Uint, declare_record

MemberAddress = bytes
"""20 raw bytes of an EVM address."""


@dataclass(slots=True)
class Position:
    """A sub-account's netted position in one instrument (functions: position.py).

    quantity: signed lots. average_entry_price: ``Price``. settlement_price: the
    price of the last variation-margin settlement. realised_pnl: ``Amount``
    booked so far. funding_index: the instrument's cumulative funding index at
    the last funding settlement of this position.
    """

    quantity: int = 0
    average_entry_price: int = 0
    settlement_price: int = 0
    realised_pnl: int = 0
    funding_index: int = 0


class Positions(dict[str, Position]):
    """A sub-account's positions by instrument id, counting its writes.

    ``revision`` moves with every record stored or removed, so what is derived
    from the positions (the risk cache's kept losses, clearing/risk/cache.py) knows in
    O(1) whether it is still current, without reading every record. Whoever changes a
    record's quantity stores the record back (``positions[id] = record``, see
    position.py ``apply_fill``); only what margin does not read (settlement price,
    funding index) is updated in place without.
    """

    __slots__ = ("revision",)

    def __init__(self, *args: Any, **kwargs: Position) -> None:
        super().__init__(*args, **kwargs)
        self.revision = 0

    def __setitem__(self, instrument_id: str, position: Position) -> None:
        dict.__setitem__(self, instrument_id, position)
        self.revision += 1

    def __delitem__(self, instrument_id: str) -> None:
        dict.__delitem__(self, instrument_id)
        self.revision += 1

    def pop(self, instrument_id: str, *default: Any) -> Any:
        self.revision += 1
        return dict.pop(self, instrument_id, *default)

    def popitem(self) -> tuple[str, Position]:
        self.revision += 1
        return dict.popitem(self)

    def setdefault(self, instrument_id: str, default: Position) -> Position:
        self.revision += 1
        return dict.setdefault(self, instrument_id, default)

    def update(self, *args: Any, **kwargs: Position) -> None:
        self.revision += 1
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        self.revision += 1
        dict.clear(self)

    def __ior__(self, other: Any) -> Positions:  # type: ignore[override,misc]
        self.update(other)
        return self


@dataclass(frozen=True, slots=True)
class MarginCall:
    """An open margin call (clearing/default/margin_call.py): ``amount_due`` is
    IM - equity when the call opened at ``opened_height``; unmet by the end of block
    ``deadline_height``, the sub-account is liquidated."""

    amount_due: int
    opened_height: int
    deadline_height: int

    def to_fields(self) -> list[int]:
        return [self.amount_due, self.opened_height, self.deadline_height]


@dataclass(slots=True)
class SubAccount:
    """Cross-margined inside, isolated from the member's other sub-accounts."""

    cash: int = 0
    collateral: dict[CollateralKey, int] = field(default_factory=dict)
    positions: Positions = field(default_factory=Positions)
    margin_call: MarginCall | None = None  # open while equity is in [MM, IM)


@dataclass(slots=True)
class Member:
    address: MemberAddress
    sub_accounts: dict[int, SubAccount] = field(default_factory=dict)
    venues: set[str] = field(default_factory=set)  # venues authorised to submit its trades
    used_nonces: set[int] = field(default_factory=set)  # of its signed requests
    default_fund: int = 0  # default fund contribution (Amount), managed by clearing/default
    default_fund_required: int = 0  # this epoch's required contribution; short of it: reduce-only
    assessed: int = 0  # assessments paid this epoch (capped by risk.default_fund)
    bidder: bool = False  # registered for default auctions (clearing/default/bidding.py)


@declare_record
@dataclass(frozen=True, slots=True)
class WithdrawalRecord(Declared):
    """A debited withdrawal the validators sign for the vault on ``chain_id``.

    ``amount`` is on-chain token units (quanta * quantum); ``expiry`` is unix seconds,
    the last second the vault may pay it (the validators sign exactly this). ``from_cash``
    of the quanta (a settlement token's quantum is one ``Amount``) were paid from cash,
    the rest from the sub-account's collateral."""

    member: Address
    sub_account: Uint
    chain_id: Uint
    token: Address
    quanta: Uint
    amount: Annotated[int, Int(0, 2**256 - 1)]
    recipient: Address
    nonce: Uint
    height: Uint
    expiry: Uint
    from_cash: Uint = 0


@dataclass(frozen=True, slots=True)
class Jailing:
    """A validator jailed for equivocating at ``evidence_height`` (the evidence committed
    in block ``height``): its power is 0 until a governance change unjails it, which
    gives it back ``power``."""

    evidence_height: int
    height: int
    power: int

    def to_fields(self) -> list[int]:
        return [self.evidence_height, self.height, self.power]


Lots = tuple[tuple[str, int], ...]  # (instrument, the house's signed lots), sorted


@declare_record
@dataclass(frozen=True, slots=True)
class Bid(Declared):
    """Binding: ``premium`` is what the bidder pays the house to take every lot of the
    auction at the mark (negative: what it asks to be paid)."""

    member: Address
    sub_account: Uint
    premium: Int64
    height: Uint
    sequence: Uint  # order of arrival in the block


@dataclass(slots=True)
class Auction:
    """A default auction of the house's lots (its rules: clearing/default/auction.py)."""

    id: int
    lots: Lots
    round: int  # 1 for the first auction of lots
    opened_height: int
    closes_height: int
    bids: list[Bid] = field(default_factory=list)

    def to_fields(self) -> list[object]:
        return [
            self.id, [list(lot) for lot in self.lots], self.round, self.opened_height,
            self.closes_height, [b.to_fields() for b in self.bids],
        ]  # fmt: skip


DEFAULT_LAYERS = (
    "collateral",
    "own default fund",
    "insurance fund",
    "others' default fund",
    "assessments",
    "deleveraging",
    "uncovered",
)
"""The layers of the default waterfall, in the order they pay (``DefaultRecord``)."""


@declare_record
@dataclass(frozen=True, slots=True)
class DefaultRecord(Declared):
    """A sub-account that defaulted in block ``height``: its ``deficit`` (the negative cash
    that ran down the waterfall) and what each layer of ``DEFAULT_LAYERS`` paid of it.
    ``from_members`` is the other members' default-fund contributions, ``uncovered`` what
    the clearing house booked (clearing/default/records.py)."""

    height: Annotated[int, Int(1)]
    member: Address
    sub_account: Uint
    deficit: Annotated[int, Int(1)]
    from_collateral: Uint
    from_own_contribution: Uint
    from_insurance: Uint
    from_members: Uint
    from_assessments: Uint
    from_deleveraging: Uint
    uncovered: Uint

    def get_key(self) -> tuple[int, MemberAddress, int]:
        """One default per sub-account and block: records sort and are unique by this."""
        return (self.height, self.member, self.sub_account)

    def get_layers(self) -> tuple[int, ...]:
        """What each layer paid, in ``DEFAULT_LAYERS`` order."""
        return (self.from_collateral, self.from_own_contribution, self.from_insurance,
                self.from_members, self.from_assessments, self.from_deleveraging,
                self.uncovered)  # fmt: skip

    def is_covered(self) -> bool:
        """The layers add up to the deficit (the waterfall neither creates nor loses value)."""
        return sum(self.get_layers()) == self.deficit


def is_in_default_order(records: Sequence[DefaultRecord]) -> bool:
    """Strictly increasing by (height, member, sub-account): one record per default."""
    keys = [r.get_key() for r in records]
    return keys == sorted(set(keys))


@dataclass(slots=True)
class ClearingState:
    """Everything a block can change, plus the configuration it reads.

    ``genesis`` is the configuration in force: the genesis document with what governance
    changed since (instruments, venues, the risk section: clearing/governance/draft.py)
    replaced, never mutated; ``instruments`` and ``venues`` index the same records."""

    genesis: Genesis
    chain_id: int
    collateral_tokens: dict[CollateralKey, CollateralToken]
    instruments: dict[str, Instrument]
    validators: dict[bytes, Validator]  # by Ed25519 pubkey; a jailed one has power 0
    total_power: int
    venues: dict[str, Venue]
    members: dict[MemberAddress, Member] = field(default_factory=dict)
    fee_pool: int = 0
    insurance_fund: int = 0
    mark_prices: dict[str, int] = field(default_factory=dict)  # instrument id -> Price
    index_prices: dict[str, int] = field(default_factory=dict)  # feed id -> Price
    price_time_ms: int = 0  # block time of the last committed price update
    # by validator pubkey: the observed_ms of its newest price observation applied
    last_observed_ms: dict[bytes, int] = field(default_factory=dict)
    open_interest: dict[str, int] = field(default_factory=dict)  # instrument id -> long lots
    funding_indices: dict[str, int] = field(default_factory=dict)  # instrument id -> cumulative
    last_funding_ms: dict[str, int] = field(default_factory=dict)
    final_settlement_prices: dict[str, int] = field(default_factory=dict)  # expired instruments
    trade_windows: dict[str, TradeIdWindow] = field(default_factory=dict)  # by venue id
    deposit_nonces: dict[VaultKey, DepositNonces] = field(default_factory=dict)  # credited
    pending_withdrawals: dict[tuple[MemberAddress, int], WithdrawalRecord] = field(
        default_factory=dict
    )  # (member, nonce) -> record, until the bridge reports it paid
    report_hashes: dict[int, bytes] = field(default_factory=dict)  # epoch -> report hash
    # chain id -> settlement tokens its vault holds for cash (not for collateral quanta)
    settlement_reserves: dict[int, int] = field(default_factory=dict)
    # (chain, token) -> quanta its vault paid out that clearing saw paid, since genesis:
    # what a verifier subtracts from the vault's Withdrawn logs to find payouts not yet seen
    withdrawals_paid: dict[CollateralKey, int] = field(default_factory=dict)
    # (chain, token) -> quanta its vault holds by the ledger: credited, less paid out (the
    # members' collateral, withdrawals not yet paid, cash reserves); at most
    # MAX_VAULT_QUANTA, so every balance and total of the token fits the codec's uint64
    vault_quanta: dict[CollateralKey, int] = field(default_factory=dict)
    # the last epoch's Cover-N sizing: the N largest stress losses beyond initial margin
    default_fund_cover: tuple[int, ...] = ()
    auctions: dict[int, Auction] = field(default_factory=dict)  # by auction id
    next_auction_id: int = 1
    # sub-accounts that defaulted this epoch and last, by (height, member, sub-account)
    defaults: list[DefaultRecord] = field(default_factory=list)
    instrument_status: dict[str, InstrumentStatus] = field(default_factory=dict)  # not active
    proposals: dict[int, GovernanceProposal] = field(default_factory=dict)  # by proposal id
    next_proposal_id: int = 1
    upgrade_plan: UpgradePlan | None = None  # governance's, until done or cancelled
    upgrades_done: list[DoneUpgrade] = field(default_factory=list)  # in height order
    jailed: dict[bytes, Jailing] = field(default_factory=dict)  # by validator pubkey
    # the active validators (power > 0, in set order) after each block that changed them:
    # consensus rebuilds every height's set from genesis with these (clearing/validator_set.py)
    validator_sets: dict[int, tuple[Validator, ...]] = field(default_factory=dict)
    clearing_members: set[MemberAddress] = field(default_factory=set)  # admitted (roles.py)
    clients: dict[MemberAddress, ClientAccount] = field(default_factory=dict)  # by client
    # (client, clearing member) -> the terms the member offered it (transition/client_requests.py)
    client_offers: dict[tuple[MemberAddress, MemberAddress], ClientAccount] = field(
        default_factory=dict
    )
    height: int = 0
    time_ms: int = 0
    dirty: set[MemberAddress] = field(default_factory=set)
    # what modules compute from the above and keep (clearing/derived.py): not the state's
    derived: Derived = field(default_factory=Derived, compare=False, repr=False)


def initialize_state(genesis: Genesis) -> ClearingState:
    """The state at height 0 from a validated genesis."""
    return ClearingState(
        genesis=genesis,
        chain_id=genesis.chain_id,
        collateral_tokens={t.key: t for t in genesis.collateral},
        instruments={i.id: i for i in genesis.instruments},
        validators={v.pubkey: v for v in genesis.validators},
        total_power=sum(v.power for v in genesis.validators),
        venues={v.id: v for v in genesis.venues},
        mark_prices=dict(genesis.mark_prices),
        index_prices=dict(genesis.index_prices),
        open_interest={i.id: 0 for i in genesis.instruments},
        funding_indices={i.id: 0 for i in genesis.instruments if i.is_perpetual()},
        last_funding_ms={
            i.id: genesis.genesis_time_ms for i in genesis.instruments if i.is_perpetual()
        },
        time_ms=genesis.genesis_time_ms,
        clearing_members=set(genesis.clearing_members or ()),
        clients=dict(genesis.clients),
    )


def get_member(state: ClearingState, member: MemberAddress) -> Member:
    """Read-only access; raises ``UnknownMember``."""
    found = state.members.get(member)
    if found is None:
        raise UnknownMember(member)
    return found


def get_sub_account(state: ClearingState, member: MemberAddress, sub_account: int) -> SubAccount:
    """Read-only access; raises ``UnknownMember`` / ``UnknownSubAccount``."""
    found = get_member(state, member).sub_accounts.get(sub_account)
    if found is None:
        raise UnknownSubAccount(member, sub_account)
    return found


def get_pending_withdrawal(
    state: ClearingState, member: bytes, nonce: int, chain_id: int
) -> WithdrawalRecord:
    """The pending withdrawal a chain's observation names; UnknownWithdrawal if none is
    pending on that chain."""
    record = state.pending_withdrawals.get((member, nonce))
    if record is None or record.chain_id != chain_id:
        raise UnknownWithdrawal(member, nonce, chain_id)
    return record


def get_member_for_write(state: ClearingState, member: MemberAddress) -> Member:
    """The member record (created empty if new), marked dirty for the state root."""
    state.dirty.add(member)
    found = state.members.get(member)
    if found is None:
        found = state.members[member] = Member(member)
    return found


def get_sub_account_for_write(
    state: ClearingState, member: MemberAddress, sub_account: int
) -> SubAccount:
    """The sub-account (created empty if new), its member marked dirty."""
    record = get_member_for_write(state, member)
    found = record.sub_accounts.get(sub_account)
    if found is None:
        found = record.sub_accounts[sub_account] = SubAccount()
    return found


def is_settlement_token(state: ClearingState, key: CollateralKey) -> bool:
    return key in state.genesis.settlement_asset.tokens


def get_value_per_quantum(state: ClearingState, key: CollateralKey) -> int:
    token = state.collateral_tokens[key]
    return compute_value_per_quantum(state.genesis, token, state.index_prices)


def compute_value_per_quantum(
    genesis: Genesis, token: CollateralToken, index_prices: Mapping[str, int]
) -> int:
    """What one quantum counts for: a settlement token is the ledger's money, so one
    ``Amount`` at par whatever its feed says; any other token its haircut value."""
    if token.key in genesis.settlement_asset.tokens:
        return 1
    return compute_haircut_value_per_quantum(token, index_prices[token.price_feed])


def get_collateral_value(state: ClearingState, account: SubAccount) -> int:
    """Haircut value of the sub-account's collateral (Amount, floor per quantum)."""
    if not account.collateral:  # most sub-accounts hold cash only
        return 0
    return sum(
        quanta * get_value_per_quantum(state, key) for key, quanta in account.collateral.items()
    )


def get_account_equity(state: ClearingState, account: SubAccount) -> int:
    """Cash plus the haircut value of the collateral: what the margin checks compare."""
    return account.cash + get_collateral_value(state, account)
