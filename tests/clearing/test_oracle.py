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


def test_an_update_of_observations_older_than_the_last_one_is_refused() -> None:
    """Observations still within max_age, made before the committed update: applying them
    would move the prices back to what the oracle saw then."""
    box = new_sandbox()
    before = box.next_context().time_ms - 500
    old = box.prices({BTC: 60_000_000}, {}, observed_ms=before)
    box.apply([box.prices({BTC: 61_000_000}, {})])
    detail = assert_rejected(box, old, "ObservationNotNewer")
    assert f"newer_than_ms={box.state.price_time_ms}" in detail
    assert box.state.index_prices[BTC] == 61_000_000


def test_an_update_observed_ahead_of_its_block_applies_once() -> None:
    """Signers' clocks ahead of the proposer's: the update is still newer than the block
    that applied it, and applying it again would clamp the price a second step."""
    box = new_sandbox()
    ahead = box.next_context().time_ms + 5_000
    update = box.prices({BTC: 90_000_000}, {}, observed_ms=ahead)
    assert only_result(box.apply([update]))[0] == "ok"
    assert box.state.index_prices[BTC] == 66_000_000  # clamped at +10 %
    signer = update.observations[0].signer
    assert box.state.last_observed_ms[signer] == ahead
    detail = assert_rejected(box, update, "ObservationNotNewer")
    assert f"observed_ms={ahead}, newer_than_ms={ahead}" in detail
    assert box.state.index_prices[BTC] == 66_000_000


def test_an_observation_not_newer_is_left_out_while_the_rest_hold_a_quorum() -> None:
    box = new_sandbox()
    ahead = box.next_context().time_ms + 5_000
    first = box.prices({BTC: 61_000_000}, {}, observed_ms=ahead)
    box.apply([first])
    later = box.prices({BTC: 62_000_000}, {}, observed_ms=ahead + 1_000)
    mixed = PriceUpdate((first.observations[0], *later.observations[1:]))
    assert only_result(box.apply([mixed]))[0] == "ok"
    assert box.state.index_prices[BTC] == 62_000_000
    signers = [o.signer for o in mixed.observations]
    assert box.state.last_observed_ms[signers[0]] == ahead
    assert {box.state.last_observed_ms[s] for s in signers[1:]} == {
        later.observations[1].observed_ms
    }
