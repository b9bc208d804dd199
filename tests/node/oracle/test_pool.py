"""The pool keeps each validator's newest observation and proposes one update only for
a fresh quorum newer than the committed price time; clearing accepts what it proposes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from clearing.context import Equivocation
from clearing.oracle import FreshnessRule, PriceObservation, sign_price_observation
from clearing.transition.tx import encode_tx
from devnet.sandbox import Sandbox
from node.oracle.pool import PriceObservationPool

ROOT = Path(__file__).resolve().parents[3]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
BOX = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
VALIDATORS = {v.pubkey: v for v in BOX.genesis.validators}


def observe(key_index: int, observed_ms: int, price: int = 60_500_000) -> PriceObservation:
    return sign_price_observation(
        BOX.validator_keys[key_index], BOX.chain_id, observed_ms, {"BTC/0.001": price}, {}
    )


def test_keeps_the_newest_observation_of_each_signer() -> None:
    pool = PriceObservationPool(lambda: VALIDATORS)
    assert pool.add(observe(0, 2_000))
    assert not pool.add(observe(0, 1_000))  # older: a replay changes nothing
    assert not pool.add(observe(0, 2_000, price=1))
    assert pool.latest[observe(0, 0).signer].observed_ms == 2_000
    assert pool.add(observe(0, 3_000))


def test_update_needs_fresh_quorum_newer_than_the_committed_price_time() -> None:
    pool = PriceObservationPool(lambda: VALIDATORS)
    rule = FreshnessRule(time_ms=20_000, max_age_ms=10_000, after_ms=15_000, last_observed_ms={})
    pool.add(observe(0, 19_000))
    pool.add(observe(1, 19_500))
    assert pool.compute_update(rule) is None  # 2 of 4 = 1/2
    pool.add(observe(2, 15_000))  # not newer than the committed price time
    assert pool.compute_update(rule) is None
    pool.add(observe(3, 9_000))  # stale for the block
    assert pool.compute_update(rule) is None
    pool.add(observe(2, 16_000))
    update = pool.compute_update(rule)
    assert update is not None
    assert sorted(o.observed_ms for o in update.observations) == [16_000, 19_000, 19_500]
    assert [o.signer for o in update.observations] == sorted(o.signer for o in update.observations)
    assert pool.get_power(list(update.observations)) == 30


def test_a_proposed_update_is_accepted_by_clearing() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    when = box.next_context().time_ms
    pool = PriceObservationPool(lambda: VALIDATORS)
    for index, price in enumerate((60_100_000, 60_200_000, 60_300_000)):
        pool.add(observe(index, when - 10, price))
    update = pool.compute_update(FreshnessRule.at(box.state, when))
    assert update is not None
    result = box.apply([encode_tx(update)])
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail
    assert box.state.index_prices["BTC/0.001"] == 60_200_000  # power-weighted median
    again = pool.compute_update(FreshnessRule.at(box.state, when + 500))
    assert again is None  # nothing newer than the update just committed


def test_the_pool_weighs_signers_by_the_set_in_force_as_clearing_does() -> None:
    """Two validators jailed: the other two hold all the power, so their observations
    alone are a quorum (20 of 40 in the genesis set); a jailed one's is left out."""
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = PriceObservationPool(lambda: box.state.validators)
    for n in (2, 3):
        jailed = box.validator_keys[n].public_key().public_bytes_raw()
        box.apply([], (Equivocation(jailed, box.state.height),))
    when = box.next_context().time_ms
    for index in (0, 1, 2):
        pool.add(observe(index, when - 10))
    rule = FreshnessRule.at(box.state, when)
    assert pool.get_powers() == {observe(n, 0).signer: 10 for n in (0, 1)}
    update = pool.compute_update(rule)
    assert update is not None
    assert {o.signer for o in update.observations} == {observe(n, 0).signer for n in (0, 1)}
    result = box.apply([encode_tx(update)])
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40_000)), max_size=30))
def test_an_update_is_proposed_iff_fresh_power_is_a_quorum(
    adds: list[tuple[int, int]],
) -> None:
    pool = PriceObservationPool(lambda: VALIDATORS)
    for index, observed_ms in adds:
        pool.add(observe(index, observed_ms))
    rule = FreshnessRule(time_ms=30_000, max_age_ms=10_000, after_ms=22_000, last_observed_ms={})
    fresh = pool.get_fresh(rule)
    assert all(22_000 < o.observed_ms <= 40_000 for o in fresh)
    assert len({o.signer for o in fresh}) == len(fresh)
    update = pool.compute_update(rule)
    assert (update is not None) == (3 * 10 * len(fresh) > 2 * 40)


def test_an_observation_applied_is_not_proposed_again_though_timed_after_its_block() -> None:
    """Signers' clocks 2 s ahead of the proposer's: their observations are still newer than
    the committed price time at the next block, but each counted once already."""
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    when = box.next_context().time_ms
    pool = PriceObservationPool(lambda: VALIDATORS)
    for index in (0, 1, 2):
        pool.add(observe(index, when + 2_000))
    update = pool.compute_update(FreshnessRule.at(box.state, when))
    assert update is not None
    assert box.apply([encode_tx(update)]).tx_results[0].is_ok()
    rule = FreshnessRule.at(box.state, box.next_context().time_ms)
    assert rule.after_ms < when + 2_000
    assert pool.compute_update(rule) is None
    again = box.apply([encode_tx(update)]).tx_results[0]
    assert not again.is_ok() and "ObservationNotNewer" in again.detail
