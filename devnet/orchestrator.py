"""Runs the devnet: anvil chains, validator processes, members, venue, relayer.

The validators are `clearnode start` processes (devnet/processes.py)
reaching consensus over libp2p on loopback; their node services sample the
oracle (the crash scheduled identically in every config), watch the vaults and
credit deposits, sign withdrawals and build the solvency reports. This process
only does what outsiders do: members deposit on chain and sign requests, the
venue posts trade batches, a relayer submits the validators' withdrawal
signatures to the vaults, and a watcher reads the nodes' API and applies every
committed block in its replica (devnet/watch.py, network.py).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import trio

from bridge.validators import EvmValidatorSet
from clearnode.client import Client, ClientError
from devnet import sections, watch
from devnet.chains import start_chains, stop_chains
from devnet.clients import add_clearing_members
from devnet.config import DevnetConfig
from devnet.genesis import (
    EPOCH_BLOCKS,
    add_rolling_future,
    build_genesis_template,
)
from devnet.homes import make_homes, write_homes
from devnet.market import make_members
from devnet.monitoring import ScrapeTarget, describe_monitoring, write_scrape_config
from devnet.network import Devnet, NodeView, Observer, StepTimeout
from devnet.processes import run_nodes
from devnet.script import finish, run_members, run_script
from devnet.stopping import Stopped, StopSignals
from devnet.summary import Summary, describe_checked
from lightclient.anchor import COMETBFT
from node.commands.init import VALIDATOR_POWER


def run_devnet(config: DevnetConfig, observer: Observer, stop: StopSignals) -> Summary:
    """Chains, homes and validator processes up; the script; checks; everything stopped.
    Raises Stopped, everything stopped, if `stop` saw a signal (devnet/stopping.py)."""
    started = time.monotonic()
    out_dir = config.out_dir or Path(tempfile.mkdtemp(prefix="clearnode-devnet-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    homes = make_homes(out_dir, config.validators)
    evm_set = EvmValidatorSet.from_members(0, [(h.evm_address, VALIDATOR_POWER) for h in homes])
    observer.log(f"starting {config.chains} anvil chains, deploying vaults and tokens")
    chains = start_chains(config.chains, evm_set)
    try:
        stop.check()
        urls = ", ".join(f"{dev.chain.chain_id} at {dev.node.url}" for dev in chains)
        observer.log(f"anvil chains: {urls}")
        members = make_members(config.members)
        epoch_blocks = config.epoch_length_blocks or EPOCH_BLOCKS
        template = build_genesis_template([c.deployed for c in chains], epoch_blocks, config.engine)
        add_clearing_members(template, members)
        started_ms = time.time_ns() // 1_000_000
        # the network starts now, as a real one does: a verifier walks from its genesis
        # only within the trusting period after the genesis time (lightclient/anchor.py)
        template["genesis_time_ms"] = started_ms
        expiry_ms, period_ms = sections.get_roll_schedule(config, started_ms)
        add_rolling_future(template, expiry_ms, period_ms)
        services = sections.get_service_sections(template, chains, config)
        genesis = write_homes(homes, template, services.toml)
        # the same bytes as every node's: the genesis hash the devnet's verifier pins
        (out_dir / "genesis.json").write_bytes((homes[0].path / "genesis.json").read_bytes())
        net = Devnet(config, chains, homes, members, genesis, out_dir, observer, services)
        net.not_exercised += services.missing
        observer.log(f"starting {len(homes)} validator processes (logs: {out_dir}/node*/node.log)")
        operator_urls = [h.operator_url for h in homes]
        targets = [
            ScrapeTarget(f"clearnode-{h.name}", f"127.0.0.1:{h.operator_port}",
                         h.operator_token_file)
            for h in homes
        ]  # fmt: skip
        if config.engine == COMETBFT:
            targets += [
                ScrapeTarget(f"cometbft-{h.name}", f"127.0.0.1:{h.cometbft_ports[1]}", None)
                for h in homes
            ]
        scrape_config = write_scrape_config(out_dir, targets)
        for line in describe_monitoring(scrape_config, operator_urls):
            observer.log(line)
        with run_nodes([h.path for h in homes]) as processes:
            _run_network(net, started, processes, stop)
        if stop.signum is not None:
            raise Stopped(stop.signum, describe_checked(net, time.monotonic() - started))
        return Summary.of(net, time.monotonic() - started)
    finally:
        stop_chains(chains)


def _run_network(
    net: Devnet, started: float, processes: list[subprocess.Popen[bytes]], stop: StopSignals
) -> None:
    """trio.run(_run) until it ends or `stop` cancels it. What fails while it stops is the
    stop's doing, not the network's (a Ctrl-C to the devnet's group stops its chains
    too, and the calls still out to them fail): it is no error of the run."""
    try:
        trio.run(_run, net, started, processes, stop)
    except* Exception:
        if stop.signum is None:
            raise


async def _run(
    net: Devnet, started: float, processes: list[subprocess.Popen[bytes]], stop: StopSignals
) -> None:
    async with httpx.AsyncClient() as http, AsyncExitStack() as operators:
        net.nodes = [
            NodeView(
                Client(h.api_url, net.chain_id, http),
                Client(
                    h.operator_url,
                    net.chain_id,
                    await operators.enter_async_context(
                        httpx.AsyncClient(headers=h.operator_headers)
                    ),
                ),
            )
            for h in net.homes
        ]
        async with trio.open_nursery() as nursery:
            with stop.cancelling(nursery.cancel_scope):
                for view in net.nodes:
                    nursery.start_soon(watch.watch_events, view)
                nursery.start_soon(watch.follow_blocks, net)
                nursery.start_soon(watch.mine_chains, net)
                nursery.start_soon(watch.poll, net)
                nursery.start_soon(watch.watch_processes, net, processes, nursery.cancel_scope)
                if net.services.bridge:
                    nursery.start_soon(watch.relay, net)
                    nursery.start_soon(run_members, net)
                if net.services.reports:
                    nursery.start_soon(watch.check_reports, net)
                try:
                    await run_script(net, started)
                except (StepTimeout, ClientError) as exc:
                    net.fail(str(exc))
                await finish(net)
                nursery.cancel_scope.cancel()
