"""Runs the devnet: chains, validators, members, venue, oracle, reports.

The validators' clearing state machines run IN THIS PROCESS: one deterministic
proposer (the orchestrator) builds each block, and every validator applies it
to its own state; their state roots must agree. The chains are real (anvil),
deposits and withdrawals really move tokens, deposits and payouts are credited
only with a quorum of validator attestations, withdrawals are paid only with a
quorum of validator EVM signatures. Not used: the libp2p network and the
consensus protocol (the devnet does not drive `clearnode start` processes yet).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bridge.validators import EvmValidatorSet
from clearing.block import BlockResult, process_block
from clearing.sandbox import Sandbox
from clearing.state import ClearingState, initialize_state
from clearing.tx import TxRecord, encode_tx
from node.devnet.chains import DevChain, Validators, deposit, start_chains, stop_chains
from node.devnet.genesis import (
    USDC,
    build_genesis_doc,
    derive_bridge_key,
    get_evm_address,
    get_validator_names,
)
from node.devnet.market import (
    Member,
    PricePath,
    Venue,
    get_deposits,
    get_flow_trades,
    get_opening_trades,
    make_members,
)
from node.devnet.reports import ReportOutcome, build_epoch_report
from node.devnet.summary import Ledger, Summary

WATERFALL = (
    "liquidated",
    "collateral_seized",
    "own_contribution_used",
    "insurance_used",
    "contribution_mutualised",
    "deleveraged",
    "uncovered",
)
MODE = (
    "validators: in-process clearing state machines, one deterministic proposer "
    "(not the libp2p network); chains: real anvil; deposits, payouts, withdrawal "
    "signatures: real, quorum-checked; reports: real proofs, checked by `clearnode verify`"
)


@dataclass(frozen=True)
class DevnetConfig:
    validators: int = 4
    chains: int = 2
    members: int = 6
    duration_s: float = 60.0
    seed: int = 7
    epoch_length_blocks: int = 8
    out_dir: Path | None = None


class Observer(Protocol):
    def update(self, devnet: Devnet) -> None: ...
    def log(self, line: str) -> None: ...


@dataclass
class Devnet:
    """State of one run, read by the dashboard and the summary."""

    config: DevnetConfig
    chains: list[DevChain]
    box: Sandbox
    replicas: list[ClearingState]
    validators: Validators
    members: list[Member]
    out_dir: Path
    genesis_path: Path
    observer: Observer
    prices: PricePath = field(init=False)
    venue: Venue = field(default_factory=Venue)
    events: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    reports: list[ReportOutcome] = field(default_factory=list)
    block_ms: list[float] = field(default_factory=list)
    block_times: dict[int, int] = field(default_factory=dict)
    relayed: set[tuple[bytes, int, int]] = field(default_factory=set)
    ledger: Ledger = field(default_factory=Ledger)
    failures: list[str] = field(default_factory=list)
    waterfall_log: list[str] = field(default_factory=list)
    trade_id: int = 1000

    def __post_init__(self) -> None:
        self.prices = PricePath.start(self.config.seed)
        self.ledger.start(self.box.state)

    @property
    def state(self) -> ClearingState:
        return self.box.state

    def apply(self, txs: Sequence[TxRecord], title: str) -> BlockResult:
        """Every validator applies the proposer's block; roots must agree."""
        context = self.box.next_context()
        raw = [encode_tx(tx) for tx in txs]
        started = time.perf_counter()
        results = [process_block(state, context, raw) for state in self.replicas]
        self.block_ms.append((time.perf_counter() - started) * 1000 / len(self.replicas))
        self.block_times[context.height] = context.time_ms
        roots = {r.state_root for r in results}
        if len(roots) != 1:
            self.failures.append(f"height {context.height}: validators' state roots differ")
        result = results[0]
        self._count(result)
        self.ledger.record(result)
        broken = self.ledger.check(self.state)
        if broken:
            self.failures.append(f"height {context.height}: value not conserved: {broken}")
        self.observer.log(f"block {context.height}: {title}")
        if context.height % self.state.genesis.epoch_length_blocks == 0:
            self._report()
        self.observer.update(self)
        return result

    def _count(self, result: BlockResult) -> None:
        for tx_result in result.tx_results:
            self.codes[tx_result.code] += 1
            for event in tx_result.events:
                self.events[event.kind] += 1
        for event in result.events:
            self.events[event.kind] += 1
            if event.kind in WATERFALL:
                who = next((self._name(v) for k, v in event.data if k == "member"), "?")
                amount = dict(event.data).get("amount", "")
                self.waterfall_log.append(f"h{result.height} {event.kind} {who} {amount!r}")

    def _name(self, value: object) -> str:
        for m in self.members:
            if m.address == value:
                return m.name
        if value == bytes(20):
            return "clearing house"
        return "0x" + value.hex() if isinstance(value, bytes) else str(value)

    def _report(self) -> None:
        self.observer.log(f"building solvency report at height {self.state.height}")
        try:
            outcome = build_epoch_report(
                self.state,
                self.box.validator_keys,
                self.genesis_path,
                self.out_dir,
                self.config.seed,
                self.members[2].address,
            )
        except Exception as exc:  # a report that cannot be built is a broken invariant
            self.failures.append(f"report at height {self.state.height}: {exc!r}")
            return
        self.reports.append(outcome)
        if not (outcome.verified and outcome.member_verified):
            self.failures.append(f"report epoch {outcome.epoch} failed: {outcome.detail}")

    def usdc_key(self, chain_index: int) -> tuple[int, bytes]:
        dev = self.chains[chain_index % len(self.chains)]
        return (dev.chain.chain_id, dev.deployed.tokens[USDC])

    # ---- phases ---------------------------------------------------------

    def price_update(self, crash: bool = False) -> TxRecord:
        index, marks = self.prices.step(crash)
        return self.box.prices(index, marks)

    def credit_chains(self) -> list[TxRecord]:
        """Scan every chain to finality and return the quorum-attested credits and payouts."""
        txs: list[TxRecord] = []
        for dev in self.chains:
            credits, paid = self.validators.scan(dev)
            txs += credits
            txs += paid
        return txs

    def relay_withdrawals(self) -> None:
        for record in list(self.state.pending_withdrawals.values()):
            key = (record.member, record.nonce, record.chain_id)
            if key in self.relayed:
                continue
            dev = next(d for d in self.chains if d.chain.chain_id == record.chain_id)
            self.validators.relay_withdrawal(dev, record, self.block_times[record.height])
            self.relayed.add(key)
            self.observer.log(
                f"relayed withdrawal of {self._name(record.member)} on chain "
                f"{record.chain_id}: {record.amount}"
            )

    def flow_block(self, title: str, extra: Sequence[TxRecord] = ()) -> BlockResult:
        txs: list[TxRecord] = [self.price_update(), *extra]
        trades = get_flow_trades(
            self.members, dict(self.state.mark_prices), self.prices.rng, self.trade_id
        )
        self.trade_id += len(trades)
        txs.append(self.venue.batch(self.box.chain_id, trades))
        return self.apply(txs, title)


def run_devnet(config: DevnetConfig, observer: Observer) -> Summary:
    """Run the scripted phases, then market flow until the duration is spent."""
    started = time.monotonic()
    names = get_validator_names(config.validators)
    bridge_keys = [derive_bridge_key(n) for n in names]
    evm_set = EvmValidatorSet.from_members(0, [(get_evm_address(k), 10) for k in bridge_keys])
    observer.log(f"starting {config.chains} anvil chains")
    chains = start_chains(config.chains, evm_set)
    try:
        out_dir = config.out_dir or Path(tempfile.mkdtemp(prefix="clearnode-devnet-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        members = make_members(config.members)
        backstops = [m.address for m in members if m.role == "market maker"]
        doc = build_genesis_doc(
            config.validators, [c.deployed for c in chains], config.epoch_length_blocks, backstops
        )
        genesis_path = out_dir / "genesis.json"
        genesis_path.write_text(json.dumps(doc, indent=1))
        box = Sandbox.from_genesis_doc(doc)
        replicas = [box.state] + [initialize_state(box.genesis) for _ in names[1:]]
        tokens = {t.key: t for t in box.genesis.collateral}
        validators = Validators(
            box.chain_id, box.genesis.validators, box.validator_keys, bridge_keys, tokens
        )
        net = Devnet(
            config,
            chains,
            box,
            replicas,
            validators,
            members,
            out_dir,
            genesis_path,
            observer,
        )
        _script(net)
        while time.monotonic() - started < config.duration_s and not net.failures:
            net.flow_block("market flow")
        _finish(net)
        return Summary.of(net, time.monotonic() - started, MODE)
    finally:
        stop_chains(chains)


def _script(net: Devnet) -> None:
    for chain_index, symbol, amount, member in get_deposits(net.members, len(net.chains)):
        deposit(net.chains[chain_index], symbol, amount, member.address)
    net.observer.log("members deposited on every chain; validators attest the final logs")
    txs: list[TxRecord] = [*net.credit_chains(), net.price_update()]
    txs += [net.box.authorise(m.key, "alpha") for m in net.members]
    net.apply(txs, "deposits credited (quorum of attestations), venue authorised")
    opening = get_opening_trades(net.members, dict(net.state.mark_prices))
    net.apply([net.venue.batch(net.box.chain_id, opening)], "venue: perps, future, option")
    epoch = net.state.genesis.epoch_length_blocks
    while net.state.height < epoch + 1:  # the epoch boundary sizes the default fund
        net.flow_block("market flow")
    net.apply([net.price_update(crash=True)], "ORACLE: BTC and ETH crash 30%")
    withdrawals = [
        net.box.withdraw(m.key, net.usdc_key(c), 1_000_000_000)
        for c, m in enumerate(net.members[2 : 2 + len(net.chains)])
    ]
    net.flow_block("market makers withdraw to every chain", withdrawals)
    net.relay_withdrawals()


def _finish(net: Devnet) -> None:
    """Credit the payouts relayed so far, then close the books."""
    net.relay_withdrawals()
    net.apply([net.price_update(), *net.credit_chains()], "vault payouts attested")
    if net.state.pending_withdrawals:
        net.failures.append(f"withdrawals still pending: {len(net.state.pending_withdrawals)}")
    for dev in net.chains:
        broken = net.ledger.check_vaults(net.state, dev)
        if broken:
            net.failures.append(broken)
