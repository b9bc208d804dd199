"""A deterministic in-process ledger with the devnet's public test keys
(clearnode/client/sandbox_keys.py): for the devnet's ledger demo, tests and benchmarks.
Builds signed transactions the way validators, venues and members would, and applies
blocks with a steadily advancing clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import Attestation, sign_attestation
from clearing.collateral import (
    CREDIT_DOMAIN,
    CollateralCredit,
    CollateralObservation,
    get_chain_event_due_ms,
)
from clearing.context import Equivocation
from clearing.eip712 import sign_typed
from clearing.genesis import Genesis, parse_genesis
from clearing.oracle import PriceUpdate, sign_price_observation
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState, initialize_state
from clearing.transition.block import BlockContext, BlockResult, process_block
from clearing.transition.transfer import Transfer
from clearing.transition.tx import encode_tx
from clearing.transition.withdrawal import (
    PAID_DOMAIN,
    PayoutObservation,
    Withdrawal,
    WithdrawalPaid,
)
from clearing.tx_kind import TxRecord
from clearing.venues import AuthoriseVenue
from clearing.withdrawal_expiry import EXPIRED_DOMAIN, ExpiryObservation, WithdrawalExpired
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key

R = TypeVar("R", bound=SignedRequest)
VAULT = bytes.fromhex("00000000000000000000000000000000000000f0")


@dataclass
class Sandbox:
    genesis: Genesis
    state: ClearingState
    validator_keys: list[Ed25519PrivateKey]
    block_interval_ms: int = 1000
    next_log_index: int = 0
    next_nonce: dict[bytes, int] = field(default_factory=dict)
    deposit_nonces: dict[int, int] = field(default_factory=dict)  # last per chain (one vault)
    clock_ms: Callable[[], int] | None = None
    """The time requests are signed at: None, this sandbox's own chain (its next block's
    time); the wall clock for requests sent to running nodes, whose blocks take theirs
    from it."""

    @classmethod
    def from_genesis_doc(
        cls, doc: dict[str, Any], clock_ms: Callable[[], int] | None = None
    ) -> Sandbox:
        genesis = parse_genesis(doc)
        keys = [derive_ed25519_key(v.name) for v in genesis.validators]
        return cls(genesis, initialize_state(genesis), keys, clock_ms=clock_ms)

    @property
    def chain_id(self) -> int:
        return self.genesis.chain_id

    def next_context(self, evidence: tuple[Equivocation, ...] = ()) -> BlockContext:
        s = self.state
        return BlockContext(
            s.height + 1, s.time_ms + self.block_interval_ms, self.chain_id, evidence
        )

    def apply(
        self,
        txs: Sequence[TxRecord | bytes],
        evidence: tuple[Equivocation, ...] = (),
        time_ms: int | None = None,
    ) -> BlockResult:
        """A block of ``txs``, committing ``evidence`` (equivocations consensus verified),
        dated ``time_ms`` (default the interval after the last block)."""
        raw = [tx if isinstance(tx, bytes) else encode_tx(tx) for tx in txs]
        ctx = self.next_context(evidence)
        if time_ms is not None:
            ctx = replace(ctx, time_ms=time_ms)
        return process_block(self.state, ctx, raw)

    def get_due_time(self, observed: Sequence[CollateralCredit | WithdrawalPaid]) -> int:
        """The next block's time, or the latest chain block's of what ``observed`` saw
        (deposits, payouts) if later: what a proposer waits for to take them in (an anvil
        chain's blocks keep the wall clock's time, this sandbox's go a second apart from its
        genesis)."""
        chain_ms = [get_chain_event_due_ms(tx.observation.block_time_s) for tx in observed]
        return max([self.next_context().time_ms, *chain_ms])

    def get_times(self) -> tuple[int, int]:
        """The times of the requests this sandbox signs, ``(issued_at_ms, expires_ms)``:
        issued at its next block's time (or the clock's), living half the longest
        lifetime, room for blocks to come."""
        now = self.next_context().time_ms if self.clock_ms is None else self.clock_ms()
        return now, now + self.genesis.max_request_lifetime_ms // 2

    def take_nonce(self, member: bytes) -> int:
        nonce = self.next_nonce.get(member, 0)
        self.next_nonce[member] = nonce + 1
        return nonce

    def signing_keys(self, signers: int | None) -> list[Ed25519PrivateKey]:
        """The first ``signers`` validator keys (default all)."""
        return self.validator_keys[: len(self.validator_keys) if signers is None else signers]

    def attest(self, domain: str, body: list[Any], signers: int | None) -> tuple[Attestation, ...]:
        return tuple(
            sign_attestation(k, domain, self.chain_id, body) for k in self.signing_keys(signers)
        )

    def credit(
        self,
        member: bytes,
        token: tuple[int, bytes],
        quanta: int,
        sub_account: int = 0,
        signers: int | None = None,
        deposit_time_s: int | None = None,
    ) -> CollateralCredit:
        """A deposit attested by the first ``signers`` validators (default all), in a chain
        block of time ``deposit_time_s`` (default the last block's: due in the next)."""
        self.next_log_index += 1
        tx_hash = hashlib.sha256(b"deposit" + self.next_log_index.to_bytes(8, "big")).digest()
        nonce = self.deposit_nonces[token[0]] = self.deposit_nonces.get(token[0], 0) + 1
        if deposit_time_s is None:
            deposit_time_s = self.state.time_ms // 1000
        obs = CollateralObservation(
            token[0], VAULT, tx_hash, self.next_log_index, nonce, member, sub_account, token[1],
            quanta, deposit_time_s,
        )  # fmt: skip
        return CollateralCredit(obs, self.attest(CREDIT_DOMAIN, obs.to_fields(), signers))

    def prices(
        self,
        index: dict[str, int],
        marks: dict[str, int],
        observed_ms: int | None = None,
        signers: int | None = None,
    ) -> PriceUpdate:
        """Every (or the first ``signers``) validator observing the same prices."""
        when = self.next_context().time_ms if observed_ms is None else observed_ms
        keys = self.signing_keys(signers)
        return PriceUpdate(
            tuple(sign_price_observation(k, self.chain_id, when, index, marks) for k in keys)
        )

    def authorise(
        self, member: MemberKey, venue_id: str, authorised: bool = True
    ) -> AuthoriseVenue:
        unsigned = AuthoriseVenue(
            member.address, venue_id, authorised, *self.get_times(),
            self.take_nonce(member.address), b"",
        )  # fmt: skip
        return self.sign(member, unsigned)

    def transfer(
        self,
        member: MemberKey,
        from_sub: int,
        to_sub: int,
        amount: int,
        token: tuple[int, bytes] = (0, bytes(20)),
    ) -> Transfer:
        nonce = self.take_nonce(member.address)
        unsigned = Transfer(
            member.address, from_sub, to_sub, token[0], token[1], amount, *self.get_times(),
            nonce, b"",
        )  # fmt: skip
        return self.sign(member, unsigned)

    def withdraw(
        self,
        member: MemberKey,
        token: tuple[int, bytes],
        quanta: int,
        sub_account: int = 0,
        recipient: bytes | None = None,
    ) -> Withdrawal:
        nonce = self.take_nonce(member.address)
        to = member.address if recipient is None else recipient
        unsigned = Withdrawal(
            member.address, sub_account, token[0], token[1], quanta, to, *self.get_times(),
            nonce, b"",
        )  # fmt: skip
        return self.sign(member, unsigned)

    def sign(self, member: MemberKey, unsigned: R) -> R:
        """``unsigned`` with ``member``'s EIP-712 signature for this chain."""
        return unsigned.with_signature(
            sign_typed(member.private_key, unsigned.signable(self.chain_id))
        )

    def paid(
        self,
        member: bytes,
        nonce: int,
        chain_id: int,
        signers: int | None = None,
        payout_time_s: int | None = None,
    ) -> WithdrawalPaid:
        """The vault's payout of ``(member, nonce)``, attested by the validators, in a chain
        block of time ``payout_time_s`` (default the last block's: due in the next)."""
        self.next_log_index += 1
        tx_hash = hashlib.sha256(b"payout" + self.next_log_index.to_bytes(8, "big")).digest()
        if payout_time_s is None:
            payout_time_s = self.state.time_ms // 1000
        obs = PayoutObservation(
            chain_id, VAULT, tx_hash, self.next_log_index, member, nonce, payout_time_s
        )
        return WithdrawalPaid(obs, self.attest(PAID_DOMAIN, obs.to_fields(), signers))

    def expired(
        self,
        member: bytes,
        nonce: int,
        chain_id: int,
        block_time_s: int,
        block_number: int = 1,
        signers: int | None = None,
    ) -> WithdrawalExpired:
        """The vault's word that ``(member, nonce)`` was unused at a block of
        ``block_time_s``, attested by the validators."""
        obs = ExpiryObservation(chain_id, VAULT, member, nonce, block_number, block_time_s)
        return WithdrawalExpired(obs, self.attest(EXPIRED_DOMAIN, obs.to_fields(), signers))
