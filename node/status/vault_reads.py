"""Vault balances and validator sets on each configured chain, read every few seconds
for the status page.

Reading a chain is blocking web3 I/O, so it runs in a worker thread; a chain
that does not answer shows its error and its last known balances, and never
holds up the node. The status service imports this module only on a node with
`[[bridge_chains]]`: web3 and eth_account are over a quarter of a start's imports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio
from eth_utils.address import to_checksum_address

from bridge.chain import Chain, connect
from bridge.validators import EvmValidatorSet
from bridge.vault import get_validator_set, get_vault_balances
from clearing.assets import CollateralToken
from node.config import BridgeChainConfig
from node.status.vaults import VaultView

log = logging.getLogger(__name__)

POLL_S = 5.0


def read_vault(
    chain: BridgeChainConfig, tokens: Sequence[CollateralToken], connected: dict[int, Chain]
) -> dict[str, int]:
    """Balances (token units) of the vault on `chain` for the genesis tokens on that chain.

    Connects (checking the chain id) only when `connected` holds no link to it yet;
    a failed read drops the link, so the next poll reconnects.
    """
    link = connected.get(chain.chain_id)
    if link is None:
        link = connected[chain.chain_id] = connect(chain.rpc_url, chain.chain_id, timeout=5.0)
    vault = bytes.fromhex(chain.vault_address.removeprefix("0x"))
    try:
        found = get_vault_balances(link, vault, [t.token for t in tokens])
    except Exception:
        del connected[chain.chain_id]
        raise
    return {t.symbol: found[t.token] for t in tokens}


def read_vault_set(chain: BridgeChainConfig, connected: dict[int, Chain]) -> EvmValidatorSet:
    """The validator set the vault on `chain` trusts at the latest block, over the link
    read_vault opened (dropped when the read fails)."""
    link = connected.get(chain.chain_id)
    if link is None:
        link = connected[chain.chain_id] = connect(chain.rpc_url, chain.chain_id, timeout=5.0)
    try:
        return get_validator_set(
            link.contract("CollateralVault", to_checksum_address(chain.vault_address))
        )
    except Exception:
        del connected[chain.chain_id]
        raise


def read_vault_and_set(
    chain: BridgeChainConfig, tokens: Sequence[CollateralToken], connected: dict[int, Chain]
) -> tuple[dict[str, int], EvmValidatorSet]:
    """Both reads of one poll, so the view changes in one step."""
    return read_vault(chain, tokens, connected), read_vault_set(chain, connected)


async def poll_vaults(
    views: dict[int, VaultView],
    chains: Sequence[BridgeChainConfig],
    tokens: Sequence[CollateralToken],
    clock_ms: Callable[[], int],
) -> None:
    """Refreshes `views` (by chain id) until cancelled."""
    connected: dict[int, Chain] = {}
    for chain in chains:
        views[chain.chain_id] = VaultView(chain.name, chain.chain_id, chain.vault_address)
    while True:
        for chain in chains:
            view = views[chain.chain_id]
            on_chain = [t for t in tokens if t.chain_id == chain.chain_id]
            try:
                view.balances, view.validators = await trio.to_thread.run_sync(
                    read_vault_and_set, chain, on_chain, connected
                )
                view.error, view.read_at_ms = "", clock_ms()
            except Exception as exc:  # any RPC, transport or decoding failure of one chain
                view.error = f"{type(exc).__name__}: {exc}"[:200]
                log.debug("vault balance of chain %d unreadable: %s", chain.chain_id, exc)
        await trio.sleep(POLL_S)
