"""Why a governance transaction or change is refused (each carries its numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.errors import InvalidTransaction


@dataclass(eq=False)
class NotAValidator(InvalidTransaction):
    """Only a validator in the current set proposes or votes."""

    signer: bytes


@dataclass(eq=False)
class UnknownProposal(InvalidTransaction):
    proposal_id: int


@dataclass(eq=False)
class DuplicateProposal(InvalidTransaction):
    """The same signed proposal is already recorded as ``proposal_id``."""

    proposal_id: int


@dataclass(eq=False)
class TooManyOpenProposals(InvalidTransaction):
    open_proposals: int
    limit: int


@dataclass(eq=False)
class ChangeCount(InvalidTransaction):
    """A proposal carries between ``lo`` and ``hi`` changes."""

    count: int
    lo: int
    hi: int


@dataclass(eq=False)
class VotingDeadlineOutOfRange(InvalidTransaction):
    """The vote must close in ``[earliest, latest]``."""

    deadline_height: int
    earliest: int
    latest: int


@dataclass(eq=False)
class DelayTooShort(InvalidTransaction):
    """A delayed change executes at ``earliest`` or later (its vote's close plus the
    genesis ``governance.min_delay_blocks``)."""

    execute_height: int
    earliest: int


@dataclass(eq=False)
class EmergencyHeightGiven(InvalidTransaction):
    """Emergency changes execute as soon as they pass: their height must be 0."""

    execute_height: int


@dataclass(eq=False)
class MixedUrgency(InvalidTransaction):
    """One proposal is either all emergency changes or all delayed ones."""

    emergency_changes: int
    delayed_changes: int


@dataclass(eq=False)
class VotingClosed(InvalidTransaction):
    proposal_id: int
    status: str
    deadline_height: int
    height: int


@dataclass(eq=False)
class StaleVote(InvalidTransaction):
    """A changed vote carries a higher ``sequence`` than the one it replaces (so an old
    signed vote cannot be replayed over a newer one)."""

    proposal_id: int
    sequence: int
    last_sequence: int


@dataclass(eq=False)
class InstrumentListed(InvalidTransaction):
    """The id is taken (listed now, or listed and expired: an id means one contract)."""

    instrument_id: str


@dataclass(eq=False)
class FeedNotPriced(InvalidTransaction):
    """A listing names an index feed the validators do not price yet."""

    instrument_id: str
    feed: str


@dataclass(eq=False)
class UnderlyingNotFuture(InvalidTransaction):
    """An option is written on a listed, unexpired future."""

    instrument_id: str
    underlying: str


@dataclass(eq=False)
class ExpiryPassed(InvalidTransaction):
    instrument_id: str
    expiry_ms: int
    time_ms: int


@dataclass(eq=False)
class InvalidRiskParams(InvalidTransaction):
    """The replacement risk section fails ``parse_risk_params`` (or sizes no scenario grid)."""

    key: str
    expected: str
    got: object


@dataclass(eq=False)
class RiskNotCovering(InvalidTransaction):
    """With margining on, every instrument's risk factor has parameters."""

    instrument_id: str
    underlying: str


@dataclass(eq=False)
class VenueListed(InvalidTransaction):
    venue_id: str


@dataclass(eq=False)
class ChangeNotAllowed(InvalidTransaction):
    """A status change of an expired instrument, or to the status it has."""

    instrument_id: str
    reason: str


@dataclass(eq=False)
class ExternalBridgeListed(InvalidTransaction):
    bridge_id: str


@dataclass(eq=False)
class BridgeKeyInUse(InvalidTransaction):
    """One key, one bridge: the key ``bridge_id`` already reports with."""

    pubkey: bytes
    bridge_id: str


@dataclass(eq=False)
class ChainWithoutCollateral(InvalidTransaction):
    """An external bridge reports only chains holding registered collateral."""

    chain_id: int
    collateral_chains: tuple[int, ...]


@dataclass(eq=False)
class UnknownExternalBridge(InvalidTransaction):
    bridge_id: str


@dataclass(eq=False)
class TemplateInstalled(InvalidTransaction):
    template_id: str


@dataclass(eq=False)
class UnknownTemplate(InvalidTransaction):
    template_id: str


@dataclass(eq=False)
class InvalidParameter(InvalidTransaction):
    """A parameter outside the genesis range: key ``key`` is not ``expected``."""

    key: str
    expected: str
    got: object


@dataclass(eq=False)
class ClearingMemberAdmitted(InvalidTransaction):
    """``member`` is already an admitted clearing member."""

    member: bytes


@dataclass(eq=False)
class NotAClearingMember(InvalidTransaction):
    """``member`` is not an admitted clearing member."""

    member: bytes


@dataclass(eq=False)
class IsAClient(InvalidTransaction):
    """``member`` holds a client account under ``clearing_member``: a clearing member's
    house account is never a client's."""

    member: bytes
    clearing_member: bytes


@dataclass(eq=False)
class ClearingMemberHasClients(InvalidTransaction):
    """``member`` still guarantees ``clients`` client accounts (or is the backup of
    ``backups``): they move to another member before it leaves."""

    member: bytes
    clients: int
    backups: int


@dataclass(eq=False)
class UpgradeHeightPassed(InvalidTransaction):
    """An upgrade is scheduled for a block after the one that executes its proposal."""

    upgrade: str
    height: int
    executed_at: int


@dataclass(eq=False)
class UpgradeAlreadyDone(InvalidTransaction):
    """Upgrade ``upgrade`` ran at ``height``: a name is used once."""

    upgrade: str
    height: int


@dataclass(eq=False)
class NoSuchUpgrade(InvalidTransaction):
    """Cancelling ``upgrade``, which is not the one planned (``planned``, or none)."""

    upgrade: str
    planned: str | None
