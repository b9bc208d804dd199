"""The evm oracle source: its config (bad values name the file, the key and what is
expected), its reads in a worker thread under a timeout (a hung RPC costs one round,
the loop and the other sources go on, the failure shows in the status), and real
reads of a PriceFeed on anvil with the bridge's typed refusals."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import pytest
import trio

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.loopback import get_free_port
from bridge.pricefeed import FeedSpec, FeedStale, deploy_price_feed, update_price_feed
from devnet.sandbox import Sandbox
from node.config import CONFIG_FILE_NAME, NodeConfig, load_config
from node.config_table import ConfigError
from node.oracle.sampler import OracleSampler
from node.oracle.service import build_sources
from node.oracle.sources import EvmFeedSource, SimulatedSource, SourceError, build_source
from node.oracle_config import EvmFeedConfig
from tests.node.oracle.test_status import GENESIS

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "node.example.toml"
FEED = "0x" + "22" * 20
BASE = "chain_id = 7\nmoniker = 'n0'\n"
CHAIN = "[[bridge_chains]]\nname = 'dev'\nchain_id = {chain_id}\nrpc_url = '{url}'\n" + (
    "vault_address = '0x" + "11" * 20 + "'\n"
)
EVM = "[[oracle.sources]]\nkind = 'evm'\nchain = 'dev'\nsymbols = ['BTC/0.001']\n"
BTC_FEED = "feeds = {{ 'BTC/0.001' = {{ address = '{address}', decimals = 8, scale = '1000' }} }}\n"
DEV = account_from_key(DEV_PRIVATE_KEY)


def write_config(home: Path, text: str) -> NodeConfig:
    path = home / CONFIG_FILE_NAME
    path.write_text(text)
    return load_config(home, path)


def evm_config(url: str = "http://127.0.0.1:8545", chain_id: int = 31337, **keys: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return (
        BASE + CHAIN.format(chain_id=chain_id, url=url) + EVM + extra
        + BTC_FEED.format(address=FEED)
    )  # fmt: skip


def test_evm_source_config_gives_each_symbol_its_feed_and_exact_scale(tmp_path: Path) -> None:
    config = write_config(tmp_path, evm_config(max_age_ms="120000", timeout_ms="500"))
    (source,) = config.oracle.sources
    assert source.feeds == (EvmFeedConfig("BTC/0.001", FEED, 8, Fraction(1000)),)
    assert (source.chain, source.max_age_ms, source.timeout_ms) == ("dev", 120_000, 500)
    fractional = evm_config().replace("scale = '1000'", "scale = '0.001'")
    assert write_config(tmp_path, fractional).oracle.sources[0].feeds[0].scale == Fraction(1, 1000)


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (("chain = 'dev'", "chain = 'mainnet'"), "chain", "a name from bridge_chains ['dev']"),
        ((FEED, "0x1234"), "feeds.BTC/0.001.address", "matching 0x[0-9a-fA-F]{40}"),
        (("decimals = 8", "decimals = 8, heartbeat = 5"), "feeds.BTC/0.001.heartbeat", "known key"),
        (("feeds = {", "feed = {"), "feeds.BTC/0.001.address", "required"),
        (("scale = '1000'", "scale = 0.1"), "feeds.BTC/0.001.scale", "decimal string"),
        (("scale = '1000'", "scale = '-1'"), "feeds.BTC/0.001.scale", "a positive"),
        (("scale = '1000'", "scale = 'NaN'"), "feeds.BTC/0.001.scale", "a positive"),
        ((", scale = '1000'", ""), "feeds.BTC/0.001.scale", "required"),
        (("decimals = 8", "decimals = 99"), "feeds.BTC/0.001.decimals", "between 0 and 36"),
        (("'BTC/0.001' =", "'ETH/0.01' = {}, 'BTC/0.001' ="), "feeds.ETH/0.01", "a known key"),
        (("http://127.0.0.1:8545", "ws://127.0.0.1:8545"), "chain", "rpc_url is http(s)"),
    ],
)
def test_bad_evm_source_config_names_file_key_and_expectation(
    tmp_path: Path, change: tuple[str, str], key: str, expected: str
) -> None:
    text = evm_config().replace(*change)
    with pytest.raises(ConfigError) as info:
        write_config(tmp_path, text)
    assert info.value.file == tmp_path / CONFIG_FILE_NAME
    assert info.value.key == f"oracle.sources[0].{key}", info.value
    assert expected in info.value.expected


def test_the_documented_evm_example_loads(tmp_path: Path) -> None:
    """configs/node.example.toml's commented evm source and bridge chain, uncommented."""
    text = EXAMPLE.read_text()
    start = text.index("# [[oracle.sources]]\n# # Chainlink-style")
    last = "# confirmation_depth = 12\n"
    end = text.index(last, start) + len(last)
    toml = [line[2:] for line in text[start:end].splitlines()
            if re.match(r"# (\[|[a-z_]+ = )", line)]  # fmt: skip
    config = write_config(tmp_path, BASE + "\n".join(toml))
    (source,) = config.oracle.sources
    assert (source.chain, source.max_age_ms, source.timeout_ms) == ("sepolia", 3_600_000, 2_000)
    assert [(f.symbol, f.decimals, f.scale) for f in source.feeds] == [
        ("ETH/quantum", 8, Fraction(1)), ("BTC/0.001", 8, Fraction(1_000))
    ]  # fmt: skip


class FakeReader:
    """A reader that blocks its thread until released, like an RPC that hangs."""

    def __init__(self, prices: dict[str, int]) -> None:
        self.prices = prices
        self.release = threading.Event()
        self.release.set()

    def read_prices(
        self, feeds: Mapping[str, FeedSpec], max_age_s: int, now_s: int
    ) -> dict[str, int]:
        self.release.wait()
        return {s: self.prices[s] for s in feeds}


def fake_source(reader: FakeReader, timeout_s: float = 0.2) -> EvmFeedSource:
    feeds = {"BTC/0.001": FeedSpec(b"\x22" * 20, 8, Fraction(1000))}
    return EvmFeedSource("dev", feeds, reader, 60_000, timeout_s, lambda: 1_000_000)


async def test_a_hung_feed_costs_its_own_round_while_other_sources_go_on() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    reader = FakeReader({"BTC/0.001": 61_000_000})
    simulator = SimulatedSource({"ETH/0.01": 30_000_000}, 1, 10, lambda: 0)
    sources = [fake_source(reader), simulator]
    service = OracleSampler(sources, box.validator_keys[0], lambda: box.state, lambda: 5_000)
    eth = {"ETH/0.01": simulator.get_price("ETH/0.01", 0)}
    assert await service.collect() == {"BTC/0.001": 61_000_000, **eth}
    reader.release.clear()
    with trio.fail_after(5):  # the loop is free: the timeout fires while the thread hangs
        assert await service.collect() == eth
    reader.release.set()
    evm, sim = (h.render() for h in service.health)
    assert (evm["name"], evm["ok"], evm["errors"]) == ("evm(dev)", 1, 1)
    assert evm["last_error"] == "no answer within 0.2 s" and evm["last_error_ms"] == 5_000
    assert (sim["ok"], sim["errors"], sim["last_error"]) == (2, 0, None)


async def test_a_reader_failure_of_any_type_is_a_source_error() -> None:
    class Broken(FakeReader):
        def read_prices(
            self, feeds: Mapping[str, FeedSpec], max_age_s: int, now_s: int
        ) -> dict[str, int]:
            raise FeedStale("0x22", 1, now_s, max_age_s)

    with pytest.raises(SourceError) as info:
        await fake_source(Broken({})).sample()
    assert info.value.source == "evm(dev)"
    assert info.value.reason == (
        "FeedStale: feed 0x22: updated at 1, 999 s before now (1000), older than the 60 s allowed"
    )


def test_an_evm_source_naming_no_configured_chain_is_left_out(tmp_path: Path) -> None:
    config = write_config(tmp_path, evm_config())
    built = build_sources(config)
    assert [s.name for s in built] == ["evm(dev)"]
    with pytest.raises(SourceError, match="no such bridge chain"):
        build_source(config.oracle.sources[0], chains=())


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(chain_id=31_337) as node:
        yield node


@pytest.mark.chain
async def test_an_evm_source_built_from_config_reads_a_feed_on_anvil(
    tmp_path: Path, anvil: AnvilNode
) -> None:
    chain = connect(anvil.url, anvil.chain_id)
    feed = deploy_price_feed(chain, DEV, 8, "BTC / USD", 60_000 * 10**8)
    text = evm_config(anvil.url, anvil.chain_id).replace(FEED, feed.address)
    config = write_config(tmp_path, text + "max_age_ms = 60000\n")
    clock = {"ms": chain.w3.eth.get_block("latest")["timestamp"] * 1000}
    source = build_source(config.oracle.sources[0], config.bridge_chains, lambda: clock["ms"])
    assert await source.sample() == {"BTC/0.001": 60_000_000}
    await trio.to_thread.run_sync(update_price_feed, chain, feed, 59_999_99999999, DEV)
    assert await source.sample() == {"BTC/0.001": 59_999_999}  # floored
    clock["ms"] += 3_600_000
    with pytest.raises(SourceError, match="FeedStale"):
        await source.sample()


async def test_an_evm_source_on_a_down_rpc_fails_its_round(tmp_path: Path) -> None:
    config = write_config(tmp_path, evm_config(f"http://127.0.0.1:{get_free_port()}"))
    source = build_source(config.oracle.sources[0], config.bridge_chains, lambda: 0)
    with pytest.raises(SourceError, match=r"FeedUnreachable: .* ConnectionError"):
        await source.sample()
