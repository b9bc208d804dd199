"""The catalogue of realistic config mistakes (bench/config_schema.py, issue #19) against
the node's loader: each is refused with a ConfigError naming the file, the key, what was
expected and, unless the key is missing or unknown, what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config_schema import MISTAKES, Mistake
from node.config import CONFIG_FILE_NAME, load_config
from node.config_table import ConfigError


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_mistake_names_file_key_expected_and_found(tmp_path: Path, mistake: Mistake) -> None:
    path = tmp_path / CONFIG_FILE_NAME
    path.write_text(mistake.text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, path)
    error = info.value
    assert (error.file, error.key) == (path, mistake.key)
    assert mistake.expected in error.expected
    named_as_absent = "missing" in error.expected or "known key" in error.expected
    assert error.found is not None or named_as_absent
    assert str(path) in str(error) and f"'{mistake.key}'" in str(error)


def test_catalogue_holds_at_least_twelve_distinct_mistakes() -> None:
    assert len(MISTAKES) >= 12
    assert len({m.name for m in MISTAKES}) == len(MISTAKES)
