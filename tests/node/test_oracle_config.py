"""The simulator's devnet keys (step_ms, shock_at_ms or shock_file, shock_bps): parsed, and
every bad value names the file, the key and what is expected; a shock file read at each
sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import CONFIG_FILE_NAME, load_config
from node.config_table import ConfigError
from node.oracle.sources import build_source

SIMULATOR = (
    "chain_id = 7\nmoniker = 'n0'\n"
    "[[oracle.sources]]\nkind = 'simulator'\nsymbols = ['X']\nstart_prices = [100]\n"
)


def write(home: Path, text: str) -> Path:
    path = home / CONFIG_FILE_NAME
    path.write_text(text)
    return path


def test_shock_keys_parse_and_default_to_none(tmp_path: Path) -> None:
    plain = load_config(tmp_path, write(tmp_path, SIMULATOR)).oracle.sources[0]
    assert (plain.step_ms, plain.shock_at_ms, plain.shock_bps) == (1_000, None, 0)
    text = SIMULATOR + "step_ms = 250\nshock_at_ms = 1767225600000\nshock_bps = -3000\n"
    source = load_config(tmp_path, write(tmp_path, text)).oracle.sources[0]
    assert (source.step_ms, source.shock_at_ms, source.shock_bps) == (250, 1767225600000, -3000)


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ("shock_bps = -3000\n", "shock_at_ms", "when shock_bps is set"),
        (
            "shock_at_ms = 5\nshock_file = 'f'\nshock_bps = 5\n",
            "shock_at_ms",
            "exactly one",
        ),
        ("shock_at_ms = 5\n", "shock_bps", "required"),
        ("shock_at_ms = 5\nshock_bps = -10000\n", "shock_bps", "between -9999 and 100000"),
        ("shock_at_ms = -1\nshock_bps = 5\n", "shock_at_ms", ">= 0"),
        ("shock_at_ms = 'soon'\nshock_bps = 5\n", "shock_at_ms", "an integer"),
        ("step_ms = 0\n", "step_ms", ">= 1"),
        ("shock_at = 5\n", "shock_at", "known key"),
    ],
)
def test_bad_shock_keys_name_file_key_and_expectation(
    tmp_path: Path, extra: str, key: str, expected: str
) -> None:
    path = write(tmp_path, SIMULATOR + extra)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, path)
    assert info.value.file == path
    assert info.value.key == f"oracle.sources[0].{key}"
    assert expected in info.value.expected


def test_unknown_key_lists_the_shock_keys_as_known(tmp_path: Path) -> None:
    path = write(tmp_path, SIMULATOR + "shock_at = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, path)
    assert "shock_at_ms, shock_bps, shock_file" in info.value.expected


async def test_a_shock_file_schedules_the_shock_when_it_is_written(tmp_path: Path) -> None:
    """The devnet writes its crash's instant once its positions are open: until then the
    path is unshocked, and a file that holds no time is no shock either."""
    text = SIMULATOR + "shock_file = 'shock_at_ms'\nshock_bps = -3000\n"
    config = load_config(tmp_path, write(tmp_path, text)).oracle.sources[0]
    assert (config.shock_file, config.shock_at_ms) == (tmp_path / "shock_at_ms", None)
    now = [1_767_225_600_000]
    source = build_source(config, (), lambda: now[0])
    calm = (await source.sample())["X"]
    assert calm > 0
    config.shock_file.write_text("soon\n")
    assert (await source.sample())["X"] == calm
    config.shock_file.write_text(f"{now[0] + 1}\n")
    assert (await source.sample())["X"] == calm  # scheduled, not yet come
    now[0] += 1
    shocked = (await source.sample())["X"]
    assert shocked == max(1, calm * 7_000 // 10_000)
