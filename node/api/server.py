"""The HTTP API: routes → handlers over a `NodeInterface`.

Every handler either answers or raises ApiError; the submit routes change nothing
unless the mempool admits the transaction (submit.py). Account queries need the
member's own EIP-712 signature, issued within `query_max_age_ms` of the node's clock
(signed_queries.py): positions are private. The route modules beside this one
(member history and stream, clearing members, governance) get what they use, the
node, the signed-query check, the event broker, and never this app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import trio

from clearing.member_authorisation import get_next_nonce
from clearing.risk.engine import get_member_risk
from clearing.risk.queries import get_margin_call_status
from clearing.state import ClearingState, Jailing
from clearing.transition.block import BlockResult
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS
from clearing.transition.tx import encode_tx, get_records_submitted_by
from clearing.transition.withdrawable import get_withdrawable
from clearing.tx_kind import Submitter
from node.api.blocks import get_block_view
from node.api.bodies import hex0x, parse_member_request, require_json
from node.api.clearing_members import ClearingMemberRoutes
from node.api.errors import ApiError, error_response
from node.api.events import EventBroker
from node.api.governance import GovernanceRoutes
from node.api.http import Request, Response, json_response, serve_http
from node.api.member_history import MemberHistoryRoutes
from node.api.member_stream import MemberStreamRoutes, MemberStreams
from node.api.node_interface import NodeInterface
from node.api.openapi import RouteDoc, build_document
from node.api.operator_auth import get_unauthorised_response, is_authorised
from node.api.routes import Route, RouteHandler, compile_path
from node.api.signed_queries import QUERY_MAX_AGE_MS, SignedQueries
from node.api.submit import submit_encoded, submit_tx
from node.api.tiers import PUBLIC, Listener
from node.api.txs import get_outcome_view
from node.clock import wall_clock_ms
from node.limits import MAX_API_BODY_BYTES
from node.metrics import CONTENT_TYPE, NodeMetrics
from node.storage import NodeStore
from node.storage.history_store import BlockHistory
from node.storage.outcomes import TX_WINDOW_BLOCKS

API_VERSION = "1.0.0"
MAX_HEIGHT = 2**63 - 1
VENUE_RECORDS = get_records_submitted_by(Submitter.VENUE)
BRIDGE_RECORDS = get_records_submitted_by(Submitter.BRIDGE)
"""Heights are SQLite integers (signed 64-bit)."""


class ApiApp:
    def __init__(
        self,
        node: NodeInterface,
        broker: EventBroker | None = None,
        metrics: NodeMetrics | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        query_max_age_ms: int = QUERY_MAX_AGE_MS,
        history_store: NodeStore | None = None,
    ) -> None:
        self.node = node
        self.broker = broker if broker is not None else EventBroker()
        self.metrics = metrics
        self.queries = SignedQueries(node, clock_ms, query_max_age_ms)
        self.history_store = history_store
        self.port = 0  # the bound port, once served (see serve.py)
        self.operator_port: int | None = None  # the operator listener's, when it is on
        self.routes: list[Route] = []
        self._documents: dict[Listener, bytes] = {}
        """/openapi.json per listener: the routes it serves, no others."""
        self.add_routes(self._table())
        self.add_routes(MemberHistoryRoutes(node, self.queries, history_store).table())
        self.add_routes(ClearingMemberRoutes(node, self.queries).table())
        self.governance = GovernanceRoutes(node, self.broker)
        self.add_routes(self.governance.table())
        self.member_streams = MemberStreams(history_store)
        self.add_routes(MemberStreamRoutes(self.queries, self.member_streams).table())
        self._price_time_ms: int | None = None

    def add_routes(self, table: list[tuple[RouteDoc, RouteHandler]]) -> None:
        """Serve more routes (node services add theirs) and document them in /openapi.json."""
        self.routes.extend(Route(doc, handler, compile_path(doc.path)) for doc, handler in table)
        self._documents.clear()

    def get_document(self, listener: Listener) -> bytes:
        document = self._documents.get(listener)
        if document is None:
            served = [r.doc for r in self.routes if listener.serves(r.doc.tier)]
            document = json.dumps(build_document(served, API_VERSION)).encode()
            self._documents[listener] = document
        return document

    def _table(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/trade-batches", "submitTradeBatch",
                      "Submit a venue-signed trade batch", "EncodedTx", "Submitted", 202,
                      errors=(401, 409, 413, 415, 422, 503), max_body_bytes=MAX_API_BODY_BYTES,
                      tier="venue"), self.post_trade_batch),
            (RouteDoc("POST", "/v1/member-requests", "submitMemberRequest",
                      "Submit a member's EIP-712 signed withdrawal, transfer or venue "
                      "authorisation", "MemberRequest", "Submitted", 202,
                      errors=(401, 409, 415, 422, 503), tier="member"), self.post_member_request),
            (RouteDoc("POST", "/v1/bridge/collateral-events", "submitBridgeEvent",
                      "Submit a validator-attested collateral credit, withdrawal payout "
                      "or withdrawal expiry",
                      "EncodedTx", "Submitted", 202, errors=(401, 409, 413, 415, 422, 503),
                      max_body_bytes=MAX_API_BODY_BYTES, tier="bridge"), self.post_bridge_event),
            (RouteDoc("POST", "/v1/accounts/query", "queryAccount",
                      "Read your own sub-account, margin and liquidation prices "
                      "(EIP-712 signed by the member)", "AccountQuery", "Account",
                      errors=(401, 415), tier="member"), self.post_account_query),
            (RouteDoc("GET", "/v1/txs/{hash}", "getTx",
                      "What happened to a transaction: pending, or committed in the last "
                      f"{TX_WINDOW_BLOCKS:,} blocks (kept on disk, across restarts) with its "
                      "result code and events (its hash is known only to whoever holds it: "
                      "nothing public shows one)",
                      response="TxOutcome", tier="submitter"), self.get_tx),
            (RouteDoc("GET", "/v1/blocks/{height}", "getBlock",
                      "A committed block's header, transaction counts per kind and commit "
                      "certificate; on the operator listener also its transactions",
                      response="Block", errors=(410,), tier="public"), self.get_block),
            (RouteDoc("GET", "/v1/validators", "getValidators", "The current validator set",
                      response="Validators", tier="public"), self.get_validators),
            (RouteDoc("GET", "/v1/prices", "getPrices", "Committed index and mark prices",
                      response="Prices", tier="public"), self.get_prices),
            (RouteDoc("GET", "/v1/status", "getStatus", "Node status and latest height",
                      response="Status", tier="public"), self.get_status),
            (RouteDoc("GET", "/v1/events", "streamEvents",
                      "Server-Sent Events of public facts only: committed block headers "
                      "(height, hash, state root, transaction counts) and price updates "
                      "(node/api/events.py STREAM_KINDS)",
                      content_type="text/event-stream", tier="public"), self.get_events),
            (RouteDoc("GET", "/metrics", "getMetrics", "Prometheus metrics (text exposition)",
                      content_type="text/plain", tier="operator"), self.get_metrics),
            (RouteDoc("GET", "/openapi.json", "getOpenApi",
                      "This OpenAPI 3.1 document: the routes this listener serves",
                      tier="public"), self.get_openapi),
        ]  # fmt: skip

    async def handle(self, request: Request) -> Response:
        """Answer `request` with the routes its listener serves: another tier's route
        answers 404 as if it did not exist (the public listener does not advertise them)."""
        route, params, allowed = self._match(request.method, request.path, request.listener)
        try:
            if route is None:
                if allowed:
                    raise ApiError(
                        405, "MethodNotAllowed", f"use {', '.join(allowed)}", allowed=allowed
                    )
                raise ApiError(404, "NotFound", f"no route {request.path}")
            response = await route.handler(request, params)
        except ApiError as exc:
            response = error_response(exc.status, exc.type, exc.message, exc.details)
        self._count(route, response.status)
        return response

    def _match(
        self, method: str, path: str, listener: Listener
    ) -> tuple[Route | None, dict[str, str], list[str]]:
        allowed = []
        for route in self.routes:
            if not listener.serves(route.doc.tier):
                continue
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.doc.method == method:
                return route, found.groupdict(), []
            allowed.append(route.doc.method)
        return None, {}, allowed

    def get_body_limit(self, method: str, path: str, listener: Listener = PUBLIC) -> int:
        """The body cap declared with the route (an unknown route's is the default)."""
        route = self._match(method, path, listener)[0]
        return route.doc.max_body_bytes if route is not None else RouteDoc.max_body_bytes

    def _count(self, route: Route | None, status: int) -> None:
        if self.metrics is not None:
            name = route.doc.operation_id if route is not None else "unmatched"
            self.metrics.api_requests.labels(route=name, status=str(status)).inc()

    def publish_block(
        self, height: int, block_hash: bytes, state_root: bytes, time_ms: int, codes: list[str]
    ) -> None:
        """Tell event-stream subscribers a block committed, and the prices if it changed
        them (public facts only: see STREAM_KINDS)."""
        self.broker.publish(
            "block",
            {
                "height": height,
                "hash": hex0x(block_hash),
                "state_root": hex0x(state_root),
                "time_ms": time_ms,
                "txs": len(codes),
                "rejected": sum(code != "ok" for code in codes),
            },
        )
        state = self.node.get_state()
        if state.price_time_ms != self._price_time_ms:
            self._price_time_ms = state.price_time_ms
            self.broker.publish("prices", {"height": height, **get_prices_view(state)})

    def publish_history(self, history: BlockHistory) -> None:
        """Send a committed block's history rows (saved with it) to their members' streams."""
        self.member_streams.publish_history(history)

    def record_block(self, result: BlockResult) -> None:
        """Keep a committed block's governance events for GET /v1/governance/events (its
        transactions' outcomes are saved with the block: node/storage/outcomes.py)."""
        self.governance.record_block(result)

    # submissions

    async def post_trade_batch(self, request: Request, _: dict[str, str]) -> Response:
        return await submit_encoded(self.node, request, VENUE_RECORDS)

    async def post_bridge_event(self, request: Request, _: dict[str, str]) -> Response:
        return await submit_encoded(self.node, request, BRIDGE_RECORDS)

    async def post_member_request(self, request: Request, _: dict[str, str]) -> Response:
        require_json(request)
        record = parse_member_request(request.body, self.node.chain_id)
        return await submit_tx(self.node, encode_tx(record))

    # reads

    async def post_account_query(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "AccountQuery", ACCOUNT_QUERY_FIELDS)
        return json_response(200, self._account_view(query.member, query.middle))

    def _account_view(self, member: bytes, sub_account: int) -> dict[str, Any]:
        state = self.node.get_state()
        record = state.members.get(member)
        account = None if record is None else record.sub_accounts.get(sub_account)
        if record is None or account is None:
            # A member without this sub-account may have spent nonces all the same (a
            # venue authorised, a request refused): its next one is still its own to know.
            raise ApiError(
                404,
                "UnknownSubAccount",
                "no such sub-account at this height",
                member=hex0x(member),
                sub_account=sub_account,
                next_nonce=get_next_nonce(record),
            )
        risk = get_member_risk(state, member, sub_account)
        call = get_margin_call_status(account.margin_call, state.height)
        return {
            "member": hex0x(member),
            "subAccount": sub_account,
            "height": state.height,
            "cash": account.cash,
            "nextNonce": get_next_nonce(record),
            "collateral": [
                {"chainId": chain, "token": hex0x(token), "quanta": quanta}
                for (chain, token), quanta in sorted(account.collateral.items())
            ],
            # Per chain and token, the most a withdrawal may ask for at this height.
            "withdrawable": [
                {
                    "chainId": w.key[0],
                    "token": hex0x(w.key[1]),
                    "quanta": w.quanta,
                    "fromCash": w.from_cash,
                }
                for w in get_withdrawable(state, member, sub_account, account)
            ],
            "positions": [
                {
                    "instrument": iid,
                    "quantity": p.quantity,
                    "averageEntryPrice": p.average_entry_price,
                    "settlementPrice": p.settlement_price,
                    "realisedPnl": p.realised_pnl,
                }
                for iid, p in sorted(account.positions.items())
            ],
            "risk": None
            if risk is None
            else {
                "equity": risk.equity,
                "initialMargin": risk.initial_margin,
                "maintenanceMargin": risk.maintenance_margin,
                "freeCollateral": risk.free_collateral,
                "liquidationPrices": dict(risk.liquidation_prices),
            },
            "marginCall": None
            if call is None
            else {
                "amountDue": call.amount_due,
                "openedHeight": call.opened_height,
                "deadlineHeight": call.deadline_height,
                "blocksLeft": call.blocks_left,
            },
            # A registered bidder sees the open default auctions' lots; nobody else does.
            "auctions": [
                {
                    "auction": a.id,
                    "round": a.round,
                    "closesHeight": a.closes_height,
                    "lots": [{"instrument": iid, "quantity": q} for iid, q in a.lots],
                }
                for _, a in sorted(state.auctions.items())
            ]
            if record.bidder
            else [],
        }

    async def get_block(self, request: Request, params: dict[str, str]) -> Response:
        text = params["height"]
        if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_HEIGHT):
            raise ApiError(
                400, "InvalidField", f"height: expected an integer in [0, {MAX_HEIGHT}]",
                field="height",
            )  # fmt: skip
        height = int(text)
        stored = self.node.get_block(height)
        if stored is None:
            first = self.node.get_first_height()
            if 1 <= height < first:
                raise ApiError(
                    410, "BlockPruned",
                    f"block {height} was pruned here: this node holds the blocks from height "
                    f"{first} (and the older ones light clients read); ask an archive node",
                    height=height, first_height=first,
                )  # fmt: skip
            raise ApiError(
                404, "UnknownBlock", f"no committed block at height {text}", height=height
            )
        engine = self.node.get_state().genesis.engine
        view = get_block_view(stored, engine, full=request.listener.is_operator)
        return json_response(200, view)

    async def get_tx(self, _: Request, params: dict[str, str]) -> Response:
        text = params["hash"]
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", text) is None:
            raise ApiError(400, "InvalidField", "hash: expected 0x and 64 hex digits", field="hash")
        tx_hash = bytes.fromhex(text[2:])
        store = self.history_store
        outcome = None if store is None else store.read_tx_outcome(tx_hash)
        if outcome is not None:
            return json_response(200, get_outcome_view(outcome))
        if self.node.is_pending(tx_hash):
            return json_response(200, {"tx_hash": hex0x(tx_hash), "status": "pending"})
        window = 0 if store is None else store.tx_window_blocks
        latest = 0 if store is None else store.history_height()
        raise ApiError(
            404,
            "TxNotFound",
            f"0x{tx_hash.hex()} is not pending nor committed in the last {window} blocks "
            "this node kept",
            tx_hash=hex0x(tx_hash),
            window_blocks=window,
            oldest_height=max(1, latest - window + 1) if latest else None,
            latest_height=latest or None,
        )

    async def get_validators(self, _: Request, __: dict[str, str]) -> Response:
        state = self.node.get_state()
        validators = [
            {
                "name": v.name,
                "pubkey": hex0x(v.pubkey),
                "power": v.power,
                "evm_address": hex0x(v.evm_address),
                "jailed": get_jailing_view(state.jailed.get(v.pubkey)),
            }
            for v in state.validators.values()
        ]
        return json_response(200, {"total_power": state.total_power, "validators": validators})

    async def get_prices(self, _: Request, __: dict[str, str]) -> Response:
        return json_response(200, get_prices_view(self.node.get_state()))

    async def get_status(self, _: Request, __: dict[str, str]) -> Response:
        return json_response(200, self.node.get_status())

    async def get_events(self, _: Request, __: dict[str, str]) -> Response:
        return Response(200, content_type="text/event-stream", stream=self.broker.stream)

    async def get_metrics(self, _: Request, __: dict[str, str]) -> Response:
        if self.metrics is None:
            raise ApiError(404, "NotFound", "metrics are disabled in this node's config")
        self.metrics.event_subscribers.set(
            self.broker.subscriber_count + self.member_streams.subscriber_count
        )
        return Response(200, self.metrics.render(), content_type=CONTENT_TYPE)

    async def get_openapi(self, request: Request, _: dict[str, str]) -> Response:
        return Response(200, self.get_document(request.listener))


def get_prices_view(state: ClearingState) -> dict[str, object]:
    """The committed index and mark prices and their time (GET /v1/prices, `prices` events)."""
    return {
        "index": dict(sorted(state.index_prices.items())),
        "mark": dict(sorted(state.mark_prices.items())),
        "time_ms": state.price_time_ms,
    }


def api_error_handler(
    status: int, type_: str, message: str, details: dict[str, object]
) -> Response:
    """For failures the HTTP layer detects before a handler runs (413, bad HTTP, 500)."""
    return error_response(status, type_, message, details)


async def serve_api(
    app: ApiApp,
    host: str,
    port: int,
    *,
    max_body_bytes: int,
    listener: Listener = PUBLIC,
    token: str | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app`'s routes for `listener` until cancelled; `task_status.started` gets the
    bound listeners. The operator listener needs its `token` (node/api/operator_auth.py),
    which every request must carry."""
    if listener.is_operator and token is None:
        raise ValueError("the operator listener is served only with its token")

    async def handle(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        if token is not None and not is_authorised(authorization, token):
            return get_unauthorised_response(authorization)
        return await app.handle(replace(request, listener=listener))

    await serve_http(
        handle,
        host,
        port,
        max_body_bytes=max_body_bytes,
        on_error=api_error_handler,
        get_body_limit=lambda method, path: app.get_body_limit(method, path, listener),
        task_status=task_status,
    )


def get_jailing_view(jailing: Jailing | None) -> dict[str, int] | None:
    """Why a validator has no power (committed equivocation evidence), or None."""
    if jailing is None:
        return None
    return {
        "evidence_height": jailing.evidence_height,
        "height": jailing.height,
        "power": jailing.power,
    }
