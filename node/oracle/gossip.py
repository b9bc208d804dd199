"""The `prices` gossip topic: one validator's signed observation per message.

Wire format (msgpack): ``[GOSSIP_VERSION, chain_id, PriceObservation fields]``,
at most `MAX_OBSERVATION_BYTES`. Every node checks a message at the first hop,
before relaying it, against its genesis and its committed state, as clearing
checks a price update (clearing/oracle.py): the chain id, feeds of the
configuration in force, the signature (bound to the chain id), a signer with
voting power in the validator set in force, an observation time not older than
`REPLAY_AGE_FACTOR` x the genesis `max_age_ms` (nor more than `max_age_ms` ahead)
by the node's clock, and marks only of instruments in force in the state: listed
at genesis or by governance or a listing template, trading, halted, settled or
expired. A message outside the time window, marking an instrument this node's
state does not know yet, or signed by a key without power in this node's set, is
dropped without a penalty (`IGNORES`); anything else raises a typed error, and the
p2p layer drops the message and scores its forwarder down.

Why a wider window than a block's: a loaded network delivers honest messages
late, and such a late observation is relayed and the pool's freshness rule leaves
it out of blocks. Older than that it is a replay: refused, not relayed, but not
held against the forwarder, since honest peers replay their gossip caches to a
node that restarts. An instrument this node does not know may have been listed
in a block its signer (and its forwarder) committed and this node has not yet:
dropped until this node catches up, it proves nothing against anyone either; so
does a signer governance added (or removed, or a jailing) in a block one side has
committed and the other not yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clearing.errors import ClearingError, StaleObservation, UnknownInstrument
from clearing.genesis import Genesis
from clearing.oracle import (
    PriceObservation,
    check_observation_feeds,
    check_observation_instruments,
    check_observation_signed,
)
from clearing.state import ClearingState
from clearing.validator_set import has_power
from node.p2p import Topic
from node.p2p.errors import WrongChain
from node.p2p.topics import PRICES
from records.codec import DecodeError, expect_int, expect_list, pack, unpack

GOSSIP_VERSION = 1
MAX_OBSERVATION_BYTES = 16 * 1024
WHAT = "ObservationMessage"
REPLAY_AGE_FACTOR = 3


class SignerWithoutPower(ValueError):
    """A validly signed observation by a key without voting power in this node's set in
    force: not a validator here (not yet, or no longer) or jailed."""

    def __init__(self, signer: bytes, height: int) -> None:
        super().__init__(f"observation by 0x{signer.hex()}, without voting power in the "
                         f"validator set in force at height {height}")  # fmt: skip
        self.signer = signer
        self.height = height


REJECTS = (ClearingError, DecodeError, WrongChain)
"""Every error `ObservationCheck.decode` raises for a bad message, besides `IGNORES`."""
IGNORES = (StaleObservation, UnknownInstrument, SignerWithoutPower)
"""What proves nothing against the forwarder: a validly signed observation outside the
time window was made by a validator, and honest peers re-deliver old ones (a
restarted node's peers replay their gossip caches) or relay late ones; one marking an
instrument unknown here comes from a validator whose state is ahead of this node's (a
listing executed in a block this node has not committed yet); one by a key without
power here comes from a validator added, removed or jailed in a block the forwarder
and this node have not both committed yet. It is dropped, not relayed, and nobody is
scored down."""


def encode_observation(chain_id: int, observation: PriceObservation) -> bytes:
    return pack([GOSSIP_VERSION, chain_id, observation.to_fields()])


@dataclass(frozen=True)
class ObservationCheck:
    """What a node knows to check a gossiped observation: its genesis, its committed state
    (the validators, instruments and feeds in force) and its clock."""

    chain_id: int
    max_age_ms: int
    state: Callable[[], ClearingState]
    clock_ms: Callable[[], int]

    @classmethod
    def from_genesis(
        cls, genesis: Genesis, state: Callable[[], ClearingState], clock_ms: Callable[[], int]
    ) -> ObservationCheck:
        return cls(
            genesis.chain_id,
            genesis.oracle.max_age_ms,
            state,
            clock_ms,
        )

    def decode(self, data: bytes) -> PriceObservation:
        """The observation in `data`, fully checked; raises one of `REJECTS`."""
        if len(data) > MAX_OBSERVATION_BYTES:
            raise DecodeError(WHAT, f"{len(data)} bytes exceed {MAX_OBSERVATION_BYTES}")
        version, chain_id, fields = expect_list(unpack(data, WHAT), WHAT, 3)
        if expect_int(version, f"{WHAT}.version") != GOSSIP_VERSION:
            raise DecodeError(WHAT, f"version {version}, expected {GOSSIP_VERSION}")
        if expect_int(chain_id, f"{WHAT}.chain_id") != self.chain_id:
            raise WrongChain("observation", self.chain_id, chain_id)
        observation = PriceObservation.from_fields(fields)
        self.check(observation)
        return observation

    def check(self, o: PriceObservation) -> None:
        """Feeds, signature, signer, age and instruments of an observation (see the module
        docstring): what is ignored rather than refused is checked once the signature is."""
        state = self.state()
        check_observation_feeds(state, o)
        check_observation_signed(self.chain_id, o)
        if not has_power(state.validators.get(o.signer)):
            raise SignerWithoutPower(o.signer, state.height)
        now = self.clock_ms()
        limit = REPLAY_AGE_FACTOR * self.max_age_ms if o.observed_ms < now else self.max_age_ms
        if abs(now - o.observed_ms) > limit:
            raise StaleObservation(o.signer, o.observed_ms, now, limit)
        check_observation_instruments(state, o)

    def topic(self) -> Topic:
        return Topic(
            PRICES, MAX_OBSERVATION_BYTES, self.decode, REJECTS, ignores=IGNORES, inbox=256
        )
