"""Four hosts keep gossiping while one link breaks mid-stream (figures: stress.py here)."""

from __future__ import annotations

import pytest

from tests.node.p2p.stress import run_stress


@pytest.mark.slow
async def test_every_note_published_after_the_repair_reaches_every_host() -> None:
    result = await run_stress(rate=10.0, seconds=30.0, break_at_s=1.0, drain_s=4.0, after_s=1.0)
    assert result["repair_s"] is not None, result
    after = result["after"]
    assert isinstance(after, dict) and after["expected"] > 0, result
    assert after["missing"] == 0, result
