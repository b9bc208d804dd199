"""What every node starts, whichever engine orders its blocks (steps.py), and the
services it starts (service_list.py): above the services, below the engines' runtimes
(node/engine/runtime.py, node/cometbft/runtime.py)."""

from node.startup.steps import (
    NodeParts,
    get_host_config,
    log_jailings,
    open_host,
    open_node,
    start_node,
)

__all__ = ["NodeParts", "get_host_config", "log_jailings", "open_host", "open_node", "start_node"]
