"""What a node service is (service.py): above the p2p host and the API it uses, below
the services themselves (node/bridge/, node/oracle/, node/reports/, node/status/,
node/verifier/), which node/startup/service_list.py lists."""

from node.services.service import (
    NodeContext,
    NodeContextInputs,
    RoutesService,
    Service,
    ServiceKind,
)

__all__ = ["NodeContext", "NodeContextInputs", "RoutesService", "Service", "ServiceKind"]
