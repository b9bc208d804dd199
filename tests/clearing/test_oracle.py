from dataclasses import replace

import pytest

from clearing.oracle import (
    PriceUpdate,
    compute_clamped_price,
    compute_weighted_median,
    sign_price_observation,
)
from clearnode.client.sandbox_keys import derive_ed25519_key
from tests.clearing.support import assert_rejected, new_sandbox, only_result

BTC = "BTC/0.001"


@pytest.mark.parametrize(
    ("votes", "median"),
    [
        ([(10, 1)], 10),
        ([(10, 1), (20, 1)], 10),
        ([(10, 1), (20, 1), (30, 1)], 20),
        ([(30, 10), (10, 1), (20, 1)], 30),
        ([(10, 5), (20, 5), (30, 10)], 20),
    ],
)
def test_weighted_median_is_the_lower_power_weighted_median(
    votes: list[tuple[int, int]], median: int
) -> None:
    assert compute_weighted_median(votes) == median


def test_clamp_limits_the_move_to_max_move_bps() -> None:
    assert compute_clamped_price(None, 123, 1000) == 123
    assert compute_clamped_price(1000, 1200, 1000) == 1100
    assert compute_clamped_price(1000, 800, 1000) == 900
    assert compute_clamped_price(1000, 1050, 1000) == 1050


def test_update_commits_the_weighted_median_of_all_validators() -> None:
    box = new_sandbox()
    when = box.next_context().time_ms
    observations = tuple(
        sign_price_observation(k, box.chain_id, when, {BTC: p}, {"BTC-PERP": p + 1})
        for k, p in zip(
            box.validator_keys, [61_000_000, 61_500_000, 60_500_000, 64_000_000], strict=True
        )
    )
    block = box.apply([PriceUpdate(observations)])
    assert only_result(block)[0] == "ok"
    assert box.state.index_prices[BTC] == 61_000_000
    assert box.state.mark_prices["BTC-PERP"] == 61_000_001
    assert box.state.price_time_ms == block.height * 1000 + box.genesis.genesis_time_ms


def test_big_move_is_clamped_and_flagged() -> None:
    box = new_sandbox()
    block = box.apply([box.prices({BTC: 90_000_000}, {})])
    assert box.state.index_prices[BTC] == 66_000_000
    clamped = [e for e in block.tx_results[0].events if e.kind == "price_clamped"]
    assert [(e.get("median"), e.get("price")) for e in clamped] == [(90_000_000, 66_000_000)]


def test_ids_without_quorum_keep_their_price() -> None:
    box = new_sandbox()
    when = box.next_context().time_ms
    keys = box.validator_keys
    observations = (
        *(sign_price_observation(k, box.chain_id, when, {BTC: 61_000_000}, {}) for k in keys[:2]),
        *(
            sign_price_observation(k, box.chain_id, when, {BTC: 61_000_000, "ETH/0.01": 1}, {})
            for k in keys[2:]
        ),
    )
    assert only_result(box.apply([PriceUpdate(observations)]))[0] == "ok"
    assert box.state.index_prices["ETH/0.01"] == 30_000_000
    assert box.state.index_prices[BTC] == 61_000_000


def test_stale_observations_are_dropped_then_quorum_fails() -> None:
    box = new_sandbox()
    old = box.next_context().time_ms - 10_001
    fresh = box.prices({BTC: 61_000_000}, {}, signers=2)
    stale = box.prices({BTC: 61_000_000}, {}, observed_ms=old)
    tx = PriceUpdate(fresh.observations + stale.observations[2:])
    detail = assert_rejected(box, tx, "StaleObservation")
    assert "max_age_ms=10000" in detail


def test_too_few_signers_is_rejected() -> None:
    box = new_sandbox()
    detail = assert_rejected(box, box.prices({BTC: 61_000_000}, {}, signers=2), "QuorumNotReached")
    assert "signed_power=20" in detail


def test_unknown_ids_signers_and_bad_signatures_are_rejected() -> None:
    box = new_sandbox()
    assert_rejected(box, box.prices({"DOGE": 1}, {}), "UnknownFeed")
    assert_rejected(box, box.prices({}, {"DOGE-PERP": 1}), "UnknownInstrument")
    good = box.prices({BTC: 61_000_000}, {})
    stranger = sign_price_observation(derive_ed25519_key("x"), box.chain_id, 0, {BTC: 1}, {})
    assert_rejected(box, PriceUpdate((*good.observations, stranger)), "UnknownSigner")
    assert_rejected(box, PriceUpdate((*good.observations, good.observations[0])), "DuplicateSigner")
    forged = replace(good.observations[0], index_prices=((BTC, 1),))
    assert_rejected(box, PriceUpdate((forged, *good.observations[1:])), "BadSignature")
