"""The config.toml sections of the node services the devnet drives, identical in
every validator's config: the oracle simulator with the crash its script schedules
(one wall-clock instant written into every validator's `SHOCK_FILE`), and the vaults
to watch (`clearnode init`'s config already
enables the solvency reports).

A section is written only when the node runs that service (node.services) and
its config reader knows the keys; what is missing is listed so the summary can
say it was not exercised rather than pretend.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devnet.homes import is_known_section, is_known_source_key
from node.chainspec import ANVIL_POLL_INTERVAL_MS, ChainSpec, render_bridge_chains
from node.startup.service_list import get_service_names

if TYPE_CHECKING:
    from devnet.chains import DevChain
    from devnet.config import DevnetConfig

CRASH_BPS = 3000
STEP_BPS = 5  # the path stays within 64 steps of its start: +-3.2%
ORACLE_INTERVAL_MS = 2000  # samples gossiped by every validator: keep the mesh light
CONFIRMATION_DEPTH = 2
SHOCK_FILE = "shock_at_ms"
"""In each validator's home: the unix ms of the crash, written by the script once its
called longs hold their positions and the default fund is sized (devnet/script.py crash)."""
# Feeds the oracle leaves at their genesis price.
STABLE = ("USDC/quantum",)


@dataclass(frozen=True)
class Services:
    toml: str
    oracle: bool
    shock: bool
    bridge: bool
    reports: bool
    shock_at_monotonic: float
    """When the crash is planned: the called longs open then (or once the positions are,
    if later), and the crash follows as soon as their trades and the default fund's
    sizing have committed."""
    missing: list[str]


EARLIEST_EXPIRY_S = 45.0
"""The short-dated future expires at least this long after the configs are written: the
members' opening trades in it (7-9 s after, 11-14 s beside two busy loops, on 2 cores;
more than 33 s once in `make test` on a slower machine, its first two heights taking 7
and 9 s while four proving workers warmed up) must commit before, or it expires
untraded. Earlier would not end a short run much sooner: from the crash on, its members
are reduce-only (short of their default-fund contributions) until the next epoch's end
refills the fund, so no one can open the next series before then (33-35 s after the
configs with epochs of about 20 s)."""


def get_shock_after_s(config: DevnetConfig) -> float:
    """Seconds from writing the configs to the crash as planned: half the run. A short
    run's crash comes as early as the script can make it (devnet/script.py crash)."""
    return config.duration_s * 0.5


def get_roll_schedule(config: DevnetConfig, now_ms: int) -> tuple[int, int]:
    """The short-dated future's expiry (whole seconds) and the roll's period: it expires
    a little before the planned crash, once members hold it (in a short run, after the
    crash), and the next series it rolls into lives to the end of the run: twice its
    duration and at least 10 minutes, as the script and the checks after it take a while
    on a loaded machine (a 30 s CometBFT devnet in `make test` once lasted 222 s, past a
    period of 120 s)."""
    expiry_s = max(EARLIEST_EXPIRY_S, get_shock_after_s(config) * 0.9)
    expiry_ms = (now_ms + int(expiry_s * 1000) + 999) // 1000 * 1000
    period_ms = 2 * max(300, int(config.duration_s)) * 1000
    return expiry_ms, period_ms


def get_service_sections(
    template: dict[str, Any], chains: list[DevChain], config: DevnetConfig
) -> Services:
    names = get_service_names()
    missing = []
    parts = []
    oracle = "oracle" in names and is_known_section("oracle")
    shock = oracle and is_known_source_key("shock_file") and is_known_source_key("shock_bps")
    if oracle:
        parts.append(get_oracle_toml(template, config.seed, shock))
    else:
        missing.append("oracle: no oracle node service; prices stay at genesis")
    if oracle and not shock:
        missing.append("crash: the oracle simulator has no scheduled shock; no liquidations")
    bridge = "bridge" in names and is_known_section("bridge_chains")
    if bridge:
        parts.append(get_bridge_toml(chains))
    else:
        missing.append("bridge: no bridge node service; deposits are not credited")
    reports = "reports" in names  # init's config enables it
    if not reports:
        missing.append("reports: no solvency-report node service")
    return Services(
        "\n".join(parts),
        oracle,
        shock,
        bridge,
        reports,
        time.monotonic() + get_shock_after_s(config),
        missing,
    )


def get_oracle_toml(template: dict[str, Any], seed: int, with_shock: bool) -> str:
    """One simulator over every feed and mark but the stable ones (they keep their
    genesis price), so the crash hits them all at once."""
    prices = {**template["index_prices"], **template["mark_prices"]}
    moving = sorted(k for k in prices if k not in STABLE)
    shock = f'shock_file = "{SHOCK_FILE}"\nshock_bps = {-CRASH_BPS}\n' if with_shock else ""
    return (
        f"[oracle]\nenabled = true\ninterval_ms = {ORACLE_INTERVAL_MS}\n\n"
        f'[[oracle.sources]]\nkind = "simulator"\nsymbols = {json.dumps(moving)}\n'
        f"start_prices = {json.dumps([prices[k] for k in moving])}\n"
        f"seed = {seed}\nmax_step_bps = {STEP_BPS}\nstep_ms = {ORACLE_INTERVAL_MS}\n{shock}"
    )


def get_bridge_toml(chains: list[DevChain]) -> str:
    """The watchers poll their anvil every 250 ms, as init's --deploy-anvil writes: asking
    a local anvil costs nothing, and each deposit and payout waits half the poll on
    average (1 s at the default 2 s). The confirmation depth stays: the devnet mines a
    block a second on each chain, as a real one would."""
    specs = [
        ChainSpec(f"anvil-{d.chain.chain_id}", d.chain.chain_id, d.node.url,
                  d.deployed.vault, {}, CONFIRMATION_DEPTH, ANVIL_POLL_INTERVAL_MS)
        for d in chains
    ]  # fmt: skip
    return render_bridge_chains(specs)
