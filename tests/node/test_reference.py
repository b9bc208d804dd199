"""The operator guide's reference tables and docs/openapi.json are what the code makes:
config keys as the loader reads them, metrics as a node exposes them, routes as the API
declares them (node/reference/tables.py; in-process, no network)."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from lightclient.anchor import COMETBFT, OUR_ENGINE
from node.api.counters import COUNTER_FAMILIES, CounterFamily, CountersCollector, CountsGetter
from node.config import CONSENSUS_KEYS, ENGINE_TIMEOUTS
from node.config_table import KeyRead
from node.metrics import NodeMetrics
from node.oracle.status import OracleMetrics
from node.reference.tables import (
    EXAMPLE_CONFIG,
    GUIDE,
    REGENERATE,
    ROOT,
    build_app,
    get_config_keys,
    get_generated_files,
    get_metrics,
    render_config_keys,
    replace_tables,
)


def test_committed_reference_is_what_the_code_makes() -> None:
    for path, text in get_generated_files().items():
        assert (ROOT / path).read_text() == text, f"{path} is stale: run `{REGENERATE}`"


def test_a_key_added_or_removed_in_the_loader_needs_its_row() -> None:
    keys = get_config_keys()
    render_config_keys(keys)
    added = KeyRead("p2p.new_key", "", "an integer >= 0", 1)
    with pytest.raises(ValueError, match=re.escape("add ['p2p.new_key']")):
        render_config_keys([*keys, added])
    with pytest.raises(ValueError, match=re.escape("remove ['moniker']")):
        render_config_keys([k for k in keys if k.key != "moniker"])


def test_a_changed_bound_or_default_changes_the_committed_table() -> None:
    keys = get_config_keys()
    row = next(k for k in keys if k.key == "storage.snapshot_interval")
    changed = [KeyRead(k.key, k.scope, k.expected, 99) if k is row else k for k in keys]
    guide = (ROOT / GUIDE).read_text()
    assert replace_tables(guide, {"config-keys": render_config_keys(changed)}) != guide


def flatten(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, value in table.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                yield from flatten(item, f"{prefix}{name}[].")
        else:
            yield f"{prefix}{name}", value


def test_the_example_config_shows_each_default_and_reads_no_unknown_key() -> None:
    """node.example.toml says "the value shown is the default": its sample price source
    and the required keys aside, each value it sets is the loader's default."""
    keys = {k.key: k for k in get_config_keys()}
    example = tomllib.loads((ROOT / EXAMPLE_CONFIG).read_text())
    for name, value in flatten(example):
        assert name in keys, name
        if keys[name].default is not None and not name.startswith("oracle.sources[]."):
            assert value == keys[name].default, name


def test_the_example_config_shows_each_engines_consensus_timeouts() -> None:
    """`[consensus]`'s keys are commented out, a key left out being each engine's: each
    line shows our engine's default, then CometBFT's."""
    text = (ROOT / EXAMPLE_CONFIG).read_text()
    shown = re.findall(r"^# (\w+) = (\d+) +# CometBFT: (\d+)$", text, re.M)
    assert [key for key, _, _ in shown] == list(CONSENSUS_KEYS)
    for key, ours, comet in shown:
        defaults = [
            getattr(ENGINE_TIMEOUTS[e], CONSENSUS_KEYS[key]) for e in (OUR_ENGINE, COMETBFT)
        ]
        assert [int(ours), int(comet)] == defaults, key


def one_sample(family: CounterFamily) -> CountsGetter:
    return lambda: [(family.labels, 1)]


def test_the_metrics_table_names_what_a_node_exposes() -> None:
    """Every family of a node's exposition, by the name and type its TYPE line gives
    (each counter family with one sample, so labelled ones show too)."""
    node = NodeMetrics("n0")
    OracleMetrics(node.registry)
    registry = CollectorRegistry()
    for family in COUNTER_FAMILIES:
        registry.register(CountersCollector(family, one_sample(family)))
    text = (node.render() + generate_latest(registry)).decode()
    types = [line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE")]
    exposed = {name: kind for name, kind in types if not name.endswith("_created")}
    assert {m.name: m.type for m in get_metrics()} == exposed


def declaring_modules() -> set[str]:
    """Modules of node/ that declare a route (a RouteDoc call)."""
    found = set()
    for path in (ROOT / "node").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "RouteDoc":
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_the_route_table_holds_every_module_that_declares_routes() -> None:
    """A service that declares routes and is left out of node/reference/tables.py fails here."""
    app = build_app()
    served = {route.handler.__module__ for route in app.routes}
    assert declaring_modules() - {"node.api.openapi"} <= served
    ids = [route.doc.operation_id for route in app.routes]
    assert len(set(ids)) == len(ids), "an operationId names two routes"


def test_a_table_without_its_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="config-keys"):
        replace_tables("# guide\n", {"config-keys": "| x |"})
