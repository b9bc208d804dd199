"""Two anvil chains: a member deposits WETH on chain A only, trades, wins, and takes its
profit out as USDC on chain B, paid by the loser's USDC there; afterwards every vault
holds exactly what the ledger says it owes (clearing/collateral.py count_vault_quanta)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.cursor import CursorStore
from bridge.devchain import DevnetChain, deploy_devnet_chain, finalize
from bridge.eip712 import get_address
from bridge.observation import ObservationPool, SignedObservation, sign_new_deposits
from bridge.payouts import sign_new_payouts
from bridge.rotation import get_consensus_members
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token, withdraw
from bridge.watcher import Watcher, WatcherConfig
from bridge.withdrawal import collect_withdrawal_signatures, sign_withdrawal_record
from clearing.collateral import count_vault_quanta
from clearing.genesis import collateral_by_key
from clearing.state import WithdrawalRecord
from clearing.transition.withdrawal import WithdrawalPaid
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from node.chainspec import place_collateral
from tests.clearing.support import genesis_doc
from tests.clearing.test_trade import PERP, VENUE, make_batch, make_trade

pytestmark = pytest.mark.chain
CHAIN_A, CHAIN_B = 31337, 31338
ALICE, BOB = derive_member_key("alice"), derive_member_key("bob")
TOKENS = [("USDC", 6), ("WETH", 18)]


def evm_key(name: str) -> bytes:
    return keccak(text=f"evm-{name}")


def build_genesis(doc: dict[str, Any], chains: list[DevnetChain], time_ms: int) -> Sandbox:
    specs = {e["symbol"]: e for e in doc["collateral"] if e["chain_id"] == CHAIN_A}
    place_collateral(
        doc,
        [
            {**specs[symbol], "chain_id": c.chain_id, "token": "0x" + c.tokens[symbol].hex()}
            for c in chains
            for symbol, _ in TOKENS
        ],
    )
    doc["genesis_time_ms"] = time_ms
    return Sandbox.from_genesis_doc(doc)


class Bridge:
    """One chain's watcher and the validators' signatures over what it saw."""

    def __init__(self, chain: Chain, dev: DevnetChain, box: Sandbox, path: Path) -> None:
        self.chain, self.dev, self.box = chain, dev, box
        self.store = CursorStore(path)
        config = WatcherConfig(chain_id=dev.chain_id, url=dev.url, vault=dev.vault)
        self.watcher = Watcher(config, self.store)
        self.vault = chain.contract("CollateralVault", to_checksum_address(dev.vault))

    async def catch_up(self) -> None:
        finalize(self.chain)
        await self.watcher.connect()
        while await self.watcher.step():
            pass

    async def credit_deposits(self) -> None:
        await self.catch_up()
        pool = ObservationPool(self.box.chain_id, self.box.state.validators)
        tokens = collateral_by_key(self.box.genesis)
        for key in self.box.validator_keys:
            _, signed, _ = sign_new_deposits(self.store, 0, tokens, key, self.box.chain_id)
            for observation in signed:
                pool.add(SignedObservation.decode(observation.encode()))
        credits = pool.get_ready_credits()
        block = self.box.apply(credits, time_ms=self.box.get_due_time(credits))
        assert all(r.is_ok() for r in block.tx_results), block.tx_results

    async def pay(self, record: WithdrawalRecord, evm_set: EvmValidatorSet) -> None:
        names = [v.name for v in self.box.genesis.validators]
        signed = [
            sign_withdrawal_record(record, vault=self.dev.vault, epoch=0,
                                   evm_private_key=evm_key(n))
            for n in names
        ]  # fmt: skip
        auth = signed[0].authorization
        collected = collect_withdrawal_signatures(auth, evm_set, [s.signature for s in signed])
        withdraw(self.chain, auth, collected.get_ordered(), account_from_key(DEV_PRIVATE_KEY))
        await self.catch_up()
        payouts = [sign_new_payouts(self.store, 0, k, self.box.chain_id)[1]
                   for k in self.box.validator_keys]  # fmt: skip
        observation = payouts[0][0][0]
        paid_tx = WithdrawalPaid(observation, tuple(p[0][1] for p in payouts))
        paid = self.box.apply([paid_tx], time_ms=self.box.get_due_time([paid_tx]))
        assert paid.tx_results[0].is_ok(), paid.tx_results[0].detail

    def balance(self, symbol: str, owner: bytes) -> int:
        token = self.chain.contract("TestToken", to_checksum_address(self.dev.tokens[symbol]))
        return int(token.functions.balanceOf(to_checksum_address(owner)).call())


async def test_profit_leaves_on_the_chain_the_winner_never_used(tmp_path: Path) -> None:
    dev = account_from_key(DEV_PRIVATE_KEY)
    with AnvilNode(chain_id=CHAIN_A) as node_a, AnvilNode(chain_id=CHAIN_B) as node_b:
        chains = [connect(node_a.url, CHAIN_A), connect(node_b.url, CHAIN_B)]
        doc = genesis_doc()
        for validator in doc["validators"]:
            validator["evm_address"] = "0x" + get_address(evm_key(validator["name"])).hex()
        evm_set = EvmValidatorSet.from_members(
            0, get_consensus_members(Sandbox.from_genesis_doc(doc).genesis.validators)
        )
        devs = [deploy_devnet_chain(c, evm_set, TOKENS) for c in chains]
        time_ms = chains[0].w3.eth.get_block("latest")["timestamp"] * 1000
        box = build_genesis(doc, devs, time_ms)
        a, b = (
            Bridge(c, d, box, tmp_path / f"{d.chain_id}.sqlite")
            for c, d in zip(chains, devs, strict=True)
        )

        def contract(bridge: Bridge, symbol: str) -> Any:
            address = to_checksum_address(bridge.dev.tokens[symbol])
            return bridge.chain.contract("TestToken", address)

        deposit_token(a.chain, a.vault, contract(a, "WETH"), 10**18, ALICE.address, dev)
        deposit_token(b.chain, b.vault, contract(b, "USDC"), 5_000 * 10**6, BOB.address, dev)
        await a.credit_deposits()
        await b.credit_deposits()
        box.apply([box.authorise(ALICE, VENUE), box.authorise(BOB, VENUE)])

        mark = box.state.mark_prices[PERP]
        traded = box.apply([make_batch(box, [make_trade(1, ALICE, BOB, mark, quantity=10)])])
        assert [e.kind for e in traded.tx_results[0].events] == ["trade_batch"]
        up = mark * 11 // 10
        assert box.apply([box.prices({"BTC/0.001": up}, {PERP: up})]).tx_results[0].is_ok()

        alice = box.state.members[ALICE.address].sub_accounts[0]
        profit = alice.cash
        fee = 10 * mark * 5 // 10_000  # 5 bps of the notional, each side
        assert profit == 10 * (up - mark) - fee
        usdc_b = (CHAIN_B, devs[1].tokens["USDC"])
        bob = box.state.members[BOB.address].sub_accounts[0]
        assert bob.cash == 0 and bob.collateral[usdc_b] == 5_000 * 10**6 - 10 * (up - mark) - fee
        assert box.state.settlement_reserves == {CHAIN_B: 10 * (up - mark) + fee}

        withdrawal = box.withdraw(ALICE, usdc_b, profit, recipient=ALICE.address)
        debit = box.apply([withdrawal])
        assert debit.tx_results[0].is_ok(), debit.tx_results[0].detail
        (record,) = box.state.pending_withdrawals.values()
        assert record.from_cash == profit
        await b.pay(record, evm_set)

        assert b.balance("USDC", ALICE.address) == profit
        for bridge in (a, b):
            for symbol, _ in TOKENS:
                key = (bridge.dev.chain_id, bridge.dev.tokens[symbol])
                quantum = box.state.collateral_tokens[key].quantum
                owed = quantum * count_vault_quanta(box.state).get(key, 0)
                assert bridge.balance(symbol, bridge.dev.vault) == owed, (key, owed)
