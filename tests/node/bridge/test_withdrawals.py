"""The validators' withdrawal duty against a real vault: each signs the pending
record (epoch read from the chain, the record's expiry), the book
collects a quorum, the relayer pays the served JSON once (a second pass sees it
paid), and the watcher's Withdrawn log becomes a quorum-attested WithdrawalPaid.
A record the vault never paid is attested once a final block is past its expiry."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.devchain import DevnetChain, mine
from bridge.eip712 import get_address, recover_signer
from bridge.observation import SignedObservation
from bridge.payouts import sign_payout
from bridge.relayer import relay_complete
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token
from bridge.withdrawal import WithdrawalSignature, get_relay_json
from clearing.attestation import Attestation, is_valid_signature, verify_quorum_attestations
from clearing.genesis import parse_genesis
from clearing.state import WithdrawalRecord
from clearing.transition.withdrawal import PayoutObservation
from clearing.withdrawal_expiry import ExpiryObservation
from node.bridge.chains import Attester, VaultReader, watch_chain
from node.bridge.gossip import PayoutAttestation
from node.bridge.pools import PayoutPool, WithdrawalBook
from node.bridge.withdrawals import ExpiryAttester, VaultSetGetter, WithdrawalSigner
from node.config import BridgeChainConfig
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CHAIN_ID,
    CONSENSUS_KEYS,
    get_genesis,
    get_genesis_doc,
    make_record,
)

pytestmark = pytest.mark.chain
MEMBER = bytes([5]) * 20
RECIPIENT = bytes([6]) * 20


async def read_vault_set(config: BridgeChainConfig) -> VaultSetGetter:
    """What the rotation duty reads each round: the vault's set at a final block."""
    read = await VaultReader(config).get_final_set()
    assert read is not None
    vault = bytes.fromhex(config.vault_address[2:])
    return lambda chain_id: (vault, read[1]) if chain_id == config.chain_id else None


async def test_signed_relayed_paid_and_attested(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    genesis = parse_genesis(get_genesis_doc(deployed.tokens))
    usdc = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    relayer = account_from_key(DEV_PRIVATE_KEY)
    deposit_token(evm, vault, usdc, 5_000, MEMBER, relayer)
    config = BridgeChainConfig("anvil", CHAIN_ID, deployed.url, "0x" + deployed.vault.hex(), 1)
    expiry = time.time_ns() // 10**9 + 3600
    record = WithdrawalRecord(MEMBER, 0, CHAIN_ID, deployed.tokens["USDC"], 2_000, 2_000,
                              RECIPIENT, 1, 3, expiry)  # fmt: skip

    book = WithdrawalBook(lambda: [(v.evm_address, v.power) for v in genesis.validators])

    async def collect(signed: WithdrawalSignature) -> None:
        book.add(signed)

    for key in BRIDGE_KEYS[:3]:
        signer = WithdrawalSigner(lambda key=key: key, await read_vault_set(config), collect)
        await signer.sign_pending({(MEMBER, 1): record})
        await signer.sign_pending({(MEMBER, 1): record})  # signed once per record
    best = book.get_best((MEMBER, 1))
    assert best is not None
    body = get_relay_json(*best)
    assert body["complete"] and len(body["signatures"]) == 3
    assert body["expiry"] == expiry

    (outcome,) = await trio.to_thread.run_sync(relay_complete, evm, relayer, [body])
    assert outcome.result == "paid", outcome
    assert usdc.functions.balanceOf(to_checksum_address(RECIPIENT)).call() == 2_000
    (again,) = await trio.to_thread.run_sync(relay_complete, evm, relayer, [body])
    assert again.result == "already paid"
    mine(evm, 2)

    payouts: list[tuple[PayoutObservation, Attestation]] = []

    async def on_payout(payout: PayoutObservation, attestation: Attestation) -> None:
        payouts.append((payout, attestation))

    async def on_deposit(_: SignedObservation) -> None:
        pass

    attester = Attester(CONSENSUS_KEYS[0], genesis.chain_id, {t.key: t for t in genesis.collateral},
                        lambda key: False, lambda key: False, on_deposit, on_payout)  # fmt: skip
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_chain, config, tmp_path, attester, {})
        with trio.fail_after(30):
            while not payouts:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    ((observation, _),) = payouts
    assert (observation.member, observation.nonce, observation.vault) == (MEMBER, 1, deployed.vault)

    pool = PayoutPool({v.pubkey: v for v in genesis.validators})
    for key in CONSENSUS_KEYS[:3]:
        pool.add(PayoutAttestation(observation, sign_payout(key, genesis.chain_id, observation)))
    (paid,) = pool.get_ready()
    validators = {v.pubkey: v for v in genesis.validators}
    total = sum(v.power for v in genesis.validators)
    verify_quorum_attestations(
        validators, total, paid.attestations, observation.signing_bytes(genesis.chain_id)
    )


async def test_expired_unpaid_records_are_attested_once_paid_or_live_ones_never(
    chain: tuple[Chain, DevnetChain],
) -> None:
    evm, deployed = chain
    genesis = parse_genesis(get_genesis_doc(deployed.tokens))
    config = BridgeChainConfig("anvil", CHAIN_ID, deployed.url, "0x" + deployed.vault.hex(), 1)
    now = int(evm.w3.eth.get_block("latest")["timestamp"])
    usdc = deployed.tokens["USDC"]

    def record(nonce: int, expiry: int) -> WithdrawalRecord:
        return WithdrawalRecord(MEMBER, 0, CHAIN_ID, usdc, 1, 1, RECIPIENT, nonce, 3, expiry)

    elsewhere = replace(record(1, now), member=bytes(20), chain_id=1)  # a chain not watched
    pending = {(MEMBER, 1): record(1, now + 30), (MEMBER, 2): record(2, now + 3600),
               (MEMBER, 3): record(3, now + 30), (bytes(20), 1): elsewhere}  # fmt: skip
    book = WithdrawalBook(lambda: [(v.evm_address, v.power) for v in genesis.validators])

    async def collect(signed: WithdrawalSignature) -> None:
        book.add(signed)

    for key in BRIDGE_KEYS[:3]:  # nonce 3 is relayed in time
        signer = WithdrawalSigner(lambda key=key: key, await read_vault_set(config), collect)
        await signer.sign_pending({(MEMBER, 3): pending[(MEMBER, 3)]})
    relayer = account_from_key(DEV_PRIVATE_KEY)
    usdc_contract = evm.contract("TestToken", to_checksum_address(usdc))
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    deposit_token(evm, vault, usdc_contract, 5, MEMBER, relayer)
    best = book.get_best((MEMBER, 3))
    assert best is not None
    (paid,) = await trio.to_thread.run_sync(relay_complete, evm, relayer, [get_relay_json(*best)])
    assert paid.result == "paid", paid

    sent: list[tuple[ExpiryObservation, Attestation]] = []

    async def on_expiry(observation: ExpiryObservation, attestation: Attestation) -> None:
        sent.append((observation, attestation))

    attester = ExpiryAttester(CONSENSUS_KEYS[0], genesis.chain_id,
                              {CHAIN_ID: VaultReader(config)}, on_expiry, lambda: True)  # fmt: skip
    await attester.attest_expired(pending)
    assert sent == []  # nothing is past its expiry yet
    evm.request("evm_increaseTime", [60])
    mine(evm, 3)
    await attester.attest_expired(pending)
    await attester.attest_expired(pending)  # attested once per record
    ((observation, attestation),) = sent
    assert (observation.member, observation.nonce, observation.vault) == (MEMBER, 1, deployed.vault)
    assert observation.block_time_s > now + 30
    message = observation.signing_bytes(genesis.chain_id)
    assert is_valid_signature(attestation.signer, attestation.signature, message)


async def test_a_record_is_signed_again_when_the_vault_rotates_and_only_by_its_members() -> None:
    genesis = get_genesis()
    record = make_record(genesis)
    vault = bytes(range(20))
    members = [(get_address(k), 10) for k in BRIDGE_KEYS]
    read = {CHAIN_ID: (vault, EvmValidatorSet.from_members(0, members[:3]))}
    sent: list[WithdrawalSignature] = []

    async def send(signed: WithdrawalSignature) -> None:
        sent.append(signed)

    old, newcomer = (
        WithdrawalSigner(lambda k=k: k, read.get, send) for k in (BRIDGE_KEYS[0], BRIDGE_KEYS[3])
    )
    pending = {(record.member, record.nonce): record}
    for signer in (old, newcomer, old):
        await signer.sign_pending(pending)
    assert [s.authorization.epoch for s in sent] == [0]  # once, and not by the newcomer
    read[CHAIN_ID] = (vault, EvmValidatorSet.from_members(1, members))
    for signer in (old, newcomer, old, newcomer):
        await signer.sign_pending(pending)
    assert [s.authorization.epoch for s in sent] == [0, 1, 1]
    assert {get_address(k) for k in (BRIDGE_KEYS[0], BRIDGE_KEYS[3])} == {
        recover_signer(s.authorization.get_digest(), s.signature) for s in sent[1:]
    }
    await old.sign_pending({})  # cleared: forgotten
    assert old.signed == {}
