"""A deposit only two watchers saw still reaches quorum, by re-observation.

4 in-process validators of equal power on a real anvil (quorum: 3). v0 and v1
watch the chain; v2 watches it too, but its cursor starts past the deposit's block
(its watcher missed the log) and it asks nobody itself within the test; v3 watches
nothing. v3 sees the deposit stuck at 2 of 4 attestations and gossips a
ReobserveRequest; v2 finds the deposit final on its chain, signs and gossips it,
and the credit commits exactly once, carrying v2's attestation and not v3's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.cursor import CursorStore
from bridge.devchain import DevnetChain, mine
from bridge.vault import deposit_token
from bridge.watcher import scan_pending
from clearing.collateral import CollateralCredit
from clearnode.client.sandbox_keys import derive_member_key
from node.bridge.chains import get_outbox_path
from node.config import load_config
from node.keys import BRIDGE_KEY, KeyFile, save_key
from tests.node.bridge.network import (
    DEPTH,
    find_all_committed,
    get_bridge_config,
    wait_committed_everywhere,
)
from tests.node.bridge.support import BRIDGE_KEYS, CONSENSUS_KEYS, get_genesis_doc
from tests.node.netproc import ORACLE_OFF, NodeHome
from tests.node.nodenet import open_node_network

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.usefixtures("quick_chain_polls")]

DEPOSIT = 3_000_000
MEMBER = derive_member_key("reobserve-bob").address


def make_deposit(evm: Chain, deployed: DevnetChain) -> int:
    """A final deposit for MEMBER; returns its block number."""
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    deposit_token(evm, vault, token, DEPOSIT, MEMBER, account_from_key(DEV_PRIVATE_KEY))
    mine(evm, DEPTH + 1)
    (event,) = scan_pending(evm, deployed.vault, 0, evm.get_block_number())
    return event.block_number


def start_cursor_after(home: NodeHome, block: int) -> None:
    """The home's watcher resumes past `block`, as if it had scanned it and missed the log."""
    config = load_config(home.path)
    chain = config.bridge_chains[0]
    path = get_outbox_path(config.storage.path.parent, chain)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = CursorStore(path)
    try:
        store.commit_range(chain.chain_id, bytes.fromhex(chain.vault_address[2:]), block + 1, [])
    finally:
        store.close()


async def test_a_deposit_two_watchers_saw_is_credited_once_by_reobservation(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    block = make_deposit(evm, deployed)

    def get_config(home: NodeHome) -> str:
        if home.name == "v3":
            return ORACLE_OFF + "[bridge]\nreobserve_after_ms = 500\n"
        after = 600_000 if home.name == "v2" else 30_000
        return get_bridge_config(deployed) + f"[bridge]\nreobserve_after_ms = {after}\n"

    doc = get_genesis_doc(deployed.tokens)
    async with open_node_network(
        tmp_path, extra_config=get_config, genesis=doc, start=False
    ) as net:
        start_cursor_after(net.homes[2], block)
        for home, secret in zip(net.homes, BRIDGE_KEYS, strict=True):
            save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
            await net.start(home)
        _, credit = await wait_committed_everywhere(net, CollateralCredit)
        assert (credit.observation.member, credit.observation.quanta) == (MEMBER, DEPOSIT)
        signers = {a.signer for a in credit.attestations}
        pubkeys = [k.public_key().public_bytes_raw() for k in CONSENSUS_KEYS]
        assert signers == set(pubkeys[:3])  # v2's re-observation made the quorum

        statuses = [await net.get_json(home, "/v1/bridge") for home in net.homes]
        assert statuses[2]["chains"]["anvil"]["next_block"] > block  # its watcher skipped it
        assert statuses[3]["reobserve"].get("asked", 0) >= 1
        assert statuses[2]["reobserve"].get("signed", 0) >= 1
        assert "asked" not in statuses[2]["reobserve"]

        # a few more blocks: the deposit is never credited a second time, anywhere
        height = max(net.get_height(h) for h in net.homes)
        await net.wait_for_height(height + 3, timeout_s=30)

        def is_this(tx: Any) -> bool:
            return bool(tx.observation.key == credit.observation.key)

        for home in net.homes:
            assert len(find_all_committed(home, CollateralCredit, is_this)) == 1
