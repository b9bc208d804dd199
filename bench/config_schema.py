"""The node's config loader (node/config.py, validation by hand) against the same schema
written with pydantic v2 (bench/_config_pydantic.py), for issue #19: lines of code of
each, the time to load a full config, the import time each adds, and the error each
gives for a catalogue of realistic mistakes (MISTAKES, also a test of the node's loader
in tests/node/test_config_mistakes.py).

Lines are code lines: no blank, comment or docstring lines. Ours counts everything in
node/config.py but what both loaders share (the records, `ConfigError`, file reading,
the cross-references); pydantic's counts its models, the translation of its errors
into `ConfigError` and the conversion of its models into the records."""

from __future__ import annotations

import argparse
import ast
import io
import re
import statistics
import subprocess
import sys
import tempfile
import tokenize
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import time_us
from configs import EXAMPLE_NODE_CONFIG
from node.config import CONFIG_FILE_NAME, load_config, parse_config
from node.config_table import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = EXAMPLE_NODE_CONFIG
OURS = ROOT / "node" / "config.py"
PYDANTIC = ROOT / "bench" / "_config_pydantic.py"
# what node/config.py shares with the pydantic version, so neither side counts it
SHARED = {
    "CONFIG_FILE_NAME",
    "LOG_LEVELS",
    "ORACLE_SOURCE_KINDS",
    "SHOCK_BPS_RANGE",
    "ConfigError",
    "_check_cross_references",
    "_get_chain",
    "load_config",
}

BASE = "chain_id = 7\nmoniker = 'n0'\n"
VAULT = "0x" + "11" * 20
FEED = "0x" + "22" * 20
CHAIN = (
    "[[bridge_chains]]\nname = 'a'\nchain_id = 1\nrpc_url = 'http://h'\n"
    f"vault_address = '{VAULT}'\n"
)
SIMULATOR = "[[oracle.sources]]\nkind = 'simulator'\nsymbols = ['X']\nstart_prices = [100]\n"
EVM = "[[oracle.sources]]\nkind = 'evm'\nsymbols = ['X']\nchain = 'a'\n"
FEED_X = f"X = {{ address = '{FEED}', scale = 1 }}"
FEED_Y = f"Y = {{ address = '{FEED}', scale = 1 }}"
FEED_Y_EXACT = f"Y = {{ address = '{FEED}', scale = '0.001' }}"
# appended to configs/node.example.toml: every source kind and two chains
FULL = (
    CHAIN
    + CHAIN.replace("'a'", "'b'").replace("http://h", "wss://h")
    + "[[oracle.sources]]\nkind = 'replay'\nsymbols = ['X']\npath = 'prices.csv'\n"
    "[[oracle.sources]]\nkind = 'http'\nsymbols = ['X', 'Y']\nurl = 'https://h/p'\n"
    "json_paths = { X = 'data.X', Y = 'data.Y' }\n"
    + EVM.replace("['X']", "['X', 'Y']")
    + f"feeds = {{ {FEED_X}, {FEED_Y_EXACT} }}\n"
)


@dataclass(frozen=True)
class Mistake:
    """A config an operator could write, the key its error must name and a phrase of the
    node's expectation."""

    name: str
    text: str
    key: str
    expected: str


MISTAKES = (
    Mistake("wrong type", "chain_id = '7'\nmoniker = 'n0'\n", "chain_id", "an integer"),
    Mistake("missing required key", "chain_id = 7\n", "moniker", "required, missing"),
    Mistake("unknown key", BASE + "[api]\nlisten_prot = 8080\n", "api.listen_prot", "known key"),
    Mistake("typo in a section name", BASE + "[storge]\npath = 'db'\n", "storge", "known key"),
    Mistake(
        "port out of range",
        BASE + "[p2p]\nlisten_port = 70000\n",
        "p2p.listen_port",
        "between 0 and 65535",
    ),
    Mistake("float port", BASE + "[api]\nlisten_port = 8080.0\n", "api.listen_port", "integer"),
    Mistake("bool as integer", BASE + "[mempool]\nmax_txs = true\n", "mempool.max_txs", "integer"),
    Mistake("string as bool", BASE + "[api]\nenabled = 'yes'\n", "api.enabled", "true or false"),
    Mistake(
        "bad peer id",
        BASE + "[p2p]\nobservers = ['12D3KooWnotapeer']\n",
        "p2p.observers[0]",
        "peer id",
    ),
    Mistake(
        "peer list as a string",
        BASE + "[p2p]\nobservers = '12D3KooW'\n",
        "p2p.observers",
        "a list",
    ),
    Mistake(
        "a port for a peer",
        BASE + "[p2p]\npersistent_peers = [26656]\n",
        "p2p.persistent_peers[0]",
        "a peer's multiaddr",
    ),
    Mistake(
        "a typo in a peer's port",
        BASE + "[p2p]\npersistent_peers = ['/ip4/10.0.0.5/tcp/2665b/p2p/"
        "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']\n",
        "p2p.persistent_peers[0]",
        "a peer's multiaddr",
    ),
    Mistake("bad path", BASE + "genesis_file = ['genesis.json']\n", "genesis_file", "a string"),
    Mistake(
        "missing path",
        BASE + "[[oracle.sources]]\nkind = 'replay'\nsymbols = ['X']\n",
        "oracle.sources[0].path",
        "required, missing",
    ),
    Mistake("unknown log level", BASE + "log_level = 'verbose'\n", "log_level", "one of debug"),
    Mistake("section as a value", BASE + "p2p = 26656\n", "p2p", "a table"),
    Mistake(
        "float for an exact number",
        BASE + CHAIN + EVM + f"feeds = {{ {FEED_X.replace('scale = 1', 'scale = 0.001')} }}\n",
        "oracle.sources[0].feeds.X.scale",
        "decimal string",
    ),
    Mistake(
        "unknown chain",
        BASE + EVM.replace("'a'", "'mainnet'") + f"feeds = {{ {FEED_X} }}\n",
        "oracle.sources[0].chain",
        "a name from bridge_chains",
    ),
    Mistake(
        "websocket chain for a price feed",
        BASE + CHAIN.replace("http://h", "wss://h") + EVM + f"feeds = {{ {FEED_X} }}\n",
        "oracle.sources[0].chain",
        "http(s)",
    ),
    Mistake(
        "duplicate chain name",
        BASE + CHAIN + CHAIN,
        "bridge_chains[1].name",
        "a unique chain name",
    ),
    Mistake(
        "short vault address",
        BASE + CHAIN.replace(VAULT, "0x12"),
        "bridge_chains[0].vault_address",
        "a string matching",
    ),
    Mistake(
        "unknown source kind",
        BASE + "[[oracle.sources]]\nkind = 'chainlink'\nsymbols = ['X']\n",
        "oracle.sources[0].kind",
        "one of simulator",
    ),
    Mistake(
        "key of another source kind",
        BASE + SIMULATOR + "url = 'http://h'\n",
        "oracle.sources[0].url",
        "known key",
    ),
    Mistake(
        "one price for two symbols",
        BASE + SIMULATOR.replace("['X']", "['X', 'Y']"),
        "oracle.sources[0].start_prices",
        "2 positive integers",
    ),
    Mistake(
        "feed for no symbol",
        BASE + CHAIN + EVM + f"feeds = {{ {FEED_X}, {FEED_Y} }}\n",
        "oracle.sources[0].feeds.Y",
        "known key",
    ),
    Mistake(
        "shock without its time",
        BASE + SIMULATOR + "shock_bps = -3000\n",
        "oracle.sources[0].shock_at_ms",
        "when shock_bps is set",
    ),
    Mistake(
        "operator port clash",
        BASE + "[api]\noperator_enabled = true\noperator_listen_port = 8080\n",
        "api.operator_listen_port",
        "other than the public",
    ),
    Mistake(
        "transaction cap above pool cap",
        BASE + "[mempool]\nmax_bytes = 1000\nmax_tx_bytes = 2000\n",
        "mempool.max_tx_bytes",
        "at most mempool.max_bytes",
    ),
)


def code_lines(source: str, names: Callable[[str], bool]) -> int:
    """Lines holding code (no blank, comment or docstring line) of the top-level
    statements whose defined name passes `names`."""
    tree = ast.parse(source)
    docstrings = {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
        for line in range(node.body[0].lineno, (node.body[0].end_lineno or 0) + 1)
    }
    wanted = {
        line
        for node in tree.body
        if names(_defined_name(node))
        for line in range(_first_line(node), (node.end_lineno or node.lineno) + 1)
    }
    code = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type not in {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE}
        and token.type not in {tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    }
    return len((code & wanted) - docstrings)


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _defined_name(node: ast.stmt) -> str:
    if isinstance(node, ast.ClassDef | ast.FunctionDef):
        return node.name
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return ""  # imports and the like


def _is_record(source: str) -> Callable[[str], bool]:
    """The dataclasses of node/config.py: the records both loaders build."""
    tree = ast.parse(source)
    records = {
        node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.decorator_list
    }
    return lambda name: name in records


def count_lines() -> dict[str, int]:
    ours, theirs = OURS.read_text(), PYDANTIC.read_text()
    is_record = _is_record(ours)
    # the pydantic module's sections, split at its "# --- ..." markers
    translation_start = theirs.index("# --- pydantic's errors")
    conversion_start = theirs.index("# --- the models as the node's records")
    head, tail = theirs[:translation_start], theirs[conversion_start:]
    middle = theirs[translation_start:conversion_start]
    return {
        "ours_records_shared": code_lines(ours, is_record),
        "ours_schema_and_errors": code_lines(
            ours, lambda name: bool(name) and not is_record(name) and name not in SHARED
        ),
        "pydantic_models": code_lines(head, bool),
        "pydantic_error_translation": code_lines(middle, bool),
        "pydantic_conversion_to_records": code_lines(tail, bool),
    }


def import_ms(module: str, after: str, runs: int) -> float:
    """Median cumulative import time of `module` in a fresh interpreter that imported
    `after` first (its cost is not counted), from `python -X importtime`."""
    pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$", re.M)
    times = []
    for _ in range(runs):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {after}; import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        found = pattern.search(err)
        assert found is not None, f"{module} missing from -X importtime"
        times.append(int(found.group(1)) / 1000)
    return round(statistics.median(times), 1)


def describe(load: Callable[[Path, Path], object], home: Path, mistake: Mistake) -> dict[str, Any]:
    """The error one loader gives for one mistake, and whether it is clear: it names the
    file and the key, and says what was expected and (unless the key is missing or
    unknown) what was found; and whether it uses the node's words for what was expected."""
    file = home / CONFIG_FILE_NAME
    file.write_text(mistake.text)
    try:
        load(home, file)
    except ConfigError as error:
        absent = "missing" in error.expected or "known key" in error.expected
        clear = (error.file, error.key) == (file, mistake.key) and bool(error.expected)
        return {
            "message": str(error),
            "clear": clear and (error.found is not None or absent),
            "node_words": mistake.expected in error.expected,
        }
    except Exception as error:  # a loader that lets another exception out fails the row
        return {"message": f"{type(error).__name__}: {error}", "clear": False, "node_words": False}
    return {"message": "accepted", "clear": False, "node_words": False}


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench config_schema")
    parser.add_argument("--repeat", type=int, default=2_000, help="loads timed per loader")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import")
    args = parser.parse_args(argv)
    from bench import _config_pydantic as theirs

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp).resolve()
        file = home / CONFIG_FILE_NAME
        file.write_text(EXAMPLE.read_text() + FULL)
        same = load_config(home) == theirs.load_config(home, file)
        data = tomllib.loads(file.read_text())
        timings = {
            "ours_load_full_us": time_us(lambda: load_config(home), args.repeat),
            "pydantic_load_full_us": time_us(lambda: theirs.load_config(home, file), args.repeat),
            "ours_validate_full_us": time_us(lambda: parse_config(data, file, home), args.repeat),
            "pydantic_validate_full_us": time_us(
                lambda: theirs.parse_config(data, file, home), args.repeat
            ),
        }
        catalogue: list[dict[str, Any]] = [
            {
                "mistake": m.name,
                "key": m.key,
                "ours": describe(load_config, home, m),
                "pydantic": describe(theirs.load_config, home, m),
            }
            for m in MISTAKES
        ]
    return {
        "lines": count_lines(),
        **timings,
        "same_records_for_full_config": same,
        "import_ms": {
            "node.config": import_ms("node.config", "sys", args.import_runs),
            "node.config_after_node.keys_and_node.limits": import_ms(
                "node.config", "node.keys, node.limits", args.import_runs
            ),
            # node.keys imports eth_account, which imports pydantic: the node pays this already
            "pydantic": import_ms("pydantic", "sys", args.import_runs),
            "pydantic_schema_after_node.config": import_ms(
                "bench._config_pydantic", "node.config", args.import_runs
            ),
        },
        "mistakes": len(MISTAKES),
        "ours_clear": sum(r["ours"]["clear"] for r in catalogue),
        "pydantic_clear": sum(r["pydantic"]["clear"] for r in catalogue),
        "pydantic_in_node_words": sum(r["pydantic"]["node_words"] for r in catalogue),
        "catalogue": catalogue,
    }
