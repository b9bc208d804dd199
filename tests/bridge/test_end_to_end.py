"""Anvil deposit -> watcher -> 4 validators' observations -> clearing credits once;
clearing withdrawal debit -> validators' EVM signatures -> vault pays -> payout attested."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.cursor import CursorStore
from bridge.devchain import deploy_devnet_chain, finalize, send_native_deposits
from bridge.eip712 import get_address
from bridge.observation import (
    ObservationPool,
    ReobserveRequest,
    SignedObservation,
    SignedReobserveRequest,
    sign_new_deposits,
    sign_reobserve_request,
)
from bridge.payouts import sign_new_payouts
from bridge.rotation import get_consensus_members
from bridge.validators import EvmValidatorSet
from bridge.vault import (
    deploy_vault,
    deposit_token,
    get_vault_address,
    is_in_sync,
    withdraw,
)
from bridge.watcher import DepositNotFinal, Watcher, WatcherConfig
from bridge.withdrawal import (
    WithdrawalSignature,
    collect_withdrawal_signatures,
    get_relay_json,
    sign_withdrawal_record,
)
from clearing.genesis import collateral_by_key
from clearing.transition.withdrawal import WithdrawalPaid
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from node.bridge.chains import handle_reobserve_request
from node.chainspec import place_collateral
from tests.clearing.support import genesis_doc

pytestmark = pytest.mark.chain
CHAIN_ID = 31337
ALICE = derive_member_key("alice")
RECIPIENT = keccak(text="alice-cold-wallet")[:20]


def evm_key(name: str) -> bytes:
    return keccak(text=f"evm-{name}")


async def test_deposit_credit_withdraw_payout_round_trip(tmp_path: Path) -> None:
    dev = account_from_key(DEV_PRIVATE_KEY)
    with AnvilNode(chain_id=CHAIN_ID) as node:
        chain = connect(node.url, CHAIN_ID)
        doc = genesis_doc()
        for validator in doc["validators"]:
            validator["evm_address"] = "0x" + get_address(evm_key(validator["name"])).hex()
        box = Sandbox.from_genesis_doc(doc)
        consensus = get_consensus_members(box.genesis.validators)
        evm_set = EvmValidatorSet.from_members(0, consensus)
        devnet = deploy_devnet_chain(chain, evm_set, [("USDC", 6)])
        vault = chain.contract("CollateralVault", to_checksum_address(devnet.vault))
        token = chain.contract("TestToken", to_checksum_address(devnet.tokens["USDC"]))
        assert is_in_sync(vault, consensus)
        usdc_entry = {**doc["collateral"][0], "token": "0x" + devnet.tokens["USDC"].hex()}
        place_collateral(doc, [usdc_entry, *doc["collateral"][1:]])  # quantum 1, 31337
        doc["genesis_time_ms"] = chain.w3.eth.get_block("latest")["timestamp"] * 1000
        box = Sandbox.from_genesis_doc(doc)
        usdc = (CHAIN_ID, bytes.fromhex(token.address[2:]))

        deposit_token(chain, vault, token, 1_000_000, ALICE.address, dev, sub_account=0)
        finalize(chain)
        store = CursorStore(tmp_path / "cursor.sqlite")
        config = WatcherConfig(chain_id=CHAIN_ID, url=node.url, vault=get_vault_address(vault))
        watcher = Watcher(config, store)
        await watcher.connect()
        while await watcher.step():
            pass
        send_native_deposits(chain, vault, [ALICE.address], amount=5)  # native: not collateral
        finalize(chain)
        while await watcher.step():
            pass

        pool = ObservationPool(box.chain_id, box.state.validators)
        tokens = collateral_by_key(box.genesis)
        for key in box.validator_keys:
            last, signed, refused = sign_new_deposits(store, 0, tokens, key, box.chain_id)
            assert (last, len(signed)) == (2, 2)
            assert [type(error).__name__ for _, error in refused] == ["UnregisteredToken"]
            for observation in signed:
                pool.add(SignedObservation.decode(observation.encode()))
        credit, native = pool.get_ready_credits()  # by vault nonce: 1, 2
        assert (native.observation.deposit_nonce, native.observation.quanta) == (2, 0)
        first = box.apply([credit, native], time_ms=box.get_due_time([credit, native]))
        assert [r.code for r in first.tx_results] == ["ok", "ok"]
        assert first.tx_results[1].events[0].kind == "collateral_not_credited"
        assert box.state.deposit_nonces[(CHAIN_ID, credit.observation.vault)].through == 2
        assert box.state.members[ALICE.address].sub_accounts[0].collateral[usdc] == 1_000_000
        again = box.apply([credit])  # the same deposit, proposed twice
        assert again.tx_results[0].code == "DuplicateCredit"
        assert box.state.members[ALICE.address].sub_accounts[0].collateral[usdc] == 1_000_000

        debit = box.apply([box.withdraw(ALICE, usdc, 400_000, recipient=RECIPIENT)])
        assert debit.tx_results[0].code == "ok", debit.tx_results[0].detail
        (record,) = box.state.pending_withdrawals.values()
        names = [v["name"] for v in doc["validators"]]
        gossiped = [
            WithdrawalSignature.decode(
                sign_withdrawal_record(
                    record,
                    vault=get_vault_address(vault),
                    epoch=0,
                    evm_private_key=evm_key(name),
                ).encode()
            )
            for name in names
        ]
        auth = gossiped[0].authorization
        assert {g.authorization for g in gossiped} == {auth}  # every validator signs the same
        collected = collect_withdrawal_signatures(
            auth, evm_set, [g.signature for g in gossiped[:2]]
        )
        assert not collected.is_complete()
        collected.add(gossiped[2].signature)
        assert get_relay_json(auth, collected)["complete"] is True
        withdraw(chain, auth, collected.get_ordered(), dev)
        balance = token.functions.balanceOf(to_checksum_address(RECIPIENT)).call()
        assert balance == 400_000

        finalize(chain)
        while await watcher.step():
            pass
        signed_payouts = [
            sign_new_payouts(store, 0, k, box.chain_id)[1] for k in box.validator_keys
        ]
        payout = signed_payouts[0][0][0]
        assert (payout.member, payout.nonce) == (record.member, record.nonce)
        attestations = tuple(batch[0][1] for batch in signed_payouts)
        paid_tx = WithdrawalPaid(payout, attestations)
        paid = box.apply([paid_tx], time_ms=box.get_due_time([paid_tx]))
        assert paid.tx_results[0].code == "ok", paid.tx_results[0].detail
        assert box.state.pending_withdrawals == {}


async def test_reobserve_request_attests_only_final_canonical_deposits(tmp_path: Path) -> None:
    dev = account_from_key(DEV_PRIVATE_KEY)
    with AnvilNode(chain_id=CHAIN_ID) as node:
        chain = connect(node.url, CHAIN_ID)
        box = Sandbox.from_genesis_doc(genesis_doc())
        vault = deploy_vault(chain, EvmValidatorSet.from_members(0, [(b"\x01" * 20, 1)]), dev)
        tokens = {
            (CHAIN_ID, bytes(20)): box.genesis.collateral[0].__class__(
                CHAIN_ID, bytes(20), "ETH", 18, 1, 0, "ETH/quantum"
            )
        }
        (tx_hash,) = send_native_deposits(chain, vault, [ALICE.address], amount=10)
        store = CursorStore(tmp_path / "cursor.sqlite")
        asked = ReobserveRequest(CHAIN_ID, bytes.fromhex(tx_hash[2:]), 0)
        wire = sign_reobserve_request(box.validator_keys[1], box.chain_id, asked, 0).encode()
        request = SignedReobserveRequest.decode(wire).request
        kwargs = {
            "chain": chain,
            "vault": get_vault_address(vault),
            "confirmations": None,
            "store": store,
            "tokens": tokens,
            "key": box.validator_keys[0],
            "network_chain_id": box.chain_id,
        }
        with pytest.raises(DepositNotFinal, match="above final"):
            handle_reobserve_request(request, **kwargs)  # type: ignore[arg-type]
        finalize(chain)
        signed = handle_reobserve_request(request, **kwargs)  # type: ignore[arg-type]
        assert signed.observation.quanta == 10 and signed.is_valid(box.chain_id)
        assert store.count_deposits(CHAIN_ID) == 1
        with pytest.raises(DepositNotFinal, match="no vault deposit"):
            missing_log = ReobserveRequest(CHAIN_ID, request.tx_hash, 5)
            handle_reobserve_request(missing_log, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(DepositNotFinal, match="no receipt"):
            unknown_tx = ReobserveRequest(CHAIN_ID, b"\x09" * 32, 0)
            handle_reobserve_request(unknown_tx, **kwargs)  # type: ignore[arg-type]
