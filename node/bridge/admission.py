"""First-hop admission of re-observation requests on the bridge topic.

A `SignedReobserveRequest` that decoded (a valid, chain-bound signature of a
validator of the set in force: gossip.py) is relayed only if it is
- fresh: `sent_ms` within `MAX_REQUEST_AGE_MS` of this node's wall clock, either way;
- new: the same signed request (signer, request, `sent_ms`) was not admitted before;
  a copy published again under another peer's sequence number is a replay;
- within its signer's budget: a token bucket per validator of the set in force with
  power (read when the request arrives: a validator governance adds gets one, a
  removed or jailed one loses it), `REQUEST_RATE_PER_S`
  (burst `REQUEST_BURST`), charged once per distinct signed request. It lies above
  what an honest validator asks (reobserve.ASK_*) and not above what peers answer
  per origin (reobserve.ANSWER_*), so a flooding validator's requests stop here,
  at the first hop, instead of being relayed to every validator.
Anything else is dropped unrelayed.

Who is penalised. A validator's Ed25519 key is not bound to a libp2p peer id
(genesis lists none), so "the signer is the forwarding peer" cannot be checked.
What the first hop can prove is that the forwarder *published* the message (the
libp2p publisher, `from_id`, signed by the forwarder's own peer key): only then is
an over-budget request its own doing, and only then is it penalised
(`Offence.INVALID`). Replays are never charged, so an outsider re-publishing a
validator's requests cannot spend that validator's budget and get the validator's
own node penalised. Stale and replayed requests are dropped without a penalty:
clocks differ, and an honest relay may forward a replay it happened to see first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import trio

from bridge.observation import ReobserveRequest, SignedReobserveRequest
from clearing.genesis import Validator
from clearing.validator_set import has_power
from node.bridge.reobserve import ASK_BURST, ASK_RATE_PER_S, TokenBucket
from node.clock import wall_clock_ms
from node.p2p import Offence

log = logging.getLogger(__name__)
MAX_REQUEST_AGE_MS = 30_000
REQUEST_RATE_PER_S, REQUEST_BURST = 2 * ASK_RATE_PER_S, 2 * ASK_BURST
SeenKey = tuple[bytes, ReobserveRequest, int]  # signer, request, sent_ms


def get_max_seen(validators: int) -> int:
    """Admitted requests one node can hold fresh: each spent a token of its signer
    within the `2 * MAX_REQUEST_AGE_MS` a `sent_ms` stays acceptable."""
    per_signer = REQUEST_BURST + REQUEST_RATE_PER_S * 2 * MAX_REQUEST_AGE_MS / 1000
    return validators * int(per_signer)


@dataclass
class RequestGate:
    """The bridge topic's `admit`: freshness, replays and a budget per signer."""

    validators: Callable[[], Mapping[bytes, Validator]]  # the set in force, by Ed25519 key
    clock: Callable[[], float] = trio.current_time
    now_ms: Callable[[], int] = wall_clock_ms
    budgets: dict[bytes, TokenBucket] = field(default_factory=dict)  # validators with power
    seen: OrderedDict[SeenKey, int] = field(default_factory=OrderedDict)
    counters: dict[str, int] = field(default_factory=dict)

    def admit(self, forwarder: str, publisher: str, value: object) -> bool | Offence:
        """True relays `value`; False drops it; an Offence drops it and penalises the
        forwarder, which published an over-budget request itself."""
        if not isinstance(value, SignedReobserveRequest):
            return True
        verdict = self.get_verdict(value, forwarder == publisher)
        if isinstance(verdict, Offence):
            log.info("over-budget re-observation requests published by %s: penalised", forwarder)
        return verdict

    def get_verdict(self, signed: SignedReobserveRequest, self_published: bool) -> bool | Offence:
        now_ms = self.now_ms()
        self.forget_stale(now_ms)
        if abs(now_ms - signed.sent_ms) > MAX_REQUEST_AGE_MS:
            return self.refuse("stale", False)
        signer = signed.attestation.signer
        validators = self.validators()
        self.forget_budgets(validators)
        validator = validators.get(signer)
        if not has_power(validator):  # removed or jailed in a block since its check
            return self.refuse("outside_set", False)
        seen_key = (signer, signed.request, signed.sent_ms)
        if seen_key in self.seen:
            return self.refuse("replayed", False)
        budget = self.budgets.setdefault(signer, TokenBucket(REQUEST_RATE_PER_S, REQUEST_BURST))
        if not budget.take(self.clock()):
            return self.refuse("over_budget", Offence.INVALID if self_published else False)
        self.seen[seen_key] = signed.sent_ms
        while len(self.seen) > get_max_seen(len(validators)):
            self.seen.popitem(last=False)
        self.counters["admitted"] = self.counters.get("admitted", 0) + 1
        return True

    def refuse(self, reason: str, verdict: bool | Offence) -> bool | Offence:
        self.counters[reason] = self.counters.get(reason, 0) + 1
        return verdict

    def forget_budgets(self, validators: Mapping[bytes, Validator]) -> None:
        """The budgets of keys the set in force no longer holds with power."""
        for signer in [s for s in self.budgets if not has_power(validators.get(s))]:
            del self.budgets[signer]

    def forget_stale(self, now_ms: int) -> None:
        """Admitted requests a copy of which would now be refused as stale anyway (in
        admission order: a far-future `sent_ms` can hold older ones a little longer)."""
        while self.seen and next(iter(self.seen.values())) < now_ms - MAX_REQUEST_AGE_MS:
            self.seen.popitem(last=False)
