"""A node's listen ports: free before it starts, and one line naming the config key
when one is taken (exit 2 from `clearnode start`), never a traceback.

`check_ports` probes before the slow imports of start-up, so a second node on a taken
port fails in a second; two nodes started at the same instant both find the ports free,
so the API server and the p2p host also report their own failed bind this way.
"""

from __future__ import annotations

import socket

from node.config import NodeConfig
from node.config_table import ConfigError


def get_listen_ports(config: NodeConfig) -> list[tuple[str, str, int]]:
    """(config key, host, port) of each port the node listens on."""
    listeners = [("p2p.listen_port", config.p2p.listen_host, config.p2p.listen_port)]
    api = config.api
    if api.enabled:
        listeners.append(("api.listen_port", api.listen_host, api.listen_port))
    if api.enabled and api.operator_enabled:
        listeners.append(
            ("api.operator_listen_port", api.operator_listen_host, api.operator_listen_port)
        )
    return listeners


def get_bind_problem(host: str, port: int) -> str | None:
    """Why a listener cannot bind `host:port` now (the OS's reason), or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the listeners do: connections of a previous run left in TIME_WAIT do
        # not hold the port, a listening socket does (Linux refuses that bind).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def get_port_taken_error(config: NodeConfig, key: str, reason: str) -> ConfigError:
    """The one line naming the config key of a port the node cannot listen on."""
    _, host, port = next(entry for entry in get_listen_ports(config) if entry[0] == key)
    return ConfigError(
        config.config_file or config.home, key, f"a port free on {host}", f"{port} ({reason})"
    )


def check_ports(config: NodeConfig) -> None:
    """Each listen port is free now; raise the one-line ConfigError for the first that is not."""
    for key, host, port in get_listen_ports(config):
        problem = None if port == 0 else get_bind_problem(host, port)
        if problem is not None:
            raise get_port_taken_error(config, key, problem)
