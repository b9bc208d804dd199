"""Oracle sources (simulator, replay, HTTP against a local server; EVM feeds in
tests/node/oracle/test_evm_source.py) and signed observations that clearing's price
update accepts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import trio
import trio.testing

from clearing.oracle import PriceObservation, PriceUpdate
from clearing.transition.tx import encode_tx
from devnet.sandbox import Sandbox
from node.api.http import Request, Response, get_bound_port, json_response, serve_http
from node.oracle.sampler import OracleSampler
from node.oracle.sources import (
    HttpJsonSource,
    ReplaySource,
    SimulatedSource,
    SourceError,
)

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


async def test_simulator_is_deterministic_and_bounded() -> None:
    now = [1_767_225_600_000]
    a = SimulatedSource({"BTC/0.001": 60_000_000}, 3, 50, lambda: now[0])
    b = SimulatedSource({"BTC/0.001": 60_000_000}, 3, 50, lambda: now[0])
    previous = (await a.sample())["BTC/0.001"]
    for _ in range(20):
        now[0] += 1_000
        pa, pb = await a.sample(), await b.sample()
        assert pa == pb and isinstance(pa["BTC/0.001"], int)
        # one step in, one out of the window: at most 2 * 50 bps of the start apart
        assert abs(pa["BTC/0.001"] - previous) <= 2 * 60_000_000 * 50 // 10_000 + 1
        assert abs(pa["BTC/0.001"] - 60_000_000) <= 60_000_000 * 64 * 50 // 10_000
        previous = pa["BTC/0.001"]


async def test_replay_csv_and_jsonl_cycle_and_reject_bad_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("BTC,ETH\n100,10\n101,11\n")
    source = ReplaySource(csv_file, ("BTC", "ETH"))
    assert [await source.sample() for _ in range(3)] == [
        {"BTC": 100, "ETH": 10}, {"BTC": 101, "ETH": 11}, {"BTC": 100, "ETH": 10},
    ]  # fmt: skip
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"BTC": 5}\n{"BTC": 6}\n')
    assert await ReplaySource(jsonl, ("BTC",)).sample() == {"BTC": 5}
    for text, suffix, match in (
        ("BTC\n1.5\n", ".csv", "positive integer"),
        ("ETH\n1\n", ".csv", "every id"),
        ('{"BTC": 1}\nnope\n', ".jsonl", "line 2"),
        ("", ".csv", "no rows"),
    ):
        bad = tmp_path / f"bad{suffix}"
        bad.write_text(text)
        with pytest.raises(SourceError, match=match):
            ReplaySource(bad, ("BTC",))


async def test_http_source_against_a_local_server() -> None:
    answers = [
        json_response(200, {"data": {"BTC": {"price": 60123.456789}}}),
        json_response(200, {"data": {}}),
        Response(200, b"<html>"),
        json_response(503, {}),
    ]

    async def handler(_: Request) -> Response:
        return answers.pop(0)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_http(
                handler, "127.0.0.1", 0, max_body_bytes=1024,
                on_error=lambda s, t, m, d: json_response(s, {}), task_status=task_status,
            )
        )  # fmt: skip
        url = f"http://127.0.0.1:{get_bound_port(listeners)}/spot"
        source = HttpJsonSource(url, {"BTC/0.001": "data.BTC.price"}, decimals=3, timeout_s=5)
        assert await source.sample() == {"BTC/0.001": 60_123_456}  # floored, exact
        for match in ("no decimal number", "not JSON", "HTTP status 503"):
            with pytest.raises(SourceError, match=match):
                await source.sample()
        nursery.cancel_scope.cancel()
    with pytest.raises(SourceError, match="request failed"):
        await HttpJsonSource("http://127.0.0.1:9/x", {"A": "a"}, 0, 2).sample()


class Broken:
    name = "broken"

    async def sample(self) -> dict[str, int]:
        raise SourceError(self.name, "down")


async def test_observations_from_every_validator_commit_in_a_block() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    when = box.next_context().time_ms

    def clock() -> int:
        return when

    observations = []
    for key in box.validator_keys:
        sources = [
            Broken(),
            SimulatedSource({"BTC/0.001": 60_100_000, "BTC-PERP": 60_050_000}, 1, 10, clock),
            SimulatedSource({"BTC/0.001": 1, "NOT-IN-GENESIS": 5}, 2, 10, clock),
        ]
        service = OracleSampler(sources, key, lambda: box.state, clock_ms=lambda: when)
        observation = await service.observe()
        assert observation is not None
        observations.append(observation)
    first = observations[0]
    assert dict(first.index_prices).keys() == {"BTC/0.001"}  # first source wins; unknown dropped
    assert dict(first.mark_prices).keys() == {"BTC-PERP"}
    result = box.apply([encode_tx(PriceUpdate(tuple(observations)))])
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail
    assert box.state.index_prices["BTC/0.001"] == dict(first.index_prices)["BTC/0.001"]


async def test_run_sends_one_observation_per_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    source = SimulatedSource(
        {"ETH/0.01": 30_000_000}, 4, 10, lambda: int(trio.current_time() * 1000)
    )
    service = OracleSampler([source], box.validator_keys[0], lambda: box.state, clock_ms=lambda: 0)
    send, receive = trio.open_memory_channel[PriceObservation](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run, send, 1_000)
        got = [await receive.receive() for _ in range(3)]
        nursery.cancel_scope.cancel()
    assert trio.current_time() >= 2.0
    assert len({o.index_prices for o in got}) >= 2
    assert all(o.signer == box.validator_keys[0].public_key().public_bytes_raw() for o in got)
