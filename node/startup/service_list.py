"""The node's services, in start order: the one place that lists them.

`node/services/service.py` says what a service is and imports none of them; the runtime
builds the ones this node runs (`build_services`) before its p2p host opens.
"""

from __future__ import annotations

from node.bridge.service import BridgeService
from node.config import NodeConfig
from node.oracle.service import OracleService
from node.reports.service import ReportsService
from node.services import NodeContextInputs, Service, ServiceKind
from node.status.service import StatusService
from node.verifier.service import VerifierService

SERVICE_KINDS: tuple[ServiceKind, ...] = (
    StatusService,
    VerifierService,
    ReportsService,
    BridgeService,
    OracleService,
)


def build_services(config: NodeConfig, inputs: NodeContextInputs) -> list[Service]:
    """The services this node runs, each built with its topics."""
    return [kind(config, inputs) for kind in SERVICE_KINDS if kind.is_enabled(config, inputs)]


def get_service_names() -> set[str]:
    return {kind.name for kind in SERVICE_KINDS}
