"""State sync refuses to start where it could not trust what it fetched: a genesis older
than the trusting period without a checkpoint, before opening anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from lightclient.anchor import TRUSTING_PERIOD_MS
from node.clock import wall_clock_ms
from node.config import load_config
from node.statesync.fetch import StartNotTrusted, sync_state
from tests.node.netproc import GENESIS_DOC, NodeHome, add_validators


def test_a_genesis_past_the_trusting_period_needs_a_checkpoint(tmp_path: Path) -> None:
    genesis = json.loads(GENESIS_DOC.read_text())
    add_validators(genesis, 4)
    genesis["genesis_time_ms"] = wall_clock_ms() - TRUSTING_PERIOD_MS - 60_000
    home = NodeHome(tmp_path / "new", "new", None)
    home.extra_config += "[state_sync]\nenabled = true\n"
    home.write(genesis, [])
    with pytest.raises(StartNotTrusted, match=r"set state_sync\.checkpoint"):
        trio.run(sync_state, load_config(home.path))
    assert not home.db.exists()  # nothing opened, nothing written
