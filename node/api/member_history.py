"""A member's own history and account proof, read with the member's EIP-712 signature.

POST /v1/accounts/events pages through the member's events from the history store
(node/history/: derived from committed blocks, kept with them in SQLite), as JSON or CSV;
POST /v1/accounts/proof answers the Merkle inclusion proof of the member's account in
the committed state root. Both are signed queries checked as the account query is
(`SignedQueries.check`: the member's signature, issued within the freshness window).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from typing import Any

import trio

from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS, ACCOUNT_PROOF_FIELDS
from clearing.transition.root import compute_state_root, get_account_proof
from node.api.bodies import hex0x, parse_json_object
from node.api.errors import ApiError, to_json_value
from node.api.http import Request, Response, json_response
from node.api.node_interface import NodeInterface
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.api.signed_queries import SignedQueries
from node.storage import NodeStore
from node.storage.history_store import HistoryRow
from proofs.account_proof import AccountProofFile

PRIVATE = (("Cache-Control", "no-store"),)
"""A member's own data: no proxy or browser cache keeps it."""
PAGE_EVENTS = 500
"""Rows per answer, at most; `nextCursor` continues after the last one."""
FORMATS = ("json", "csv")
CSV_COLUMNS = ("height", "seq", "source", "tx_index", "kind", "sub_account", "fields")
"""The CSV export's header row. `fields` is the event's other fields as a JSON object:
money and quantities as integers in smallest units, addresses as 0x-hex."""


class MemberHistoryRoutes:
    """The signed member routes over the node's history store (`store`; None: this API
    serves no history, as in tests of other routes, and the routes answer 503)."""

    def __init__(
        self, node: NodeInterface, queries: SignedQueries, store: NodeStore | None
    ) -> None:
        self.node = node
        self.queries = queries
        self.store = store

    def table(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/accounts/events", "queryAccountEvents",
                      "Read your own history (fills, funding, fees, deposits, withdrawals, "
                      "margin calls, liquidations, auctions, assessments...) from committed "
                      "blocks, a page after a cursor, as JSON or CSV (EIP-712 signed by the "
                      "member)", "AccountEventsQuery", "AccountEvents",
                      errors=(400, 401, 410, 415, 503), tier="member"),
             self.post_account_events),
            (RouteDoc("POST", "/v1/accounts/proof", "queryAccountProof",
                      "A Merkle inclusion proof of your account in the committed state root "
                      "(EIP-712 signed by the member); check it with `clearnode verify "
                      "--account-proof`", "AccountProofQuery", "AccountProof",
                      errors=(401, 404, 409, 415, 503), tier="member"), self.post_account_proof),
        ]  # fmt: skip

    async def post_account_events(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "AccountEvents", ACCOUNT_EVENTS_FIELDS)
        member, from_height = query.member, query.middle
        store = require_history(self.store)
        obj = parse_json_object(request.body)
        after = parse_cursor(obj.get("cursor"), from_height)
        check_history_held(store, after)
        output = parse_format(obj.get("format", "json"))
        # off the event loop: a page is a few ms of SQLite, consensus shares the loop
        rows = await trio.to_thread.run_sync(store.read_history, member, after, PAGE_EVENTS + 1)
        page, more = rows[:PAGE_EVENTS], len(rows) > PAGE_EVENTS
        next_cursor = {"height": page[-1].height, "seq": page[-1].seq} if more else None
        if output == "csv":
            more_header = (
                () if next_cursor is None else (("X-Next-Cursor", json.dumps(next_cursor)),)
            )
            return Response(200, write_csv(page), "text/csv; charset=utf-8", PRIVATE + more_header)
        return private_json(
            {
                "member": hex0x(member),
                "fromHeight": from_height,
                "historyHeight": store.history_height(),
                "nextCursor": next_cursor,
                "events": [get_row_view(row) for row in page],
            },
        )

    async def post_account_proof(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "AccountProof", ACCOUNT_PROOF_FIELDS)
        member, height = query.member, query.middle
        state = self.node.get_state()
        if height not in (0, state.height):
            raise ApiError(
                409,
                "HeightNotHeld",
                f"a proof is served for the latest committed height {state.height} only, "
                f"not {height}",
                height=height,
                latest_height=state.height,
            )
        found = get_account_proof(state, member)
        if found is None:
            raise ApiError(404, "UnknownMember", f"no account of {hex0x(member)} in the state")
        account, proof = found
        root = compute_state_root(state)
        return private_json(
            AccountProofFile(
                self.node.chain_id, member, state.height, root, account, proof
            ).to_json()
        )


def require_history(store: NodeStore | None) -> NodeStore:
    if store is None:
        raise ApiError(503, "NoHistory", "this node's API serves no history store")
    return store


def check_history_held(store: NodeStore, after: tuple[int, int]) -> None:
    """A page after cursor `after` would be whole here: no row after it was pruned (410
    naming the first height held, where the member asks again, or asks an archive node)."""
    first = store.history_first_height()
    if after[0] < first and first > 1:
        raise ApiError(
            410, "HistoryPruned",
            f"the history before height {first} was pruned here: ask from height {first}, "
            "or ask an archive node",
            after_height=after[0], first_height=first,
        )  # fmt: skip


def private_json(payload: object) -> Response:
    return replace(json_response(200, payload), headers=PRIVATE)


def parse_cursor(obj: object, from_height: int) -> tuple[int, int]:
    """The (height, seq) the page starts after: the body's `cursor` (a previous answer's
    `nextCursor`), else just before `fromHeight`'s first event."""
    if obj is None:
        return (from_height, -1)
    if (
        not isinstance(obj, dict)
        or set(obj) != {"height", "seq"}
        or not all(type(v) is int and 0 <= v < 2**63 for v in obj.values())
    ):
        raise ApiError(
            400, "BadCursor", f"cursor {obj!r} is not {{height, seq}} of non-negative integers"
        )
    return (obj["height"], obj["seq"])


def parse_format(obj: object) -> str:
    if obj not in FORMATS:
        raise ApiError(400, "BadFormat", f"format {obj!r} is not one of {list(FORMATS)}")
    assert isinstance(obj, str)
    return obj


def get_row_view(row: HistoryRow) -> dict[str, Any]:
    return {
        "height": row.height,
        "seq": row.seq,
        "source": row.source,
        "index": row.index,
        "kind": row.event.kind,
        "fields": {k: to_json_value(v) for k, v in row.event.data},
    }


def write_csv(rows: list[HistoryRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = dict(row.event.data)
        sub_account = data.pop("sub_account", "")
        fields = {k: to_json_value(v) for k, v in data.items()}
        writer.writerow(
            (row.height, row.seq, row.source, row.index, row.event.kind, sub_account,
             json.dumps(fields, separators=(",", ":"), sort_keys=True))
        )  # fmt: skip
    return out.getvalue().encode()
