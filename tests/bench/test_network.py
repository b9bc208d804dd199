"""`bench network`'s and `bench wan`'s homes: temporary, or kept under `--keep`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.network import hold_homes


def test_a_ramp_s_homes_are_removed_unless_kept(tmp_path: Path) -> None:
    with hold_homes(argparse.Namespace(keep=None), "network-clearnode") as base:
        (base / "v0").mkdir()
        assert base.name.startswith("bench-network-clearnode-")
    assert not base.exists()
    with hold_homes(argparse.Namespace(keep=tmp_path), "wan-cometbft-wan") as base:
        (base / "v0").mkdir()
    assert base == tmp_path / "wan-cometbft-wan"
    assert (base / "v0").is_dir()


def test_a_kept_folder_is_never_reused(tmp_path: Path) -> None:
    (tmp_path / "network-cometbft" / "v0").mkdir(parents=True)
    with (
        pytest.raises(FileExistsError),
        hold_homes(argparse.Namespace(keep=tmp_path), "network-cometbft"),
    ):
        pass
    assert (tmp_path / "network-cometbft" / "v0").is_dir()
