"""The committed ABI/bytecode artifacts are exactly what the pinned solc makes of the sources."""

from __future__ import annotations

import pytest

from bridge.compile import ARTIFACTS_DIR, SOLC_VERSION, compute_artifacts


@pytest.mark.slow
def test_committed_artifacts_match_a_fresh_compile() -> None:
    fresh = compute_artifacts()
    assert sorted(fresh) == sorted(p.name for p in ARTIFACTS_DIR.glob("*.json"))
    for name, text in fresh.items():
        assert (ARTIFACTS_DIR / name).read_text() == text, (
            f"{name} is stale: run python -m bridge.compile"
        )
    assert SOLC_VERSION.startswith("0.8.37+")
