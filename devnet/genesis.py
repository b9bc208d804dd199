"""The devnet's genesis template: the collateral tokens deployed on each chain,
BTC and ETH derivatives, a venue, a risk section levered enough that the
oracle's scheduled crash defaults members, and a short-dated BTC future with the
listing template that rolls it into the next series when it expires. The validators are added by
`clearnode init`'s build_genesis from the keys generated for their homes.

The venue's key derives from a public name (clearnode/client/sandbox_keys.py): a test key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bridge.devchain import DevnetChain
from clearing.listing_template import get_series_id
from clearnode.client.sandbox_keys import derive_ed25519_key
from configs import EXAMPLE_GENESIS
from lightclient.anchor import OUR_ENGINE
from node.chainspec import place_collateral, place_vaults

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
    # The house is flat in 10 blocks: five a round gives a bidder polling its account on a
    # loaded machine time to read the lots and bid.
    "auction": {"window_blocks": 5, "rounds": 2, "split": 2},
    # Eight blocks to meet a call: blocks come at once while the flow trades, and the
    # called long polls its account, waits for its replica and posts a trade (a loaded
    # run met one at the fourth block of five).
    "margin_call": {"deadline_blocks": 8},
    # Options priced at the second, not at each block's own time: at the default (1 ms)
    # each block prices every listed series again (docs/risk.md).
    "pricing_interval_ms": 1000,
}
EPOCH_BLOCKS = 30
"""The devnet's default epoch: about 30 seconds on either engine, each proposing as soon
as a transaction waits and otherwise after a second (node/config.py)."""


ROLLING_TEMPLATE, ROLLING_PREFIX = "BTC-ROLLING", "BTC-R"
BTC_FUTURE_TERMS: dict[str, Any] = {
    "underlying": "BTC", "index_feed": "BTC/0.001", "contract_size": "0.001",
    "tick_size": 100, "price_band_bps": 500, "fee_bps": 5, "settlement": "cash",
}  # fmt: skip


def add_rolling_future(doc: dict[str, Any], first_expiry_ms: int, period_ms: int) -> str:
    """A BTC future expiring at ``first_expiry_ms`` (whole seconds), starting at the BTC
    index, and the periodic template whose first series it is: at each expiry the
    template lists the next, ``period_ms`` later. Returns the first series' id."""
    series = get_series_id(ROLLING_PREFIX, first_expiry_ms)
    doc["instruments"].append(
        {**BTC_FUTURE_TERMS, "id": series, "kind": "future", "expiry_ms": first_expiry_ms}
    )
    doc["mark_prices"][series] = doc["index_prices"][BTC_FUTURE_TERMS["index_feed"]]
    doc["listing_templates"] = [
        {
            "id": ROLLING_TEMPLATE, "prefix": ROLLING_PREFIX, "cycle": "periodic",
            "first_expiry_ms": first_expiry_ms, "period_ms": period_ms, "series": 1,
            "future": BTC_FUTURE_TERMS,
        }
    ]  # fmt: skip
    return series


def build_genesis_template(
    chains: list[DevnetChain], epoch_length_blocks: int, engine: str = OUR_ENGINE
) -> dict[str, Any]:
    """configs/genesis.example.json with the devnet's venue, tokens and risk, for
    `clearnode init`'s build_genesis to add the validators to, on `engine`. No backstops:
    liquidated lots go to the clearing house's book and from there to the default
    auctions, which the market makers bid in (devnet/script.py)."""
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
    doc["risk"] = copy.deepcopy(RISK)
    doc["oracle"]["max_move_bps"] = 5000  # the crash commits in one update
    # Observations age while gossip crosses a loaded machine: older than this, they are refused.
    doc["oracle"]["max_age_ms"] = 30_000
    doc["epoch_length_blocks"] = epoch_length_blocks
    if engine != OUR_ENGINE:
        doc["engine"] = engine
    return doc
