"""Re-observation: a validator that missed a deposit its peers attest catches up.

Asking. A deposit in this node's ObservationPool that stays below quorum and
unsigned by this validator for `[bridge] reobserve_after_ms` may have been missed
(the watcher is behind, the RPC dropped a log). The validator then looks it up on
its own chain, if it watches that chain (chains.py:handle_reobserve_request in a worker
thread, under a timeout), signs and gossips it if it is final and canonical there,
and asks peers the same with a `ReobserveRequest` per pooled (chain id, tx hash,
log index), the `MAX_LOGS_PER_KEY` most attested. The n-th ask of a deposit comes
`after * (2**n - 1)` after it was first seen stuck (backoff), at most `MAX_ASKS`
times; asks leave at most `ASK_RATE_PER_S` (burst `ASK_BURST`), below what peers
answer per origin, so an honest validator is never scored down for asking.

Answering. Requests are signed by the asking validator and budgeted per signer
at the first hop (admission.py), so only validators' requests, at a bounded rate,
reach here. A request for a deposit this validator has not signed, on a chain it
watches, is looked up the same way. Anything else is a typed `ReobserveRefused`,
logged, and changes nothing: unwatched chain, already signed, absent, not final,
orphaned or reverted, RPC down or too slow. One deposit is looked up at most once
per `after` however many validators ask. Requests beyond `ANSWER_RATE_PER_S` (burst
`ANSWER_BURST`) from one origin are dropped and score that peer down like any
invalid gossip (p2p `Offence.INVALID`, banned at the floor).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import trio

from bridge.observation import CreditKey, ObservationPool, ReobserveRequest, SignedObservation
from clearing.attestation import is_quorum

log = logging.getLogger(__name__)
MAX_ASKS = 6
ASK_RATE_PER_S, ASK_BURST = 2.0, 16
ANSWER_RATE_PER_S, ANSWER_BURST = 8.0, 32
ANSWER_QUEUE = 64
MAX_ORIGINS = 1024  # answer budgets kept; idle (full) ones are forgotten beyond this
LOOKUP_THREADS = 2
MAX_TICK_S = 1.0
MAX_LOGS_PER_KEY = 3  # contents of one key: at most one per validator (the pool keeps the first)
LogKey = tuple[int, bytes, int]  # (chain id, tx hash, log index)


class ReobserveRefused(Exception):
    """A re-observation that changes nothing: which deposit, and why."""

    def __init__(self, request: ReobserveRequest, reason: str) -> None:
        super().__init__(
            f"re-observation of chain {request.chain_id} tx 0x{request.tx_hash.hex()}"
            f" log {request.log_index} refused: {reason}"
        )
        self.request, self.reason = request, reason


class UnwatchedChain(ReobserveRefused):
    """This validator watches no vault on the request's chain."""


class AlreadySigned(ReobserveRefused):
    """This validator's attestation of the deposit is already pooled (and re-gossiped)."""


class NotFinal(ReobserveRefused):
    """The chain shows no final, canonical, successful vault deposit there."""


class AlreadyCredited(ReobserveRefused):
    """The ledger has credited the deposit in the meantime."""


class TooSoon(ReobserveRefused):
    """The same log was looked up less than `after` ago (by this validator's own ask
    or another peer's request)."""


class LookupFailed(ReobserveRefused):
    """The chain could not be read (RPC down, wrong chain, slower than the timeout)."""


def get_log_key(request: ReobserveRequest) -> LogKey:
    return request.chain_id, request.tx_hash, request.log_index


@dataclass
class TokenBucket:
    """`burst` tokens, refilled at `rate_per_s`; a take without a token is refused."""

    rate_per_s: float
    burst: int
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, count: int = 1) -> bool:
        self.refill(now)
        if self.tokens < count:
            return False
        self.tokens -= count
        return True

    def refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.updated = float(self.burst), now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now

    def is_full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst


@dataclass
class AskSchedule:
    """When each stuck deposit is asked about: `after_s * (2**n - 1)` after it was first
    seen stuck for the n-th ask, n <= `max_asks`, the least asked first when the budget
    is short; a key no longer stuck is forgotten."""

    after_s: float
    max_asks: int = MAX_ASKS
    first_seen: dict[CreditKey, float] = field(default_factory=dict)
    asks: dict[CreditKey, int] = field(default_factory=dict)

    def get_due(self, stuck: Iterable[CreditKey], now: float) -> list[CreditKey]:
        stuck = set(stuck)
        for key in [k for k in self.first_seen if k not in stuck]:
            del self.first_seen[key]
            self.asks.pop(key, None)
        due = []
        for key in sorted(stuck):
            first = self.first_seen.setdefault(key, now)
            done = self.asks.get(key, 0)
            if done < self.max_asks and now >= first + self.after_s * (2 ** (done + 1) - 1):
                due.append(key)
        return sorted(due, key=lambda k: self.asks.get(k, 0))  # the least asked first

    def record_ask(self, key: CreditKey) -> None:
        self.asks[key] = self.asks.get(key, 0) + 1


class Lookup(Protocol):
    """One watched chain's look-up of a requested deposit (chains.ChainLookup): blocking,
    so run in a worker thread under `timeout_s`; the deposit signed if final there, else
    a ReobserveRefused."""

    timeout_s: float

    def reobserve(self, request: ReobserveRequest) -> SignedObservation: ...

    def close(self) -> None: ...


class ReobserveNode(Protocol):
    """What re-observation does through the node (bridge_node.BridgeNode is the one it runs
    with): gossip a request, send this validator's attestation of a deposit, ask whether
    the ledger credited one, score a flooding peer down."""

    async def send_request(self, request: ReobserveRequest) -> None: ...

    async def send_deposit(self, signed: SignedObservation) -> None: ...

    def is_credited(self, key: CreditKey) -> bool: ...

    def penalize(self, peer: str) -> None: ...


@dataclass
class Reobserver:
    """A validator's asking and answering; the node feeds it requests and ticks."""

    pool: ObservationPool
    signer: bytes  # this validator's Ed25519 public key
    lookups: Mapping[int, Lookup]  # by chain id: the chains this validator watches
    after_s: float
    node: ReobserveNode
    schedule: AskSchedule = field(init=False)
    ask_budget: TokenBucket = field(default_factory=lambda: TokenBucket(ASK_RATE_PER_S, ASK_BURST))
    answer_budgets: dict[str, TokenBucket] = field(default_factory=dict)
    recent: OrderedDict[LogKey, float] = field(default_factory=OrderedDict)
    counters: dict[str, int] = field(default_factory=dict)
    limiter: trio.CapacityLimiter = field(
        default_factory=lambda: trio.CapacityLimiter(LOOKUP_THREADS)
    )

    def __post_init__(self) -> None:
        self.schedule = AskSchedule(self.after_s)
        self.queue_in, self.queue_out = trio.open_memory_channel[ReobserveRequest](ANSWER_QUEUE)

    def close(self) -> None:
        for lookup in self.lookups.values():
            lookup.close()

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # -- asking --------------------------------------------------------------

    def get_stuck_keys(self) -> list[CreditKey]:
        """Pooled keys below quorum on every content and unsigned by this validator."""
        total = self.pool.total_power
        return [
            key
            for key in self.pool.get_keys_unsigned_by(self.signer)
            if not any(
                is_quorum(sum(self.pool.validators[s].power for s in signers), total)
                for signers in self.pool.entries[key].values()
            )
        ]

    def get_requests(self, key: CreditKey) -> list[ReobserveRequest]:
        """One request per distinct log the pooled contents of `key` name, the most
        attested first, at most MAX_LOGS_PER_KEY."""
        contents = self.pool.entries.get(key, {})

        def get_power(log_key: LogKey) -> int:
            return sum(
                self.pool.validators[s].power
                for o, signers in contents.items()
                if (o.chain_id, o.tx_hash, o.log_index) == log_key
                for s in signers
            )

        logs = sorted({(o.chain_id, o.tx_hash, o.log_index) for o in contents})
        logs.sort(key=get_power, reverse=True)
        return [ReobserveRequest(*log_key) for log_key in logs[:MAX_LOGS_PER_KEY]]

    async def ask_due(self) -> None:
        """Re-observe every stuck deposit whose ask is due, within the ask budget."""
        now = trio.current_time()
        for key in self.schedule.get_due(self.get_stuck_keys(), now):
            requests = self.get_requests(key)
            if not self.ask_budget.take(now, len(requests)):
                return  # still due: asked at a later tick
            self.schedule.record_ask(key)
            for request in requests:
                if request.chain_id in self.lookups:
                    await self.reobserve_logged(request)
                await self.node.send_request(request)
                self.count("asked")

    async def ask_forever(self) -> None:
        tick = min(MAX_TICK_S, self.after_s / 4)
        while True:
            await trio.sleep(tick)
            await self.ask_due()

    # -- answering -------------------------------------------------------------

    def receive(self, sender: str, request: ReobserveRequest) -> None:
        """Queue a peer's request (already checked at the first hop); an origin over
        its answer rate is dropped and scored down, a full queue drops the request."""
        now = trio.current_time()
        if sender not in self.answer_budgets and len(self.answer_budgets) >= MAX_ORIGINS:
            for origin in [o for o, b in self.answer_budgets.items() if b.is_full(now)]:
                del self.answer_budgets[origin]
        budget = self.answer_budgets.setdefault(
            sender, TokenBucket(ANSWER_RATE_PER_S, ANSWER_BURST)
        )
        if not budget.take(now):
            log.info("re-observation requests from %s over %s/s: penalised", sender,
                     ANSWER_RATE_PER_S)  # fmt: skip
            self.count("flooded")
            self.node.penalize(sender)
            return
        try:
            self.queue_in.send_nowait(request)
        except trio.WouldBlock:
            self.count("dropped")

    async def answer_forever(self) -> None:
        async for request in self.queue_out:
            await self.reobserve_logged(request)

    # -- both --------------------------------------------------------------------

    async def reobserve_logged(self, request: ReobserveRequest) -> SignedObservation | None:
        try:
            signed = await self.reobserve(request)
        except ReobserveRefused as exc:
            log.info("%s: %s", type(exc).__name__, exc)
            self.count(type(exc).__name__)
            return None
        self.count("signed")
        seen = signed.observation
        log.info("re-observed deposit nonce %d of vault 0x%s on chain %d",
                 seen.deposit_nonce, seen.vault.hex(), seen.chain_id)  # fmt: skip
        return signed

    async def reobserve(self, request: ReobserveRequest) -> SignedObservation:
        """Look the deposit up on this validator's chain and gossip its attestation;
        raises a ReobserveRefused (and changes nothing) otherwise."""
        lookup = self.lookups.get(request.chain_id)
        if lookup is None:
            raise UnwatchedChain(request, f"this validator watches no vault on {request.chain_id}")
        if self.is_signed(request):
            raise AlreadySigned(request, "this validator's attestation is pooled")
        now = trio.current_time()
        self.forget_old(now)
        if get_log_key(request) in self.recent:
            raise TooSoon(request, f"looked up less than {self.after_s:.1f} s ago")
        self.recent[get_log_key(request)] = now
        signed = await self.look_up(lookup, request)
        if self.node.is_credited(signed.observation.key):
            raise AlreadyCredited(request, f"deposit {signed.observation.key} is credited")
        await self.node.send_deposit(signed)
        return signed

    async def look_up(self, lookup: Lookup, request: ReobserveRequest) -> SignedObservation:
        try:
            with trio.fail_after(lookup.timeout_s):
                return await trio.to_thread.run_sync(
                    lookup.reobserve, request, abandon_on_cancel=True, limiter=self.limiter
                )
        except trio.TooSlowError:
            raise LookupFailed(request, f"no answer within {lookup.timeout_s:.0f} s") from None
        except ReobserveRefused:
            raise
        except Exception as exc:  # a malformed receipt or a library error must not stop the node
            log.exception("re-observation of %s failed", get_log_key(request))
            raise LookupFailed(request, f"{type(exc).__name__}: {exc}") from None

    def is_signed(self, request: ReobserveRequest) -> bool:
        """This validator's attestation of that log is in the pool."""
        return any(
            (o.chain_id, o.tx_hash, o.log_index) == get_log_key(request) and self.signer in signers
            for contents in self.pool.entries.values()
            for o, signers in contents.items()
        )

    def forget_old(self, now: float) -> None:
        while self.recent and next(iter(self.recent.values())) <= now - self.after_s:
            self.recent.popitem(last=False)
