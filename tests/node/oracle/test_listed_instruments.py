"""The oracle follows the instruments in force in the committed state: a series listed
after genesis (here by a listing template) is sampled, gossiped and committed like a
genesis one; a node whose state does not know it yet drops it without a penalty."""

from __future__ import annotations

import pytest

from clearing.errors import BadSignature, UnknownInstrument
from clearing.oracle import PriceObservation, PriceUpdate, sign_price_observation
from clearing.transition.tx import encode_tx
from devnet.sandbox import Sandbox
from node.oracle.gossip import ObservationCheck, encode_observation
from node.oracle.sampler import OracleSampler
from node.oracle.sources import SimulatedSource
from tests.clearing.support import genesis_doc
from tests.clearing.test_listing_template import DEC_25_2026, quarterly_doc

SERIES = "BTC-25DEC26"
CALL = "BTC-25DEC26-60000-C"


def template_box() -> Sandbox:
    doc = genesis_doc()
    doc["listing_templates"] = [quarterly_doc()]
    return Sandbox.from_genesis_doc(doc)


def simulator(box: Sandbox, when: int) -> SimulatedSource:
    """Prices what the operator configured, and what was listed since genesis (as
    node/oracle/service.py builds it)."""
    genesis_ids = {i.id for i in box.state.genesis.instruments}
    return SimulatedSource(
        {"BTC/0.001": 62_000_000, "BTC-PERP": 62_000_000}, 7, 10, lambda: when,
        instruments=lambda: [i for i in box.state.instruments.values()
                             if i.id not in genesis_ids],
    )  # fmt: skip


async def test_a_listed_series_and_its_options_are_observed_and_their_marks_committed() -> None:
    box = template_box()
    when = box.next_context().time_ms
    services = [
        OracleSampler([simulator(box, when)], key, lambda: box.state, clock_ms=lambda: when)
        for key in box.validator_keys
    ]
    before = await services[0].observe()
    assert before is not None and SERIES not in dict(before.mark_prices)
    box.apply([])  # the template lists its series
    observations = [await s.observe() for s in services]
    assert all(o is not None for o in observations)
    first = observations[0]
    assert first is not None
    marks = dict(first.mark_prices)
    index = dict(first.index_prices)["BTC/0.001"]
    assert marks[SERIES] == index and CALL in marks and marks[CALL] > 1
    assert "BTC-26DEC26" not in marks  # a genesis instrument: priced only if configured
    listed_mark = box.state.mark_prices[SERIES]
    block = box.apply([encode_tx(PriceUpdate(tuple(o for o in observations if o)))])
    assert block.tx_results[0].is_ok(), block.tx_results[0].detail
    assert box.state.mark_prices[SERIES] == index != listed_mark


def test_the_simulator_derives_no_mark_for_expired_or_unpriceable_instruments() -> None:
    box = template_box()
    box.apply([])
    source = simulator(box, DEC_25_2026)
    prices = {"BTC/0.001": 62_000_000}
    marks = source.get_listed_marks(box.state.instruments.values(), DEC_25_2026, prices)
    assert SERIES not in marks and CALL not in marks  # expired at that time
    assert marks["BTC-26MAR27"] == 62_000_000
    assert "ETH-PERP" not in marks  # its index feed has no path here
    # a call and a put at one strike: the put's value rises as the call's falls
    low = source.get_listed_marks(box.state.instruments.values(), DEC_25_2026, {"BTC/0.001": 1})
    assert low["BTC-26MAR27-60000-P"] > marks["BTC-26MAR27-60000-P"]
    assert low["BTC-26MAR27-60000-C"] < marks["BTC-26MAR27-60000-C"]


def observe(box: Sandbox, mark_prices: dict[str, int]) -> PriceObservation:
    return sign_price_observation(
        box.validator_keys[0], box.chain_id, box.state.time_ms, {}, mark_prices
    )


def test_gossip_accepts_a_listed_series_and_ignores_one_this_node_does_not_know_yet() -> None:
    ahead, behind = template_box(), template_box()
    ahead.apply([])
    observation = observe(ahead, {SERIES: 61_000_000})
    data = encode_observation(ahead.chain_id, observation)
    check_ahead = ObservationCheck.from_genesis(
        ahead.genesis, lambda: ahead.state, lambda: ahead.state.time_ms
    )
    assert check_ahead.decode(data) == observation
    check_behind = ObservationCheck.from_genesis(
        behind.genesis, lambda: behind.state, lambda: ahead.state.time_ms
    )
    with pytest.raises(UnknownInstrument) as info:
        check_behind.decode(data)
    assert info.value.instrument_id == SERIES
    assert UnknownInstrument in check_behind.topic().ignores
    forged = PriceObservation(
        observation.signer, observation.observed_ms, (), ((SERIES, 1),), observation.signature
    )
    with pytest.raises(BadSignature):  # a forgery is refused before its ids are looked up
        check_behind.decode(encode_observation(ahead.chain_id, forged))
