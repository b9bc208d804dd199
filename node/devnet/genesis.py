"""The devnet's genesis template: the collateral tokens deployed on each chain,
BTC and ETH derivatives, a venue, and a risk section levered enough that the
oracle's scheduled crash defaults members. The validators are added by
`clearnode init`'s build_genesis from the keys generated for their homes.

The venue's key derives from a public name (clearing.sandbox): a test key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.devchain import DevnetChain
from clearing.sandbox import derive_ed25519_key
from node.chainspec import place_collateral, place_vaults

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_GENESIS = ROOT / "configs" / "genesis.example.json"
VENUE_ID = "alpha"
USDC, WETH = "USDC", "WETH"
TOKENS = ((USDC, 6), (WETH, 18))
# 5% scan ranges: members can lever up, so a 30% crash bankrupts the most levered.
LEVERED = {"group": "majors", "scan_bps": 500, "vol_bps": 6000, "vol_scan_bps": 0, "floor_bps": 0}
RISK: dict[str, Any] = {
    "k_num": 1,
    "k_den": 2,
    "price_steps": 3,
    "extreme_multiple": 2,
    "extreme_cover_bps": 3500,
    "max_scenarios": 1024,
    "rate_bps": 0,
    "underlyings": {"BTC": LEVERED, "ETH": LEVERED},
    "stress_days": [],
    "liquidation": {"penalty_bps": 100, "fee_bps": 50, "max_per_block": 100, "partial_steps": 10},
    "default_fund": {"cover": 2, "stress_multiple": 2, "assessment_cap_bps": 10000},
    "auction": {"window_blocks": 3, "rounds": 2, "split": 2},  # the house is flat in 6 blocks
    "margin_call": {"deadline_blocks": 5},
}


def build_genesis_template(chains: list[DevnetChain], epoch_length_blocks: int) -> dict[str, Any]:
    """configs/genesis.example.json with the devnet's venue, tokens and risk, for
    `clearnode init`'s build_genesis to add the validators to. No backstops: liquidated
    lots go to the clearing house's book and from there to the default auctions, which
    the market makers bid in (node/devnet/script.py)."""
    doc: dict[str, Any] = json.loads(EXAMPLE_GENESIS.read_text())
    venue_key = derive_ed25519_key(f"venue-{VENUE_ID}").public_key().public_bytes_raw()
    doc["venues"] = [{"id": VENUE_ID, "pubkey": "0x" + venue_key.hex()}]
    usdc: dict[str, Any] = {
        "symbol": USDC,
        "decimals": 6,
        "quantum": 1,
        "haircut_bps": 0,
        "price_feed": "USDC/quantum",
    }
    weth: dict[str, Any] = {
        "symbol": WETH,
        "decimals": 18,
        "quantum": 10**12,
        "haircut_bps": 1000,
        "price_feed": "ETH/quantum",
    }
    collateral = [
        {**spec, "chain_id": chain.chain_id, "token": "0x" + chain.tokens[spec["symbol"]].hex()}
        for chain in chains
        for spec in (usdc, weth)
    ]
    place_collateral(doc, collateral)
    place_vaults(doc, {chain.chain_id: chain.vault for chain in chains})
    doc["risk"] = dict(RISK)
    doc["oracle"]["max_move_bps"] = 5000  # the crash commits in one update
    # Observations age while gossip crosses a loaded machine: older than this, they are refused.
    doc["oracle"]["max_age_ms"] = 30_000
    doc["epoch_length_blocks"] = epoch_length_blocks
    return doc
