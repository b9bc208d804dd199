"""`clearnode start --home DIR`: check config, genesis and keys, then run the node.

Everything that can be checked before the network starts is checked here, so a
bad home fails in a second with the file and the key at fault (exit code 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from clearing.upgrade import ReleaseMismatch, UpgradeRequired
from consensus.wal import WalCorrupted
from lightclient.anchor import COMETBFT
from node.cometbft.process import CometBFTExited, StoppedMidBlock
from node.config import NodeConfig, get_timeouts, load_config
from node.config_table import ConfigError
from node.gc_policy import set_gc_policy
from node.genesis_file import load_genesis
from node.home_lock import HomeInUse, hold_home
from node.keys import (
    BRIDGE_KEY,
    NODE_KEY,
    VALIDATOR_KEY,
    KeyFileError,
    load_key,
    load_operator_token,
)
from node.logs import setup_logging
from node.ports import check_ports
from node.statesync.verify import StateSyncError
from node.storage import StorageError
from node.upgrade_halt import EXIT_UPGRADE, write_upgrade_info

log = logging.getLogger(__name__)


SUMMARY = "run the node in a home made by `clearnode init`"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("start", help=SUMMARY)
    parser.add_argument("--home", type=Path, required=True, help="node home directory")
    parser.set_defaults(handler=run)


def check_home(home: Path) -> NodeConfig:
    """Load and cross-check config, genesis and keys; raise ConfigError / KeyFileError."""
    config = load_config(home)
    check_ports(config)
    engine = load_genesis(config).engine
    get_timeouts(config, engine)  # [consensus] with the engine's defaults
    if engine == COMETBFT:
        from node.cometbft.home import MAX_SOCKET_PATH_BYTES, SocketPathTooLong, check_socket_paths
        from node.cometbft.process import CometBFTError, find_binary

        try:
            find_binary()
        except CometBFTError as exc:
            raise ConfigError(config.genesis_file, "engine", str(exc), COMETBFT) from exc
        assert config.cometbft is not None  # the loader always reads the table
        try:
            check_socket_paths(config.cometbft.home)
        except SocketPathTooLong as exc:
            expected = f"a path whose sockets' paths fit {MAX_SOCKET_PATH_BYTES} bytes"
            found = f"{exc.path} ({exc.size} bytes)"
            raise ConfigError(config.config_file or home, "cometbft.home", expected, found) from exc
    load_key(config.node_key_file, NODE_KEY)
    if config.validator_key_file.exists():
        load_key(config.validator_key_file, VALIDATOR_KEY)
    if config.bridge_key_file.exists():
        load_key(config.bridge_key_file, BRIDGE_KEY)
    if config.operator_token_file.exists():  # else the API writes one (node/api/serve.py)
        load_operator_token(config.operator_token_file)
    return config


def get_leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The errors themselves, out of the nurseries' nested groups that carried them."""
    return [
        leaf
        for exc in group.exceptions
        for leaf in (get_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    ]


def run(args: argparse.Namespace) -> int:
    try:
        with hold_home(args.home):
            config = check_home(args.home)
            return run_holding(config)
    except (ConfigError, KeyFileError, HomeInUse) as exc:
        print(f"clearnode start: {exc}")
        return 2


def run_holding(config: NodeConfig) -> int:
    """Runs the node of a checked home whose lock this process holds; its exit status."""
    setup_logging(config.log_level)
    set_gc_policy()
    log.info("starting", extra={"moniker": config.moniker, "home": str(config.home)})
    # Until the node's own receiver takes over, SIGTERM interrupts start-up as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    failures: list[object] = []
    crashed = False
    halted: UpgradeRequired | None = None
    try:
        trio.run(run_until_signal, get_runner(config), config)
    except* StorageError as group:  # a data directory this node cannot use
        failures += get_leaves(group)
    except* StateSyncError as group:  # no snapshot it could trust, in its time
        failures += get_leaves(group)
    except* ConfigError as group:  # a listen port taken by a node started at the same instant
        failures += get_leaves(group)
    except* KeyboardInterrupt:
        log.info("interrupted while starting")
    except* (CometBFTExited, StoppedMidBlock) as group:  # the engine stopped: so does the node
        failures += get_leaves(group)
        crashed = True
    except* WalCorrupted as group:  # a tail frame torn by a power cut: the operator's call
        repair = f"`clearnode wal repair --home {config.home}` does it (docs/operator.md)"
        failures += [f"{exc}; {repair}" for exc in get_leaves(group)]
    except* UpgradeRequired as group:  # the next block is another release's: stop for it
        halted = next(e for e in get_leaves(group) if isinstance(e, UpgradeRequired))
    except* ReleaseMismatch as group:  # this release cannot run this state
        failures += [e.describe() for e in get_leaves(group) if isinstance(e, ReleaseMismatch)]
    if halted is not None:
        return stop_for_upgrade(config, halted)
    for failure in failures:
        print(f"clearnode start: {failure}", file=sys.stderr)
    if failures:
        return 1 if crashed else 2
    log.info("stopped", extra={"moniker": config.moniker})
    return 0


def stop_for_upgrade(config: NodeConfig, halted: UpgradeRequired) -> int:
    """The node stopped before the upgrade's height: the plan written for a supervisor,
    one line saying what to do."""
    path = write_upgrade_info(config.storage.path.parent, halted.plan)
    log.warning("stopped for an upgrade", extra={"upgrade": halted.plan.name,
                                                 "height": halted.plan.height})  # fmt: skip
    print(f"clearnode start: stopped for an upgrade: {halted.describe()} ({path})",
          file=sys.stderr)  # fmt: skip
    return EXIT_UPGRADE


def get_runner(config: NodeConfig) -> Callable[[NodeConfig], Awaitable[None]]:
    """The runtime of the engine the genesis names (each imports libp2p, ~1 s: only once
    the home is good)."""
    if load_genesis(config).engine == COMETBFT:
        from node.cometbft.runtime import run_cometbft_node

        return run_cometbft_node
    from node.engine.runtime import run_node

    return run_node


async def run_until_signal(
    run_node: Callable[[NodeConfig], Awaitable[None]], config: NodeConfig
) -> None:
    """Runs the node until SIGTERM or SIGINT, then stops it in order: cancelling its
    nursery closes the API, the libp2p host (peers notice at once), the services and the
    store, and the WAL keeps every signature. A second signal ends the process at once."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            node_scope = trio.CancelScope()

            async def run() -> None:
                with node_scope:
                    await run_node(config)
                nursery.cancel_scope.cancel()  # stops the signal watch below

            nursery.start_soon(run)
            async for signum in signals:
                name = signal.Signals(signum).name
                if node_scope.cancel_called:
                    log.warning("second signal %s while stopping: exiting at once", name)
                    os._exit(1)
                log.info("received %s: stopping", name)
                node_scope.cancel()
