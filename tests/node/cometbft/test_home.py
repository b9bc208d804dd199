"""The CometBFT config a node writes: every timeout the node's liveness counts is the one
CometBFT runs, and its RPC and metrics listen on loopback only."""

from __future__ import annotations

import tomllib
from pathlib import Path

from node.cometbft.home import Listeners, Timeouts, build_config_toml, format_duration


def read_config(timeouts: Timeouts) -> dict[str, object]:
    listeners = Listeners("0.0.0.0", 26666, 26667, 26670)
    text = build_config_toml("v0", Path("/h/abci.sock"), listeners, (), timeouts, 10, 1 << 20)
    return tomllib.loads(text)


def test_the_timeouts_the_stall_limit_counts_are_the_ones_written() -> None:
    timeouts = Timeouts(round_increase_ms=700)
    consensus = read_config(timeouts)["consensus"]
    assert isinstance(consensus, dict)
    for step, ms in (
        ("propose", timeouts.propose_ms),
        ("prevote", timeouts.prevote_ms),
        ("precommit", timeouts.precommit_ms),
    ):
        assert consensus[f"timeout_{step}"] == format_duration(ms)
        assert consensus[f"timeout_{step}_delta"] == "700ms"
    assert consensus["timeout_commit"] == format_duration(timeouts.commit_ms)
    longer = Timeouts(round_increase_ms=800).get_stall_limit_ms()
    assert longer - timeouts.get_stall_limit_ms() == 3 * 100


def test_only_p2p_listens_beyond_loopback() -> None:
    config = read_config(Timeouts())
    assert config["rpc"]["laddr"] == "tcp://127.0.0.1:26667"  # type: ignore[index]
    assert config["instrumentation"]["prometheus_listen_addr"] == "127.0.0.1:26670"  # type: ignore[index]
    assert config["p2p"]["laddr"] == "tcp://0.0.0.0:26666"  # type: ignore[index]
