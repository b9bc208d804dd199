"""The status service: a commit journal, vault polling, and the page's two routes.

`GET /` (and `/status`) serve the HTML page, `GET /v1/overview` the same data
as JSON. Enabled wherever the HTTP API is.
"""

from __future__ import annotations

import trio

from clearing.risk.engine import get_risk_setup
from node.api.counters import expose_p2p_counters
from node.api.http import Request, Response, json_response
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.api.tiers import Listener
from node.clock import wall_clock_ms
from node.committed import CommittedBlock
from node.reports.store import ReportStore
from node.services import NodeContext, RoutesService
from node.status.governance import get_failures
from node.status.history import History
from node.status.journal import Journal
from node.status.overview import ReportStatus, build_overview
from node.status.page import render_status_page
from node.status.vaults import VaultView
from node.status.verdict import ReportVerdicts


class StatusPage:
    def __init__(self, ctx: NodeContext, report: ReportStatus | None = None) -> None:
        self.ctx = ctx
        self.journal = Journal()
        self.history = History()
        self.vaults: dict[int, VaultView] = {}
        self.report = report

    def on_commit(self, block: CommittedBlock, root: bytes) -> None:
        self.journal.record(block, root, self.ctx.app.last_result, wall_clock_ms())
        self.history.record(self.ctx.state, self.journal.blocks[0])

    def overview(self, listener: Listener) -> dict[str, object]:
        overview = build_overview(
            self.ctx.config.moniker, self.ctx.state, self.journal, self.vaults, self.report,
            detailed=listener.is_operator,
            failures=get_failures(self.ctx.api.governance.events), history=self.history,
        )  # fmt: skip
        status = self.ctx.api.node.get_status()
        overview["health"] = status.get("health")
        overview["peers"] = len(self.ctx.p2p.connected_peers())
        return overview

    async def get_page(self, request: Request, _: dict[str, str]) -> Response:
        body = render_status_page(self.overview(request.listener), wall_clock_ms()).encode()
        return Response(200, body, "text/html; charset=utf-8")

    async def get_overview(self, request: Request, _: dict[str, str]) -> Response:
        return json_response(200, self.overview(request.listener))

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        page = self.get_page
        return [
            (RouteDoc("GET", "/", "getStatusPage",
                      "The status page (HTML): the network; on the operator listener also "
                      "each member's margin health", content_type="text/html", tier="public"),
             page),
            (RouteDoc("GET", "/status", "getStatusPageAlias", "The status page (HTML)",
                      content_type="text/html", tier="public"), page),
            (RouteDoc("GET", "/v1/overview", "getOverview",
                      "Validators, recent blocks, prices and open interest, vault balances, "
                      "how many accounts are below their margin, waterfall events and the "
                      "latest report verdict, what the integers' units are and the recent "
                      "history the page charts; on the operator listener also each member's "
                      "margin health", tier="public"),
             self.get_overview),
        ]  # fmt: skip


class StatusService(RoutesService):
    """The status page and overview, wherever the API is on."""

    name = "status"

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        reports = ctx.config.reports
        verdicts = None
        if reports.enabled:
            store = ReportStore(ctx.config.home / reports.path, reports.keep)
            verdicts = ReportVerdicts(
                store, ctx.store, ctx.genesis, ctx.genesis_hash, lambda: ctx.state
            )
        page = StatusPage(ctx, None if verdicts is None else verdicts.get)
        ctx.on_commit(page.on_commit)
        ctx.api.add_routes(page.routes())
        expose_p2p_counters(ctx.api, ctx.p2p)
        get_risk_setup(ctx.state)  # build the risk setup now, not on the first page view
        async with trio.open_nursery() as nursery:
            if verdicts is not None:
                nursery.start_soon(verdicts.run)
            if ctx.config.bridge_chains:
                # Only here: reading vaults imports web3 and eth_account, over a quarter of
                # a start's imports, which a node with no chain to read never pays.
                from node.status.vault_reads import poll_vaults

                tokens = list(ctx.state.collateral_tokens.values())
                nursery.start_soon(poll_vaults, page.vaults, ctx.config.bridge_chains, tokens,
                                   wall_clock_ms)  # fmt: skip
            task_status.started()
