"""A state root followed to the chain, as a light client follows it.

The state root after block H is not signed by itself: block H+1's header commits to
it as `prev_state_root`, and H+1's commit certificate carries the precommits of more
than 2/3 of the validators' power for that header's hash. An anchor is that header
and that certificate; checked against the validator set that signs H+1, it proves that
the root is the chain's at height H, whoever handed it over.

A verifier holds one set (the genesis's). Governance and jailing change the set; each
header commits to the set that signs it (`validators_hash`) and to the one that signs
the next height (`next_validators_hash`). So the anchor carries every change since
genesis as a `SetChange`: the header of the block whose next set differs from its own,
that block's commit certificate, and the next set. `follow_set_changes` walks them in
order, each checked against the set the walk holds before it (CometBFT's sequential
light-client verification: every step is signed by its predecessor, so no trust level
is needed), and gives the set that signs any height up to the report's signing. A
header signed by a set the walk does not reach is not checked (`ValidatorSetChanged`):
the verifier cannot tell it from a forgery.

What the walk cannot rule out by itself is a long-range fork: keys of a set that has left
the validator set, no longer bound to anything, that sign a different history from a
height where they were in force (another set change, or no change at all and a report of
their own). As CometBFT's light client, a verifier therefore trusts where its walk starts
only for a trusting period (`TRUSTING_PERIOD_MS`) after that point's time, read on its
own clock (`check_trusting_period`): the genesis's set from the genesis time, and after
that a `Checkpoint`, the set that signs a later block as the member learnt it out of band
(its own node, several operators, the network's published checkpoints). The walk then
starts from the checkpoint (`follow_set_changes`): the changes before it are taken as
carried, unchecked, only to find the set whose hash the checkpoint names, and every change
from it on must be signed by the set before it. Departed keys can forge the history before
a checkpoint, never the one after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from lightclient.cometbft import CometCommit, CometHeader, CometValidatorPowers
from lightclient.commit import CommitCertificate, InvalidCommit, VotingPowers
from lightclient.header import BlockHeader
from lightclient.validators import ValidatorPowers
from records.codec import DecodeError, expect_list

ANCHOR_VERSION = 3
"""3: the engine whose chain it follows; 2: the validator-set changes since genesis; 1
carried none."""
MAX_SET_CHANGES = 10_000
"""Changes one anchor carries; a chain past it is verified from a later trusted set."""
DAY_MS = 86_400_000
TRUSTING_PERIOD_MS = 14 * DAY_MS
"""How long after its time a trusted point (the genesis, a checkpoint) may be walked from:
two weeks, CometBFT's usual choice (two thirds of a three-week unbonding). An operator
keeps a retired validator key secret at least this long (docs/operator.md)."""


OUR_ENGINE = "clearnode"
COMETBFT = "cometbft"
"""The engines a network may run (genesis `engine`): ours (consensus/) and CometBFT."""


GENESIS_DIGEST_BYTES = 8
"""How much of the genesis hash the consensus chain id carries: 64 bits, which no one
finds a second genesis for (2^64 SHA-256s), in 16 hex digits that keep the longest name
(a 20-digit chain id) at 47 characters, within CometBFT's 50."""


class GenesisHashError(ValueError):
    def __init__(self, found: bytes) -> None:
        super().__init__(f"a genesis hash is 32 bytes (SHA-256 of the file), got {len(found)}")
        self.found = found


def get_consensus_chain_id(chain_id: int, genesis_hash: bytes) -> str:
    """The chain id consensus signs under (votes, headers; CometBFT's `chain_id` and so its
    p2p network): the genesis's chain id and the first GENESIS_DIGEST_BYTES of its hash
    (`clearing.genesis.compute_genesis_hash`), so that nothing signed on one genesis counts
    on another, even one that differs by a byte and shares the chain id."""
    if len(genesis_hash) != 32:
        raise GenesisHashError(genesis_hash)
    return f"clearnode-{chain_id}-{genesis_hash[:GENESIS_DIGEST_BYTES].hex()}"


class AnchorError(ValueError):
    """An anchor that does not prove the state root it is offered for."""


class AnchorVersionError(AnchorError):
    def __init__(self, found: object) -> None:
        super().__init__(f"anchor version {found!r} is not {ANCHOR_VERSION}")
        self.found = found


class WrongAnchorChain(AnchorError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"the anchor's header is of chain {found!r}, not {expected!r} (the "
                         f"chain id and genesis hash of the genesis given)")  # fmt: skip
        self.expected = expected
        self.found = found


class WrongAnchorHeight(AnchorError):
    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"the anchor's header is of height {found}; the root after block "
            f"{expected - 1} is committed by the header of height {expected}"
        )
        self.expected = expected
        self.found = found


class WrongRoot(AnchorError):
    def __init__(self, expected: bytes, found: bytes) -> None:
        super().__init__(
            f"the anchor's header commits to state root 0x{found.hex()}, not 0x{expected.hex()}"
        )
        self.expected = expected
        self.found = found


class NotTheHeaderCommitted(AnchorError):
    def __init__(self, header: AnchorHeader, commit: AnchorCommit) -> None:
        super().__init__(
            f"the certificate commits block 0x{commit.block_hash.hex()} at height "
            f"{commit.height}, not the anchor's header 0x{header.hash.hex()} at height "
            f"{header.height}"
        )
        self.header_hash = header.hash
        self.committed_hash = commit.block_hash


class ValidatorSetChanged(AnchorError):
    """The header is signed by another validator set than the one the walk from the given
    set reaches: a change is missing (the verifier cannot tell a forged header from one of
    a set it was not shown)."""

    def __init__(self, height: int, header_set: bytes, given_set: bytes) -> None:
        super().__init__(
            f"block {height} is signed by the validator set 0x{header_set.hex()[:16]}..., not "
            f"the one followed from the set given (0x{given_set.hex()[:16]}...): the anchor "
            f"does not carry the change of the validator set that leads to it"
        )
        self.height = height
        self.header_set = header_set
        self.given_set = given_set


class NotCommitted(AnchorError):
    """The certificate does not carry a quorum of valid precommits."""

    def __init__(self, cause: InvalidCommit) -> None:
        super().__init__(f"the header is not committed: {cause}")
        self.cause = cause


class SetChangeError(AnchorError):
    """A validator-set change the walk from the given set cannot take; `height` is the
    block whose header names the next set."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"the validator-set change in block {height} is not the chain's: {reason}")
        self.height = height
        self.reason = reason


class SetChangesOutOfOrder(SetChangeError):
    def __init__(self, height: int, first: int) -> None:
        super().__init__(height, f"the set before it signs from block {first} on: changes "
                                 f"must come in height order, one per block")  # fmt: skip
        self.first = first


class NotSignedByHeldSet(SetChangeError):
    def __init__(self, height: int, header_set: bytes, held_set: bytes) -> None:
        super().__init__(
            height,
            f"its header is signed by the set 0x{header_set.hex()[:16]}..., not the one in "
            f"force there (0x{held_set.hex()[:16]}...)",
        )
        self.header_set = header_set
        self.held_set = held_set


class NotTheNextSet(SetChangeError):
    def __init__(self, height: int, committed: bytes, given: bytes) -> None:
        super().__init__(
            height,
            f"its header names the next set 0x{committed.hex()[:16]}..., and the set it "
            f"carries hashes to 0x{given.hex()[:16]}...",
        )
        self.committed = committed
        self.given = given


class ChangeNotCommitted(SetChangeError):
    def __init__(self, height: int, cause: InvalidCommit) -> None:
        super().__init__(height, f"its header is not committed: {cause}")
        self.cause = cause


class NotASetChange(SetChangeError):
    def __init__(self, height: int) -> None:
        super().__init__(height, "its header names the set that signs it as the next one")


class AnchorHeader(Protocol):
    """What the walk reads of a header, of either engine's chain."""

    @property
    def chain_id(self) -> str: ...
    @property
    def height(self) -> int: ...
    @property
    def time_ms(self) -> int: ...
    @property
    def prev_state_root(self) -> bytes:
        """The state root after the block before, which this header commits to."""
        ...

    @property
    def prev_block_hash(self) -> bytes:
        """The hash of the block before, which this header names."""
        ...

    @property
    def validators_hash(self) -> bytes: ...
    @property
    def next_validators_hash(self) -> bytes: ...
    @property
    def hash(self) -> bytes: ...
    def to_wire(self) -> list[Any]: ...


class AnchorCommit(Protocol):
    """What the walk reads of a block's commit, of either engine's chain."""

    @property
    def height(self) -> int: ...
    @property
    def block_hash(self) -> bytes: ...
    def verify(self, chain_id: str, validators: VotingPowers) -> None: ...
    def get_signers(self, validators: ValidatorPowers) -> list[bytes]:
        """The keys of `validators` whose precommits for the block it carries."""
        ...

    def to_wire(self) -> list[Any]: ...


@dataclass(frozen=True)
class EngineRecords:
    """How an engine's chain is read: its headers, its commits, its validator sets."""

    header: Callable[[Any], AnchorHeader]
    commit: Callable[[Any], AnchorCommit]
    validators: Callable[[Any], ValidatorPowers]
    powers: Callable[[Iterable[tuple[bytes, int]]], ValidatorPowers]


ENGINE_RECORDS = {
    OUR_ENGINE: EngineRecords(
        BlockHeader.from_fields, CommitCertificate.from_fields, ValidatorPowers.from_wire,
        ValidatorPowers.of,
    ),
    COMETBFT: EngineRecords(
        CometHeader.from_wire, CometCommit.from_wire, CometValidatorPowers.from_wire,
        CometValidatorPowers.of,
    ),
}  # fmt: skip


def get_engine_records(engine: object) -> EngineRecords:
    records = ENGINE_RECORDS.get(engine) if isinstance(engine, str) else None
    if records is None:
        raise DecodeError("anchor.engine", f"{engine!r} is not one of {list(ENGINE_RECORDS)}")
    return records


@dataclass(frozen=True)
class SetChange:
    """Block h's header, whose next set differs from the one signing it, h's commit
    certificate, and that next set: it signs from block h + 1 on."""

    header: AnchorHeader
    commit: AnchorCommit
    validators: ValidatorPowers

    def to_wire(self) -> list[Any]:
        return [self.header.to_wire(), self.commit.to_wire(), self.validators.to_wire()]

    @staticmethod
    def from_wire(obj: Any, records: EngineRecords) -> SetChange:
        header, commit, validators = expect_list(obj, "set change", 3)
        return SetChange(
            records.header(header), records.commit(commit), records.validators(validators)
        )


class CheckpointMismatch(AnchorError):
    """The set the anchor's changes put in force at the checkpoint is not the one it names:
    a history the checkpoint's set did not sign (a long-range fork, or another chain)."""

    def __init__(self, height: int, found: bytes, trusted: bytes) -> None:
        super().__init__(
            f"the anchor's set changes put the set 0x{found.hex()} in force at block {height}, "
            f"and the checkpoint says 0x{trusted.hex()}: a history the checkpoint's set did "
            f"not sign"
        )
        self.height = height
        self.found = found
        self.trusted = trusted


class TrustExpired(AnchorError):
    """The trusted point is older than the trusting period on the verifier's clock."""

    def __init__(self, trusted_time_ms: int, now_ms: int) -> None:
        tenths = (now_ms - trusted_time_ms) * 10 // DAY_MS  # no float: the page says the same
        super().__init__(
            f"the point the walk starts from (time {trusted_time_ms} ms) is {tenths // 10}."
            f"{tenths % 10} days old, more than the trusting period of "
            f"{TRUSTING_PERIOD_MS // DAY_MS} days: "
            f"keys that have left the validator set since could sign another history"
        )
        self.trusted_time_ms = trusted_time_ms
        self.now_ms = now_ms


class CheckpointAfterAnchor(AnchorError):
    def __init__(self, checkpoint_height: int, anchor_height: int) -> None:
        super().__init__(
            f"the checkpoint is of block {checkpoint_height}, after the anchor's block "
            f"{anchor_height}: the walk cannot reach back before its start (use an earlier "
            f"checkpoint)"
        )
        self.checkpoint_height = checkpoint_height
        self.anchor_height = anchor_height


@dataclass(frozen=True)
class Checkpoint:
    """Block `height` as a member trusts it out of band: its header's time and the hash of
    the set that signs it (its `validators_hash`), as `GET /v1/blocks/{height}` shows them
    (written HEIGHT:TIME_MS:0xHASH, `clearnode status` prints one)."""

    height: int
    time_ms: int
    validators_hash: bytes

    def __str__(self) -> str:
        return f"{self.height}:{self.time_ms}:0x{self.validators_hash.hex()}"

    @staticmethod
    def parse(text: str) -> Checkpoint:
        """The checkpoint written HEIGHT:TIME_MS:HASH (the hash's 0x optional); ValueError
        saying what is wrong."""
        height, _, rest = text.partition(":")
        time_ms, _, digest = rest.partition(":")
        if not (height.isdigit() and time_ms.isdigit() and int(height) >= 1):
            raise ValueError("expected HEIGHT:TIME_MS:HASH (the block's height, its header's "
                             "time_ms and validators_hash)")  # fmt: skip
        digest = digest.strip().removeprefix("0x")
        try:
            validators_hash = bytes.fromhex(digest)
        except ValueError:
            raise ValueError(f"its hash {digest!r} is not hex") from None
        if len(validators_hash) != 32:
            raise ValueError(f"its hash must be 32 bytes, got {len(validators_hash)}")
        return Checkpoint(int(height), int(time_ms), validators_hash)


@dataclass(frozen=True)
class Trust:
    """Where a verifier's walk starts and how old that is: the genesis's set (its time
    `genesis_time_ms`), or `checkpoint`; `now_ms` is the verifier's clock, read by its
    caller (the CLI, the page), never here."""

    now_ms: int
    genesis_time_ms: int
    checkpoint: Checkpoint | None = None

    @property
    def time_ms(self) -> int:
        return self.genesis_time_ms if self.checkpoint is None else self.checkpoint.time_ms


def check_trusting_period(trust: Trust) -> None:
    """Raise TrustExpired if the point the walk starts from is older than
    TRUSTING_PERIOD_MS on the verifier's clock (CometBFT's trusting period)."""
    if trust.now_ms - trust.time_ms > TRUSTING_PERIOD_MS:
        raise TrustExpired(trust.time_ms, trust.now_ms)


@dataclass(frozen=True)
class ValidatorHistory:
    """The sets that signed the chain as a walk from a given set found them: (first
    height, set), from where the walk started (height 1, or a checkpoint's) on."""

    sets: tuple[tuple[int, ValidatorPowers], ...]

    def get_set_at(self, height: int) -> ValidatorPowers:
        """The set that signs block `height` (the first one for heights before any change)."""
        found = self.sets[0][1]
        for first, validators in self.sets:
            if first > height:
                break
            found = validators
        return found

    @property
    def latest(self) -> ValidatorPowers:
        return self.sets[-1][1]

    @property
    def changed_at(self) -> tuple[int, ...]:
        """The blocks each of whose header named a new next set."""
        return tuple(first - 1 for first, _ in self.sets[1:])


def follow_set_changes(
    changes: Iterable[SetChange],
    chain: str,
    validators: ValidatorPowers,
    checkpoint: Checkpoint | None = None,
) -> ValidatorHistory:
    """The sets that sign `chain` (`get_consensus_chain_id`'s name) after `changes`, walked
    from `validators` (the genesis's) or, given a `checkpoint`, from the set it names (the
    history then starts at its height); SetChangeError for the first change the walk
    cannot take."""
    sets = [(1, validators)]
    pending = list(changes)
    if checkpoint is not None:
        # the changes in force before the checkpoint are only read, to find its set
        while pending and pending[0].header.height < checkpoint.height:
            change = pending.pop(0)
            if change.header.height < sets[-1][0]:
                raise SetChangesOutOfOrder(change.header.height, sets[-1][0])
            sets.append((change.header.height + 1, change.validators))
        held = sets[-1][1]
        if held.hash != checkpoint.validators_hash:
            raise CheckpointMismatch(checkpoint.height, held.hash, checkpoint.validators_hash)
        sets = [(checkpoint.height, held)]
    for change in pending:
        first, held = sets[-1]
        check_set_change(change, chain, first, held)
        sets.append((change.header.height + 1, change.validators))
    return ValidatorHistory(tuple(sets))


def check_set_change(change: SetChange, chain: str, first: int, held: ValidatorPowers) -> None:
    """Raise SetChangeError unless `change` is a block of `chain` at or after `first`, its
    header signed by `held` (a quorum's precommits) and naming `change.validators` next."""
    header, commit = change.header, change.commit
    if header.chain_id != chain:
        raise SetChangeError(header.height, f"its header is of chain {header.chain_id!r}, "
                                            f"not {chain!r}")  # fmt: skip
    if header.height < first:
        raise SetChangesOutOfOrder(header.height, first)
    if commit.height != header.height or commit.block_hash != header.hash:
        raise SetChangeError(header.height, f"its certificate commits block "
                             f"0x{commit.block_hash.hex()} at height {commit.height}, not its "
                             f"header 0x{header.hash.hex()}")  # fmt: skip
    if header.validators_hash != held.hash:
        raise NotSignedByHeldSet(header.height, header.validators_hash, held.hash)
    if header.next_validators_hash != change.validators.hash:
        raise NotTheNextSet(header.height, header.next_validators_hash, change.validators.hash)
    if change.validators.hash == held.hash:
        raise NotASetChange(header.height)
    try:
        commit.verify(chain, held)
    except InvalidCommit as exc:
        raise ChangeNotCommitted(header.height, exc) from None


@dataclass(frozen=True)
class StateAnchor:
    header: AnchorHeader  # block H+1, whose prev_state_root is the root after H
    commit: AnchorCommit  # H+1's precommits
    set_changes: tuple[SetChange, ...] = ()
    """Every change of the set since genesis up to the one that signed the report."""
    engine: str = OUR_ENGINE
    """Whose chain: its headers and commits are that engine's (`ENGINE_RECORDS`)."""

    def to_wire(self) -> list[Any]:
        changes = [c.to_wire() for c in self.set_changes]
        return [ANCHOR_VERSION, self.engine, self.header.to_wire(), self.commit.to_wire(),
                changes]  # fmt: skip

    @staticmethod
    def from_wire(obj: Any) -> StateAnchor:
        items = expect_list(obj, "anchor")
        if not items or type(items[0]) is not int or items[0] != ANCHOR_VERSION:
            raise AnchorVersionError(items[0] if items else None)
        _, engine, header, commit, changes = expect_list(items, "anchor", 5)
        records = get_engine_records(engine)
        return StateAnchor(
            records.header(header),
            records.commit(commit),
            tuple(SetChange.from_wire(c, records) for c in expect_list(
                changes, "anchor.set_changes", max_len=MAX_SET_CHANGES)),
            engine,
        )  # fmt: skip


def check_anchor(
    anchor: StateAnchor, chain: str, height: int, state_root: bytes, validators: ValidatorPowers
) -> None:
    """Raise AnchorError unless `anchor` proves `state_root` is the state root of `chain`
    (`get_consensus_chain_id`'s name: the genesis's chain id and hash) after block
    `height`, committed by a quorum of `validators`, the set that signs `height + 1`
    (`follow_set_changes` finds it; ValidatorSetChanged when the header is signed by
    another set)."""
    header, commit = anchor.header, anchor.commit
    if header.chain_id != chain:
        raise WrongAnchorChain(chain, header.chain_id)
    if header.height != height + 1:
        raise WrongAnchorHeight(height + 1, header.height)
    if header.prev_state_root != state_root:
        raise WrongRoot(state_root, header.prev_state_root)
    if commit.height != header.height or commit.block_hash != header.hash:
        raise NotTheHeaderCommitted(header, commit)
    if header.validators_hash != validators.hash:
        raise ValidatorSetChanged(header.height, header.validators_hash, validators.hash)
    try:
        commit.verify(chain, validators)
    except InvalidCommit as exc:
        raise NotCommitted(exc) from None
