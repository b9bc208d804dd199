"""The PriceFeed contract on real anvil and the bridge's feed reader: a deployed and
updated feed reads as an exactly scaled ledger price; every bad round, a wrong
feed and an RPC that is down or hangs is a typed refusal carrying its numbers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, ChainIdMismatch, ContractReverted, account_from_key, connect
from bridge.loopback import get_free_port
from bridge.pricefeed import (
    FeedAnswerNotPositive,
    FeedDecimalsMismatch,
    FeedNotReadable,
    FeedPriceOutOfRange,
    FeedReader,
    FeedRoundIncomplete,
    FeedSpec,
    FeedStale,
    FeedUnreachable,
    RoundData,
    compute_ledger_price,
    deploy_price_feed,
    get_feed_address,
    set_price_feed_round,
    update_price_feed,
)
from clearing.units import MAX_UINT64
from tests.bridge.faulty_rpc import FaultyRpc

# BTC/USD with 8 decimals priced per 0.001 BTC in USD micro-units: 1 USD a BTC is 1000.
BTC_SCALE = Fraction(1_000)
MAX_AGE_S = 600
DEV = account_from_key(DEV_PRIVATE_KEY)


@pytest.fixture
def chain(anvil_node: AnvilNode) -> Chain:
    return connect(anvil_node.url, anvil_node.chain_id)


@pytest.fixture
def feed(chain: Chain) -> Contract:
    return deploy_price_feed(chain, DEV, 8, "BTC / USD", 60_000 * 10**8)


def spec_of(feed: Contract, decimals: int = 8, scale: Fraction = BTC_SCALE) -> FeedSpec:
    return FeedSpec(get_feed_address(feed), decimals, scale)


def latest(feed: Contract) -> RoundData:
    round_id, answer, started, updated, answered = feed.functions.latestRoundData().call()
    return RoundData(round_id, answer, started, updated, answered, 8)


@pytest.fixture
def reader(anvil_node: AnvilNode) -> FeedReader:
    return FeedReader(anvil_node.url, anvil_node.chain_id, timeout_s=2)


@pytest.mark.chain
def test_deployed_feed_reads_as_a_scaled_price_and_follows_updates(
    chain: Chain, feed: Contract, reader: FeedReader
) -> None:
    assert feed.functions.decimals().call() == 8
    assert feed.functions.description().call() == "BTC / USD"
    first = latest(feed)
    assert (first.round_id, first.answer, first.answered_in_round) == (1, 60_000 * 10**8, 1)
    now = first.updated_at + 5
    feeds = {"BTC/0.001": spec_of(feed)}
    assert reader.read_prices(feeds, MAX_AGE_S, now) == {"BTC/0.001": 60_000_000}
    update_price_feed(chain, feed, 61_234_56789012, DEV)
    second = latest(feed)
    assert (second.round_id, second.answered_in_round) == (2, 2)
    # 61234.56789012 USD a BTC -> 61.23456789012 USD per 0.001 BTC -> floor in micro-USD
    prices = reader.read_prices(feeds, MAX_AGE_S, second.updated_at)
    assert prices == {"BTC/0.001": 61_234_567}


@pytest.mark.chain
def test_several_feeds_read_in_one_call_each_with_its_scale(
    chain: Chain, feed: Contract, reader: FeedReader
) -> None:
    eth = deploy_price_feed(chain, DEV, 18, "ETH / USD", 3_000 * 10**18)
    feeds = {"BTC/0.001": spec_of(feed), "ETH/quantum": spec_of(eth, 18, Fraction(1))}
    now = latest(feed).updated_at
    assert reader.read_prices(feeds, MAX_AGE_S, now) == {"BTC/0.001": 60_000_000,
                                                         "ETH/quantum": 3_000}  # fmt: skip


@pytest.mark.chain
def test_only_the_owner_updates(chain: Chain, feed: Contract) -> None:
    stranger = account_from_key(b"\x01" * 32)
    chain.request("anvil_setBalance", [stranger.address, hex(10**18)])
    with pytest.raises(ContractReverted) as info:
        update_price_feed(chain, feed, 1, stranger)
    assert info.value.error == "NotOwner" and info.value.args_ == (stranger.address.lower(),)


@pytest.mark.chain
@pytest.mark.parametrize("answer", [0, -5])
def test_a_non_positive_answer_is_refused(
    chain: Chain, feed: Contract, reader: FeedReader, answer: int
) -> None:
    update_price_feed(chain, feed, answer, DEV)
    with pytest.raises(FeedAnswerNotPositive) as info:
        reader.read_prices({"X": spec_of(feed)}, MAX_AGE_S, latest(feed).updated_at)
    assert (info.value.round_id, info.value.answer) == (2, answer)


@pytest.mark.chain
def test_a_stale_round_is_refused_by_the_callers_clock(
    chain: Chain, feed: Contract, reader: FeedReader
) -> None:
    updated = latest(feed).updated_at
    feeds = {"X": spec_of(feed)}
    assert reader.read_prices(feeds, MAX_AGE_S, updated + MAX_AGE_S) == {"X": 60_000_000}
    with pytest.raises(FeedStale) as info:
        reader.read_prices(feeds, MAX_AGE_S, updated + MAX_AGE_S + 1)
    assert (info.value.updated_at, info.value.now_s, info.value.max_age_s) == (
        updated, updated + MAX_AGE_S + 1, MAX_AGE_S
    )  # fmt: skip


@pytest.mark.chain
def test_an_incomplete_round_is_refused(chain: Chain, feed: Contract, reader: FeedReader) -> None:
    now = latest(feed).updated_at
    set_price_feed_round(chain, feed, RoundData(7, 61_000 * 10**8, now, now, 6, 8), DEV)
    with pytest.raises(FeedRoundIncomplete) as info:
        reader.read_prices({"X": spec_of(feed)}, MAX_AGE_S, now)
    assert (info.value.round_id, info.value.answered_in_round) == (7, 6)


@pytest.mark.chain
def test_wrong_decimals_are_refused(feed: Contract, reader: FeedReader) -> None:
    with pytest.raises(FeedDecimalsMismatch) as info:
        reader.read_prices({"X": spec_of(feed, decimals=18)}, MAX_AGE_S, latest(feed).updated_at)
    assert (info.value.expected, info.value.actual) == (18, 8)


@pytest.mark.chain
@pytest.mark.parametrize(
    ("scale", "price"), [(Fraction(1, 10**9), 0), (Fraction(MAX_UINT64), 60_000 * MAX_UINT64)]
)
def test_a_price_outside_the_ledgers_range_is_refused(
    feed: Contract, reader: FeedReader, scale: Fraction, price: int
) -> None:
    with pytest.raises(FeedPriceOutOfRange) as info:
        reader.read_prices({"X": spec_of(feed, scale=scale)}, MAX_AGE_S, latest(feed).updated_at)
    assert info.value.price == price


@pytest.mark.chain
def test_an_address_without_a_feed_is_refused(reader: FeedReader) -> None:
    with pytest.raises(FeedNotReadable):
        reader.read_prices({"X": FeedSpec(b"\x42" * 20, 8, BTC_SCALE)}, MAX_AGE_S, 0)


@pytest.mark.chain
def test_an_rpc_serving_another_chain_is_refused(anvil_node: AnvilNode, feed: Contract) -> None:
    reader = FeedReader(anvil_node.url, 1, timeout_s=2)
    with pytest.raises(ChainIdMismatch) as info:
        reader.read_prices({"X": spec_of(feed)}, MAX_AGE_S, 0)
    assert (info.value.expected, info.value.actual) == (1, anvil_node.chain_id)


@pytest.mark.chain
def test_a_down_rpc_is_unreachable_not_a_crash() -> None:
    reader = FeedReader(f"http://127.0.0.1:{get_free_port()}", 31_001, timeout_s=1)
    with pytest.raises(FeedUnreachable) as info:
        reader.read_prices({"X": FeedSpec(b"\x42" * 20, 8, BTC_SCALE)}, MAX_AGE_S, 0)
    assert "ConnectionError" in info.value.reason


@pytest.fixture
def hung_rpc(anvil_node: AnvilNode) -> Iterator[FaultyRpc]:
    with FaultyRpc(anvil_node.url) as proxy:
        yield proxy


@pytest.mark.chain
def test_a_hung_rpc_times_out_and_one_read_at_a_time_waits_on_it(
    anvil_node: AnvilNode, feed: Contract, hung_rpc: FaultyRpc
) -> None:
    reader = FeedReader(hung_rpc.url, anvil_node.chain_id, timeout_s=0.5)
    feeds = {"X": spec_of(feed)}
    now = latest(feed).updated_at
    assert reader.read_prices(feeds, MAX_AGE_S, now) == {"X": 60_000_000}
    hung_rpc.released.clear()
    with pytest.raises(FeedUnreachable) as info:
        reader.read_prices(feeds, MAX_AGE_S, now)
    assert "Timeout" in info.value.reason
    # a read stuck on the endpoint keeps later ones from piling up behind it
    patient = FeedReader(hung_rpc.url, anvil_node.chain_id, timeout_s=30)
    results: list[dict[str, int]] = []
    stuck = threading.Thread(target=lambda: results.append(patient.read_prices(feeds, 600, now)))
    stuck.start()
    while not patient.is_reading():  # the thread has taken the reader, its request hangs
        stuck.join(0.01)
    with pytest.raises(FeedUnreachable, match="previous read"):
        patient.read_prices(feeds, MAX_AGE_S, now)
    hung_rpc.released.set()
    stuck.join()
    assert results == [{"X": 60_000_000}]
    assert reader.read_prices(feeds, MAX_AGE_S, now) == {"X": 60_000_000}


@given(
    answer=st.integers(1, 10**30),
    decimals=st.integers(0, 36),
    numerator=st.integers(1, 10**12),
    denominator=st.integers(1, 10**12),
)
def test_ledger_price_is_the_exact_floor(
    answer: int, decimals: int, numerator: int, denominator: int
) -> None:
    scale = Fraction(numerator, denominator)
    exact = Fraction(answer, 10**decimals) * scale
    price = compute_ledger_price(answer, decimals, scale)
    assert price <= exact < price + 1
