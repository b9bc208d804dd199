"""The settlement asset's and the collateral tokens' entries in a genesis document:
parsed and checked (``GenesisError`` naming the key).
"""

from __future__ import annotations

from clearing.assets import (
    MIN_VAULT_WHOLE_TOKENS,
    CollateralToken,
    SettlementAsset,
    get_min_quantum,
)
from clearing.errors import GenesisError
from clearing.genesis_reader import DocumentReader
from clearing.units import BPS_DENOMINATOR


def parse_settlement_asset(asset: DocumentReader) -> SettlementAsset:
    """Optional ``tokens`` (default none: no cash is paid out) and ``conversion_threshold``
    (default 0: other collateral covers negative cash in the block it appears)."""
    tokens = []
    if asset.has("tokens"):
        for n, item in enumerate(asset.get_list("tokens")):
            r = DocumentReader(item, asset.key(f"tokens[{n}]"), {"chain_id", "token"})
            tokens.append((r.get_int("chain_id", 1), r.get_hex("token", 20)))
    threshold = asset.get_int("conversion_threshold") if asset.has("conversion_threshold") else 0
    return SettlementAsset(
        asset.get_str("symbol"), asset.get_int("decimals", 0, 30), tuple(tokens), threshold
    )


def parse_collateral(item: object, path: str) -> CollateralToken:
    r = DocumentReader(
        item,
        path,
        {"chain_id", "token", "symbol", "decimals", "quantum", "haircut_bps", "price_feed"},
    )
    decimals, quantum = r.get_int("decimals", 0, 36), r.get_int("quantum", 1, 10**36)
    if quantum < (least := get_min_quantum(decimals)):
        raise GenesisError(
            r.key("quantum"),
            f"at least {least}: a vault holds at most 2^64-1 quanta in the ledger, which must "
            f"come to {MIN_VAULT_WHOLE_TOKENS:,} whole tokens of {decimals} decimals",
            quantum,
        )
    return CollateralToken(
        chain_id=r.get_int("chain_id", 1),
        token=r.get_hex("token", 20),
        symbol=r.get_str("symbol"),
        decimals=decimals,
        quantum=quantum,
        haircut_bps=r.get_int("haircut_bps", 0, BPS_DENOMINATOR - 1),
        price_feed=r.get_str("price_feed"),
    )
