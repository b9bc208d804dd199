"""The `[oracle]` section of `config.toml`: the price sources a validator reads (a
simulator, a replayed file, an HTTP API, EVM price feeds) and how often.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from node.config_table import ConfigTable, read_table

ORACLE_SOURCE_KINDS = ("simulator", "replay", "http", "evm")


@dataclass(frozen=True)
class EvmFeedConfig:
    """One price-feed contract of an evm source: the price id it gives, the decimals the
    contract must report, and how many ledger price units one whole unit of its answer is."""

    symbol: str
    address: str
    decimals: int
    scale: Fraction


@dataclass(frozen=True)
class OracleSourceConfig:
    """One price source. `kind` picks which of the other fields apply (see node.example.toml)."""

    kind: str
    symbols: tuple[str, ...]
    # simulator
    seed: int = 0
    start_prices: tuple[int, ...] = ()
    max_step_bps: int = 50
    # the simulated path moves once per step_ms of wall-clock time
    step_ms: int = 1_000
    # from unix ms shock_at_ms on, every simulated price is scaled by (10_000 + shock_bps) / 10_000
    shock_at_ms: int | None = None
    shock_bps: int = 0
    # or from the unix ms written in this file at run time (absent: no shock yet)
    shock_file: Path | None = None
    # replay
    path: Path | None = None
    # http
    url: str = ""
    # symbol -> dotted path in the JSON answer, e.g. "data.BTC.price"
    json_paths: tuple[tuple[str, str], ...] = ()
    decimals: int = 8
    # http and evm: a read not answered within this is this round's failure
    timeout_ms: int = 2_000
    # evm: a [[bridge_chains]] name, one feed per symbol, and the oldest updatedAt accepted
    chain: str = ""
    feeds: tuple[EvmFeedConfig, ...] = ()
    max_age_ms: int = 3_600_000


@dataclass(frozen=True)
class OracleConfig:
    enabled: bool = True
    interval_ms: int = 1_000
    sources: tuple[OracleSourceConfig, ...] = ()


def _oracle_source(home: Path) -> Callable[[ConfigTable], OracleSourceConfig]:
    def build(t: ConfigTable) -> OracleSourceConfig:
        kind = t.choice("kind", ORACLE_SOURCE_KINDS)
        symbols = t.list_of("symbols", str, "a symbol string such as BTC-USD")
        if not symbols:
            raise t.fail("symbols", "a non-empty list of symbols")
        t.scope = f'kind = "{kind}"'
        if kind == "simulator":
            prices = t.list_of("start_prices", int, "a positive integer price")
            if len(prices) != len(symbols) or any(p <= 0 for p in prices):
                raise t.fail(
                    "start_prices",
                    f"{len(symbols)} positive integers, one per symbol",
                    list(prices),
                )
            return OracleSourceConfig(
                kind=kind,
                symbols=symbols,
                seed=t.integer("seed", 0),
                start_prices=prices,
                max_step_bps=t.integer("max_step_bps", 50, lo=1, hi=10_000),
                step_ms=t.integer("step_ms", OracleSourceConfig.step_ms, lo=1),
                **_shock(t, home),
            )
        if kind == "replay":
            return OracleSourceConfig(kind=kind, symbols=symbols, path=t.path("path", home))
        if kind == "http":
            url = t.text("url", pattern=r"https?://\S+")
            paths = t.table("json_paths")
            paths.names_are = "<symbol>"
            paths.note("<symbol>", "a string: a dotted path in the JSON answer", None)
            json_paths = tuple((s, paths.text(s)) for s in symbols)
            paths.check_no_unknown_keys()
            return OracleSourceConfig(
                kind=kind,
                symbols=symbols,
                url=url,
                json_paths=json_paths,
                decimals=t.integer("decimals", 8, hi=36),
                timeout_ms=t.integer("timeout_ms", 2_000, lo=1),
            )
        feeds = t.table("feeds")
        source = OracleSourceConfig(
            kind=kind,
            symbols=symbols,
            chain=t.text("chain"),
            feeds=tuple(read_table(feeds.table(s, "<symbol>"), _evm_feed(s)) for s in symbols),
            max_age_ms=t.integer("max_age_ms", OracleSourceConfig.max_age_ms, lo=1_000),
            timeout_ms=t.integer("timeout_ms", OracleSourceConfig.timeout_ms, lo=1),
        )
        feeds.check_no_unknown_keys()
        return source

    return build


def _evm_feed(symbol: str) -> Callable[[ConfigTable], EvmFeedConfig]:
    def build(t: ConfigTable) -> EvmFeedConfig:
        return EvmFeedConfig(
            symbol=symbol,
            address=t.text("address", pattern=r"0x[0-9a-fA-F]{40}"),
            decimals=t.integer("decimals", 8, hi=36),
            scale=_exact_number(t, "scale"),
        )

    return build


def _exact_number(t: ConfigTable, name: str) -> Fraction:
    """A positive exact number: an integer, or a decimal string such as "0.001" (a TOML
    float is refused: it is binary, so 0.1 is not 1/10)."""
    value = t.data.get(name)
    t.used.add(name)
    expected = 'a positive integer or decimal string such as "0.001"'
    t.note(name, f"{expected} (a TOML float is refused)", None)
    if value is None:
        raise t.fail(name, f"{expected} (required, missing)")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise t.fail(name, expected, value)
    try:
        number = Fraction(Decimal(value))
    except (InvalidOperation, ValueError, OverflowError):  # not a number, NaN, Infinity
        raise t.fail(name, expected, value) from None
    if number <= 0:
        raise t.fail(name, expected, value)
    return number


SHOCK_BPS_RANGE = (-9_999, 100_000)


def _shock(t: ConfigTable, home: Path) -> dict[str, Any]:
    """A devnet's scheduled price shock: `shock_bps` with its instant, either fixed
    (`shock_at_ms`) or written at run time into `shock_file` by whoever schedules it."""
    t.used.update(("shock_at_ms", "shock_file", "shock_bps"))  # known even when left out
    instant = "exactly one of shock_at_ms and shock_file, when shock_bps is set"
    t.note("shock_at_ms", f"an integer >= 0 (unix ms; {instant})", "none")
    t.note("shock_file", f"a path (relative: to the home; {instant})", "none")
    t.note("shock_bps", f"an integer between {SHOCK_BPS_RANGE[0]} and {SHOCK_BPS_RANGE[1]}", 0)
    given = [key for key in ("shock_at_ms", "shock_file") if key in t.data]
    if not given and "shock_bps" not in t.data:
        return {}
    if len(given) != 1:
        one = "a unix time in ms, or shock_file, when shock_bps is set (exactly one"
        if not given:
            raise t.fail("shock_at_ms", f"{one}; required, missing)")
        raise t.fail("shock_at_ms", f"{one})", "both")
    bps = t.integer("shock_bps", lo=SHOCK_BPS_RANGE[0], hi=SHOCK_BPS_RANGE[1])
    if given == ["shock_file"]:
        return {"shock_file": t.path("shock_file", home), "shock_bps": bps}
    return {"shock_at_ms": t.integer("shock_at_ms"), "shock_bps": bps}


def read_oracle(home: Path) -> Callable[[ConfigTable], OracleConfig]:
    def build(t: ConfigTable) -> OracleConfig:
        return OracleConfig(
            enabled=t.flag("enabled", OracleConfig.enabled),
            interval_ms=t.integer("interval_ms", OracleConfig.interval_ms, lo=10),
            sources=tuple(read_table(s, _oracle_source(home)) for s in t.tables("sources")),
        )

    return build
