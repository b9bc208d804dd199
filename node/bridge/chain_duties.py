"""A validator's duties on the chains it watches (`[[bridge_chains]]`), started at once:
per chain, the watcher and attest loop (chains.py); the read of each vault's set at a
final block and the rotation it needs (rotations.py); the EVM signature of every pending
withdrawal for the vault's epoch, and the attestation of the ones that expired unpaid
(withdrawals.py); and the look-ups re-observation makes on those chains.

This is the node's chain side: these modules import web3 and eth_account (over a quarter
of a node's start-up imports), so node/bridge/service.py imports this one only for a
validator with `[[bridge_chains]]`, and nothing else of the bridge service imports them.
"""

from __future__ import annotations

import trio

from node.bridge.bridge_node import BridgeNode
from node.bridge.chains import Attester, ChainLookup, VaultReader, get_outbox_path, watch_chain
from node.bridge.rotations import VaultRotator
from node.bridge.withdrawals import ExpiryAttester, WithdrawalSigner

SIGN_INTERVAL_S = 2.0


def start_chain_duties(node: BridgeNode, nursery: trio.Nursery) -> dict[int, ChainLookup]:
    """Start every duty of this validator on its chains in `nursery`; returns the
    re-observation look-ups of those chains, by EVM chain id."""
    ctx = node.ctx
    assert ctx.validator_key is not None and node.keys is not None
    chains = ctx.config.bridge_chains
    attester = Attester(
        ctx.validator_key,
        ctx.genesis.chain_id,
        ctx.state.collateral_tokens,
        node.is_credited,
        node.is_cleared,
        node.send_deposit,
        node.send_payout,
    )
    data_dir = ctx.config.storage.path.parent
    for chain in chains:
        nursery.start_soon(watch_chain, chain, data_dir, attester, node.watchers)
    expiry_vaults = {c.chain_id: VaultReader(c) for c in chains}
    expiries = ExpiryAttester(
        ctx.validator_key, ctx.genesis.chain_id, expiry_vaults, node.send_expiry,
        node.keys.can_attest,
    )  # fmt: skip
    nursery.start_soon(attest_expiries, node, expiries)
    readers = {c.chain_id: VaultReader(c) for c in chains}
    rotator = VaultRotator(readers, node.vault_sets, node.get_consensus_set,
                           node.keys.get_rotation_key, node.send_rotation,
                           counters=node.rotation_counters)  # fmt: skip
    signer = None
    if node.keys.bridge_key is not None:
        signer = WithdrawalSigner(node.keys.get_bridge_key, node.get_vault_set,
                                  node.send_withdrawal)  # fmt: skip
    nursery.start_soon(run_vault_duties, node, rotator, signer)
    return {
        chain.chain_id: ChainLookup(
            chain,
            get_outbox_path(data_dir, chain),
            ctx.state.collateral_tokens,
            ctx.validator_key,
            ctx.genesis.chain_id,
        )
        for chain in chains
    }


async def run_vault_duties(
    node: BridgeNode, rotator: VaultRotator, signer: WithdrawalSigner | None
) -> None:
    """After each commit (the consensus set or pending withdrawals may have changed)
    and every SIGN_INTERVAL_S (a vault may have rotated, a read may have failed):
    read each vault's set at a final block, sign its rotation if it is not the
    consensus set, then sign pending withdrawals for the epoch just read."""
    while True:
        await node.wait_for_commit(SIGN_INTERVAL_S)
        await rotator.check_all()
        if signer is not None:
            await signer.sign_pending(dict(node.ctx.state.pending_withdrawals))


async def attest_expiries(node: BridgeNode, attester: ExpiryAttester) -> None:
    """Every SIGN_INTERVAL_S: chain time, not commits, makes a withdrawal expire."""
    while True:
        await attester.attest_expired(dict(node.ctx.state.pending_withdrawals))
        await trio.sleep(SIGN_INTERVAL_S)
