"""Price sources. Each returns integer prices by id (a genesis feed id or instrument
id) in the ledger's price units; no float is ever produced (HTTP JSON numbers are
parsed as Decimal and scaled exactly).

- SimulatedSource: a seeded path as a function of wall-clock time, the same on every
  validator, with an optional scheduled shock (devnets); it also prices the series
  listed since genesis, from their index feed's path;
- ReplaySource: rows of a CSV (header = ids) or JSONL file, cycling at the end;
- HttpJsonSource: an HTTP(S) JSON endpoint, one dotted path per id;
- EvmFeedSource: price-feed contracts on a bridge chain, read by the bridge adapter
  (bridge/pricefeed.py) in a worker thread under a timeout.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
import trio

from clearing.instruments import Instrument, InstrumentKind, OptionType
from clearing.risk.black76 import compute_option_value
from node.clock import wall_clock_ms
from node.config import BridgeChainConfig
from node.oracle_config import OracleSourceConfig

if TYPE_CHECKING:
    from bridge.pricefeed import FeedSpec

log = logging.getLogger(__name__)

BPS = 10_000


class SourceError(Exception):
    """A source could not produce prices this round; names the source and why."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"price source {source}: {reason}")


class PriceSource(Protocol):
    name: str

    async def sample(self) -> dict[str, int]: ...


SIMULATOR_WINDOW = 64
"""Steps a simulated price sums: it wanders, yet stays within WINDOW * max_step_bps."""
SIMULATED_VOL_BPS = 6000
"""The volatility a simulated option is valued at (Black-76, no rate)."""


def compute_simulated_step(seed: int, key: str, step: int, max_step_bps: int) -> int:
    """The seeded step (bps, in [-max_step_bps, +max_step_bps]) of `key` at path step `step`."""
    digest = hashlib.sha256(f"{seed}:{key}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2 * max_step_bps + 1) - max_step_bps


class SimulatedSource:
    """Prices as a pure function of the wall clock, the same on every validator.

    At time t (path step k = t // step_ms) a price is its start moved by the sum of
    the seeded steps k-WINDOW+1 .. k, so validators sampling within one step see
    the same price and a few steps apart nearly the same one (neighbouring steps
    differ by at most 2 * max_step_bps of the start), and a restarted validator is
    back on the same path at once. From `shock_at_ms` on, every price is scaled by
    (BPS + shock_bps) / BPS (floored, at least 1): a devnet's scheduled crash. With
    `shock_file`, the instant is the unix ms that file holds, read at each sample: a
    devnet schedules its crash once its members hold their positions, whatever the
    machine's load made that take, and writes one instant into every validator's file
    before it comes.

    With `instruments` (those listed since genesis, read at each sample) it also marks
    each unexpired one it has no path of: a perpetual or future at its index feed's
    price (no basis), an option at its Black-76 value at `SIMULATED_VOL_BPS` on the
    price of its future (listed with it, as a template lists a series and its ladder),
    with the time to expiry counted from the path step, so that validators sampling
    within one step agree. So a series listed by governance or a listing template is
    priced from the block that lists it; the genesis's instruments keep to the paths the
    operator configured.
    """

    def __init__(
        self,
        prices: Mapping[str, int],
        seed: int,
        max_step_bps: int,
        clock_ms: Callable[[], int],
        step_ms: int = 1_000,
        shock_at_ms: int | None = None,
        shock_bps: int = 0,
        instruments: Callable[[], Iterable[Instrument]] | None = None,
        shock_file: Path | None = None,
    ) -> None:
        self.name = f"simulator(seed={seed})"
        self._start = dict(sorted(prices.items()))
        self._seed = seed
        self._max_step = max_step_bps
        self._clock_ms = clock_ms
        self._step_ms = step_ms
        self._shock_at_ms = shock_at_ms
        self._shock_bps = shock_bps
        self._shock_file = shock_file
        self._instruments = instruments

    def get_price(self, key: str, time_ms: int) -> int:
        """The simulated price of `key` at unix time `time_ms`."""
        k = time_ms // self._step_ms
        moved = sum(
            compute_simulated_step(self._seed, key, j, self._max_step)
            for j in range(k - SIMULATOR_WINDOW + 1, k + 1)
        )
        price = max(1, self._start[key] * (BPS + moved) // BPS)
        if self._shock_at_ms is not None and time_ms >= self._shock_at_ms:
            price = max(1, price * (BPS + self._shock_bps) // BPS)
        return price

    def get_listed_marks(
        self, instruments: Iterable[Instrument], time_ms: int, prices: Mapping[str, int]
    ) -> dict[str, int]:
        """Marks of the unexpired ``instruments`` without a path of their own, derived
        from ``prices`` (this sample's paths)."""
        by_id = {i.id: i for i in instruments}
        step_start_ms = time_ms // self._step_ms * self._step_ms
        marks = {}
        for instrument in by_id.values():
            if instrument.id in prices or instrument.is_expired_at(time_ms):
                continue
            if instrument.kind is not InstrumentKind.OPTION:
                if instrument.index_feed in prices:
                    marks[instrument.id] = prices[instrument.index_feed]
                continue
            future = by_id.get(instrument.underlying)
            forward = (
                None if future is None else prices.get(future.id, prices.get(future.index_feed))
            )
            if forward is None or instrument.strike is None or instrument.expiry_ms is None:
                continue
            value = compute_option_value(
                forward, instrument.strike, SIMULATED_VOL_BPS,
                instrument.expiry_ms - step_start_ms, 0,
                instrument.option_type is OptionType.CALL,
            )  # fmt: skip
            marks[instrument.id] = max(1, int(value))
        return marks

    async def sample(self) -> dict[str, int]:
        if self._shock_file is not None:
            self._shock_at_ms = read_shock_file(self._shock_file)
        now = self._clock_ms()
        prices = {key: self.get_price(key, now) for key in self._start}
        if self._instruments is not None:
            prices.update(self.get_listed_marks(self._instruments(), now, prices))
        return prices


def read_shock_file(path: Path) -> int | None:
    """The unix ms a shock file holds; None while there is none (or it is not one: a
    shock is a devnet's, and a bad file must not stop the prices)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("shock file %s unreadable: %s", path, exc.strerror)
        return None
    if not text.isascii() or not text.isdigit():
        log.warning("shock file %s does not hold a unix time in ms: %.40r", path, text)
        return None
    return int(text)


def parse_price_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise SourceError(where, f"expected a positive integer price, got {value!r}")
    price = int(value)
    if price <= 0:
        raise SourceError(where, f"expected a positive integer price, got {price}")
    return price


def load_replay(path: Path, ids: tuple[str, ...]) -> list[dict[str, int]]:
    """Rows of prices for `ids` from CSV (header row of ids) or JSONL (one object a line)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read ({exc.strerror})") from exc
    if path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                rows.extend([json.loads(line)] if line.strip() else [])
            except json.JSONDecodeError:
                raise SourceError(str(path), f"line {n}: not JSON") from None
    else:
        rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise SourceError(str(path), "no rows")
    out = []
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or any(i not in row for i in ids):
            raise SourceError(f"{path}:{n}", f"row must give every id of {list(ids)}")
        out.append({i: parse_price_int(row[i], f"{path}:{n}:{i}") for i in ids})
    return out


class ReplaySource:
    def __init__(self, path: Path, ids: tuple[str, ...]) -> None:
        self.name = f"replay({path.name})"
        self._rows = load_replay(path, ids)
        self._next = 0

    async def sample(self) -> dict[str, int]:
        row = self._rows[self._next % len(self._rows)]
        self._next += 1
        return dict(row)


def get_json_path(doc: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise KeyError(path)
    return doc


def scale_decimal(value: object, decimals: int) -> int:
    """`value` * 10**decimals, floored, exactly (Decimal in, int out)."""
    if not isinstance(value, Decimal | str):
        raise InvalidOperation(repr(value))
    return int(Decimal(value).scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))


class HttpJsonSource:
    def __init__(
        self, url: str, json_paths: Mapping[str, str], decimals: int, timeout_s: float
    ) -> None:
        self.name = f"http({url})"
        self._url = url
        self._paths = dict(json_paths)
        self._decimals = decimals
        self._timeout = timeout_s

    async def sample(self) -> dict[str, int]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self._url)
        except httpx.HTTPError as exc:
            raise SourceError(self.name, f"request failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SourceError(self.name, f"HTTP status {response.status_code}")
        try:
            doc = json.loads(response.content, parse_float=Decimal, parse_int=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SourceError(self.name, "answer is not JSON") from None
        prices = {}
        for key, path in self._paths.items():
            try:
                price = scale_decimal(get_json_path(doc, path), self._decimals)
            except (KeyError, InvalidOperation, ValueError):
                raise SourceError(self.name, f"no decimal number at {path!r} for {key}") from None
            if price <= 0:
                raise SourceError(self.name, f"{key}: price {price} is not positive")
            prices[key] = price
        return prices


class EvmReader(Protocol):
    """Reads feeds on one chain, blocking (bridge.pricefeed.FeedReader)."""

    def read_prices(
        self, feeds: Mapping[str, FeedSpec], max_age_s: int, now_s: int
    ) -> dict[str, int]: ...


class EvmFeedSource:
    """Price-feed contracts on one bridge chain, one per symbol.

    The blocking read runs in a worker thread bounded by `timeout_s`: a hung RPC costs
    this source its round, never the event loop (the thread is abandoned, and the
    reader refuses further reads until it returns, so threads do not pile up).
    Staleness is judged against this node's clock (see bridge/pricefeed.py).
    """

    def __init__(
        self,
        chain: str,
        feeds: Mapping[str, FeedSpec],
        reader: EvmReader,
        max_age_ms: int,
        timeout_s: float,
        clock_ms: Callable[[], int],
    ) -> None:
        self.name = f"evm({chain})"
        self._feeds = dict(feeds)
        self._reader = reader
        self._max_age_s = max_age_ms // 1000
        self._timeout_s = timeout_s
        self._clock_ms = clock_ms

    async def sample(self) -> dict[str, int]:
        now_s = self._clock_ms() // 1000
        try:
            with trio.fail_after(self._timeout_s):
                return await trio.to_thread.run_sync(
                    self._reader.read_prices,
                    self._feeds,
                    self._max_age_s,
                    now_s,
                    abandon_on_cancel=True,
                )
        except trio.TooSlowError:
            raise SourceError(self.name, f"no answer within {self._timeout_s} s") from None
        except Exception as exc:  # typed ChainErrors, and any web3 oddity: a lost round only
            raise SourceError(self.name, f"{type(exc).__name__}: {exc}") from None


def build_evm_source(
    config: OracleSourceConfig,
    chains: Sequence[BridgeChainConfig],
    clock_ms: Callable[[], int],
) -> EvmFeedSource:
    """An evm source reading over its bridge chain's RPC URL (config checked the name)."""
    # Only here: the feed reader imports web3 and eth_account, over a quarter of a start's
    # imports, which a node without an evm source never pays.
    from bridge.pricefeed import FeedReader, FeedSpec

    chain = next((c for c in chains if c.name == config.chain), None)
    if chain is None:
        raise SourceError(f"evm({config.chain})", "no such bridge chain configured")
    timeout_s = config.timeout_ms / 1000
    feeds = {f.symbol: FeedSpec(bytes.fromhex(f.address[2:]), f.decimals, f.scale)
             for f in config.feeds}  # fmt: skip
    reader = FeedReader(chain.rpc_url, chain.chain_id, timeout_s)
    return EvmFeedSource(chain.name, feeds, reader, config.max_age_ms, timeout_s, clock_ms)


def build_source(
    config: OracleSourceConfig,
    chains: Sequence[BridgeChainConfig] = (),
    clock_ms: Callable[[], int] = wall_clock_ms,
    instruments: Callable[[], Iterable[Instrument]] | None = None,
) -> PriceSource:
    """The source a config entry describes; evm sources read `chains`' RPC URLs; a
    simulator also prices `instruments` (those listed since genesis)."""
    if config.kind == "simulator":
        prices = dict(zip(config.symbols, config.start_prices, strict=True))
        return SimulatedSource(
            prices,
            config.seed,
            config.max_step_bps,
            clock_ms,
            config.step_ms,
            config.shock_at_ms,
            config.shock_bps,
            instruments,
            config.shock_file,
        )
    if config.kind == "replay":
        assert config.path is not None
        return ReplaySource(config.path, config.symbols)
    if config.kind == "http":
        return HttpJsonSource(
            config.url, dict(config.json_paths), config.decimals, config.timeout_ms / 1000
        )
    return build_evm_source(config, chains, clock_ms)
