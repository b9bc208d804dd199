"""Governance on a running network, end to end: five `clearnode start` processes and two
anvil chains whose vaults trust the four genesis validators. The fifth node runs from
genesis with a consensus key not in it and its own bridge key.

One proposal lists next quarter's BTC future, raises WETH's haircut, adds the fifth
validator and removes v2 and v3. At its height every node lists the future (a venue's
trade in it then commits on every node) and values a WETH holder's collateral at the
new haircut (its equity drops by exactly the haircut's difference, the same on every
node, whose roots agree at every height).

The vaults follow the validator set: the removal takes half of the
power the vaults trust, so v0 and v1 alone cannot rotate them. From the block that
executes it, the bridge counts the new set without a restart: v2 and v3 (removed) sign
no withdrawal more, but in their rotation grace (`[bridge] rotation_grace_blocks`) they
sign, with v0 and v1, each vault's rotation to v0, v1 and v4, which the relayer sends.
A withdrawal signed for epoch 0 by the old set is refused by the rotated vault
(`WrongEpoch`); the new set, the added validator among its signers, signs it again for
epoch 1 and that is paid; every node agrees on every root (the removed validators'
nodes follow the chain during their grace).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, ContractReverted, account_from_key, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain, mine
from bridge.eip712 import recover_signer
from bridge.relayer import relay_complete
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token, withdraw
from bridge.withdrawal_relay import parse_relay_json
from clearing.eip712 import compute_signable, sign_typed
from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import (
    AddValidator,
    ListInstrument,
    RemoveValidator,
    SetCollateralHaircut,
)
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearing.transition.withdrawal import WithdrawalPaid
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from node.api.bodies import ACCOUNT_QUERY_FIELDS
from node.clock import wall_clock_ms
from node.keys import BRIDGE_KEY, KeyFile, save_key
from tests.clearing.test_trade import VENUE_KEY
from tests.node.bridge.network import DEPTH, find_committed
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CHAIN_ID,
    CONSENSUS_KEYS,
    NEW_BRIDGE_KEY,
    get_evm_address,
    get_genesis_doc,
    get_new_validator,
)
from tests.node.bridge.test_bridge_network import (
    ALICE,
    DEPOSIT,
    WITHDRAW,
    now_ms,
    sign_withdrawal,
)
from tests.node.bridge.test_rotation_network import (
    CHAIN_B,
    POWER,
    gather_rotations,
    get_chain_config,
    get_json,
    rotate_vault,
)
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, ProcessNetwork, read_blocks, running
from tests.node.netsupport import get_wall_times
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_answer,
    post_tx_until_accepted,
    post_until_accepted,
    wait_until,
)
from tests.node.test_validator_set_processes import DELAY, NEW, VOTING_BLOCKS, public

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.multiprocess]

OLD_SET = sorted(get_evm_address(k) for k in BRIDGE_KEYS)
NEW_SET = sorted(get_evm_address(k) for k in (*BRIDGE_KEYS[:2], NEW_BRIDGE_KEY))
PROPOSALS, VOTES = "/v1/governance/proposals", "/v1/governance/votes"
FUTURE = "BTC-26MAR27"  # next quarter's: listed by the proposal, traded after it
FUTURE_MARK = 60_600_000
LISTING = json.dumps({
    "id": FUTURE, "kind": "future", "underlying": "BTC", "index_feed": "BTC/0.001",
    "contract_size": "0.001", "tick_size": 100, "price_band_bps": 500, "fee_bps": 5,
    "settlement": "cash", "expiry_ms": 1_806_048_000_000,
})  # fmt: skip
WETH_QUANTA = 1_000_000  # 1 ETH at the genesis index of 3,000 settlement units a quantum
WETH_INDEX = 3_000
HAIRCUTS = (1_000, 2_000)  # WETH's, at genesis and from the proposal's height
BOB, CAROL, DAVE = (derive_member_key(f"gov-vaults-{n}") for n in ("bob", "carol", "dave"))


def make_network(base: Path, deployed: dict[str, DevnetChain]) -> ProcessNetwork:
    """The four genesis validators, each with its bridge key, and the fifth node with a
    consensus key (validator-4) and a bridge key genesis does not know; the validators
    let the fifth connect (`[p2p] observers`)."""
    extra = "".join(get_chain_config(name, d) for name, d in sorted(deployed.items()))
    # test_validator_set_processes.py's timeouts for its VOTING_BLOCKS: blocks twice as often
    extra += SHORT_TIMEOUTS
    new_home = NodeHome(base / NEW, NEW, 4)
    new_home.extra_config += extra
    net = ProcessNetwork(base, 4, extra_config=extra, observers=(new_home.peer_id,))
    doc = get_genesis_doc(deployed["a"].tokens)
    doc["governance"] = {"min_delay_blocks": DELAY, "max_voting_blocks": 50}
    for home, validator in zip(net.homes, doc["validators"], strict=True):
        validator["peer_id"] = home.peer_id
    net.genesis = doc
    new_home.write(doc, [h.addr for h in net.homes])
    net.homes.append(new_home)
    for home, secret in zip(net.homes, [*BRIDGE_KEYS, NEW_BRIDGE_KEY], strict=True):
        (home.path / "genesis.json").write_text(json.dumps(doc))
        save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
    return net


def query_account(home: NodeHome, chain_id: int, member: MemberKey) -> dict[str, Any]:
    """`member`'s own sub-account 0 as `home` answers its signed query ({} before any)."""
    message = {"member": "0x" + member.address.hex(), "subAccount": 0, "issuedAtMs": now_ms()}
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    body = {"chainId": chain_id, "message": message,
            "signature": "0x" + sign_typed(member.private_key, signable).hex()}  # fmt: skip
    url = f"http://127.0.0.1:{home.api_port}/v1/accounts/query"
    response = httpx.post(url, json=body, timeout=10)
    return {} if response.status_code == 404 else dict(response.json())


async def fund_members(net: ProcessNetwork, box: Sandbox) -> None:
    """Bob and Carol hold USDC and let venue alpha trade for them; Dave holds WETH. The
    genesis validators attest the credits, as their bridges would (before the set
    changes: a removed validator's attestation counts for nothing after)."""
    home = net.homes[0]
    weth = next(t.key for t in box.genesis.collateral if t.symbol == "WETH")
    usdc = next(t.key for t in box.genesis.collateral if t.symbol == "USDC" and
                t.chain_id == CHAIN_ID)  # fmt: skip
    credits = [box.credit(DAVE.address, weth, WETH_QUANTA)]
    credits += [box.credit(m.address, usdc, 10**12) for m in (BOB, CAROL)]
    for credit in credits:
        await post_tx_until_accepted(
            home, "/v1/bridge/collateral-events", encode_tx(credit), "a credit"
        )
    url = f"http://127.0.0.1:{home.api_port}/v1/member-requests"
    for member in (BOB, CAROL):
        record = box.authorise(member, "alpha")
        request = {"type": "AuthoriseVenue", "chainId": box.chain_id,
                   "message": record.get_message(),
                   "signature": "0x" + record.signature.hex()}  # fmt: skip
        await post_until_accepted("an authorisation", lambda: get_answer(httpx.post(
            url, json=request, timeout=10)))  # noqa: B023  # fmt: skip


def get_equity(home: NodeHome, chain_id: int, member: MemberKey) -> tuple[int, int]:
    """(height, equity) of `member`'s sub-account 0 as `home` answers."""
    view = query_account(home, chain_id, member)
    return view["height"], view["risk"]["equity"]


async def test_vaults_rotate_to_the_set_governance_makes_and_its_signatures_pay(
    tmp_path: Path,
) -> None:
    with AnvilNode(chain_id=CHAIN_ID) as anvil_a, AnvilNode(chain_id=CHAIN_B) as anvil_b:
        chains = {"a": connect(anvil_a.url, CHAIN_ID), "b": connect(anvil_b.url, CHAIN_B)}
        genesis_set = EvmValidatorSet.from_members(0, [(a, POWER) for a in OLD_SET])
        deployed = {
            name: deploy_devnet_chain(chain, genesis_set, [("USDC", 6)])
            for name, chain in chains.items()
        }
        for chain in chains.values():
            mine(chain, DEPTH + 1)  # the vaults exist at the final block
        net = make_network(tmp_path, deployed)
        with running(net):
            await check_vaults_follow_governance(net, chains, deployed)


async def check_vaults_follow_governance(
    net: ProcessNetwork, chains: dict[str, Chain], deployed: dict[str, DevnetChain]
) -> None:
    network = net.genesis["chain_id"]
    v0, v1, v2, v3, v4 = net.homes
    relayer = account_from_key(DEV_PRIVATE_KEY)
    await wait_until("every node to commit", lambda: assert_roots_agree(net.homes) >= 2, 60)
    box = Sandbox.from_genesis_doc(net.genesis)
    box.clock_ms = wall_clock_ms
    await fund_members(net, box)
    await wait_until("Dave's WETH to be credited on every node", lambda: all(
        query_account(h, network, DAVE) for h in net.homes))  # fmt: skip
    haircut_value = [WETH_INDEX * (10_000 - bps) // 10_000 for bps in HAIRCUTS]
    assert {get_equity(h, network, DAVE)[1] for h in net.homes} == {WETH_QUANTA * haircut_value[0]}

    # governance lists next quarter's future, raises WETH's haircut, adds validator 4 and
    # removes validators 2 and 3; a deposit meanwhile
    weth = next(t.token for t in box.genesis.collateral if t.symbol == "WETH")
    changes = (ListInstrument(LISTING, FUTURE_MARK),
               SetCollateralHaircut(CHAIN_ID, weth, HAIRCUTS[1]),
               AddValidator(get_new_validator(POWER, v4.peer_id)),
               RemoveValidator(public("validator-2")),
               RemoveValidator(public("validator-3")))  # fmt: skip
    deadline = len(v0.get_roots()) + VOTING_BLOCKS
    proposal_tx = sign_proposal(CONSENSUS_KEYS[0], network, changes, deadline, deadline + DELAY)
    await post_tx_until_accepted(v0, PROPOSALS, encode_tx(proposal_tx), "the proposal")
    chain = chains["a"]
    vault = chain.contract("CollateralVault", to_checksum_address(deployed["a"].vault))
    usdc = deployed["a"].tokens["USDC"]
    token = chain.contract("TestToken", to_checksum_address(usdc))
    await trio.to_thread.run_sync(deposit_token, chain, vault, token, DEPOSIT, ALICE.address,
                                  relayer)  # fmt: skip
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    await wait_until("the proposal to commit", lambda: any(
        encode_tx(proposal_tx) in b.txs for b in read_blocks(v0)))  # fmt: skip
    digest = hashlib.sha256(proposal_tx.signing_bytes(network)).digest()
    proposal = GovernanceProposal(
        1, proposal_tx.proposer, changes, digest, 0, deadline, deadline + DELAY
    )
    for key in CONSENSUS_KEYS[:3]:
        ballot = encode_tx(sign_vote(key, network, proposal, VoteChoice.YES))
        await post_tx_until_accepted(v0, VOTES, ballot, "a ballot")

    # a withdrawal the old set signs for epoch 0
    await wait_until("Alice's deposit to be credited",
                     lambda: query_account(v0, network, ALICE))  # fmt: skip
    request = sign_withdrawal(network, usdc, 1)
    url = f"http://127.0.0.1:{v1.api_port}/v1/member-requests"
    await post_until_accepted(
        "the withdrawal request", lambda: get_answer(httpx.post(url, json=request, timeout=10))
    )
    path = f"/v1/withdrawals/0x{ALICE.address.hex()}/1"
    await wait_until("the old set's withdrawal signatures",
                     lambda: get_json(v4, path).get("complete") is True)  # fmt: skip
    old_body = get_json(v4, path)
    old_auth, old_signatures = parse_relay_json(old_body)
    assert old_auth.epoch == 0
    assert {recover_signer(old_auth.get_digest(), s) for s in old_signatures} <= set(OLD_SET)

    # from the executing block, both vaults are off the consensus set; v0-v3 sign
    rotations = await gather_rotations(net, v4, OLD_SET, NEW_SET)

    # every node values Dave's WETH at the new haircut from the proposal's height on
    executed = proposal.execute_height
    for home in net.homes:
        height, equity = get_equity(home, network, DAVE)
        assert height >= executed and equity == WETH_QUANTA * haircut_value[1], (home.name, height)
    # and lists the future, in which venue alpha's trade commits on every node
    trade = Trade(1, FUTURE, BOB.address, 0, CAROL.address, 0, FUTURE_MARK, 1)
    batch = encode_tx(sign_trade_batch(VENUE_KEY, network, "alpha", 1, [trade], *get_wall_times()))
    await post_tx_until_accepted(v0, "/v1/trade-batches", batch, "the trade")

    def holds_the_future(home: NodeHome) -> bool:
        positions = query_account(home, network, BOB).get("positions", [])
        return [(p["instrument"], p["quantity"]) for p in positions] == [(FUTURE, 1)]

    await wait_until("the future's trade on every node",
                     lambda: all(holds_the_future(h) for h in net.homes), 60)  # fmt: skip

    for name in ("a", "b"):
        await rotate_vault(chains[name], deployed[name], relayer, rotations, NEW_SET)
        await trio.to_thread.run_sync(mine, chains[name], DEPTH + 1)

    # the old set's epoch-0 signatures are refused by the rotated vault
    (skipped,) = await trio.to_thread.run_sync(relay_complete, chain, relayer, [old_body])
    assert skipped.result == "signed for epoch 0, vault at epoch 1", skipped
    with pytest.raises(ContractReverted) as caught:
        await trio.to_thread.run_sync(withdraw, chain, old_auth, old_signatures, relayer)
    assert caught.value.error == "WrongEpoch"

    # the new set, the added validator among it, signs for epoch 1: paid
    def new_signers() -> set[bytes]:
        body = get_json(v0, path)
        if body.get("epoch") != 1:
            return set()
        auth, signatures = parse_relay_json(body)
        return {recover_signer(auth.get_digest(), s) for s in signatures}

    # (v2 and v3 sign no withdrawal: the signers are exactly the new set)
    await wait_until("the whole new set to sign for epoch 1",
                     lambda: new_signers() == set(NEW_SET), 60)  # fmt: skip
    (paid,) = await trio.to_thread.run_sync(relay_complete, chain, relayer, [get_json(v0, path)])
    assert paid.result == "paid", paid
    assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == WITHDRAW
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    # v2's and v3's nodes, in their rotation grace, are still let in: all follow the chain
    await wait_until("the payout to clear the record on every node", lambda: all(
        find_committed(h, WithdrawalPaid) is not None for h in net.homes), 60)  # fmt: skip
    height, _ = find_committed(v0, WithdrawalPaid)  # type: ignore[misc]
    await wait_until("every node at the payout's height",
                     lambda: all(height in h.get_roots() for h in net.homes), 30)  # fmt: skip
    assert assert_roots_agree(net.homes) >= height

    # v2 and v3, removed, signed both rotations as retiring validators, and nothing else
    for removed in (v2, v3):
        log = (removed.path / "node.log").read_text()
        assert "is not in the validator set in force" in log
        assert "retiring rotation signatures from this validator: signing the rotations" in log
        assert log.count("signed the rotation to epoch 1") == 2, log
    added_log = (v4.path / "node.log").read_text()
    assert added_log.index("is not in the validator set in force") < added_log.index(
        "withdrawal and rotation signatures from this validator: signing"
    )
