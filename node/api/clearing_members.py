"""Clearing members and clients over the API, each read with its own EIP-712 signature.

POST /v1/clearing-members/clients: a clearing member reads its clients' risk (their
segregation model and backup, each sub-account's equity, initial margin, positions and
margin call, what guaranteeing each may cost) and what it answers for in total; never a
client's key or signature. POST /v1/clients/account: a client reads its clearing
relationship (its member, model and backup) and the offers made to it, which it accepts
with an `AcceptClientAccount` member request. Both are signed queries checked as the
account query is (`SignedQueries.check`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearing.clients import get_clients
from clearing.transition.client_risk import ClientRisk, get_client_risk, get_member_exposure
from clearing.transition.member_requests import CLIENTS_QUERY_FIELDS
from node.api.bodies import hex0x
from node.api.errors import ApiError
from node.api.http import Request, Response, json_response
from node.api.member_history import PRIVATE
from node.api.node_interface import NodeInterface
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.api.signed_queries import SignedQueries

PAGE_CLIENTS = 200
"""Clients per answer, at most; `nextOffset` continues after the last one."""


class ClearingMemberRoutes:
    def __init__(self, node: NodeInterface, queries: SignedQueries) -> None:
        self.node = node
        self.queries = queries

    def table(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/clearing-members/clients", "queryClientRisk",
                      "A clearing member reads its clients' risk, a page from an offset "
                      "(EIP-712 ClientRiskQuery signed by the member)", "ClientsQuery",
                      errors=(401, 404, 415), tier="member"), self.post_client_risk),
            (RouteDoc("POST", "/v1/clients/account", "queryClientAccount",
                      "A client reads its clearing member, segregation model and backup, "
                      "and the offers made to it (EIP-712 ClientAccountQuery signed by the "
                      "client)", "ClientsQuery", errors=(401, 404, 415),
                      tier="member"), self.post_client_account),
        ]  # fmt: skip

    async def post_client_risk(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "ClientRiskQuery", CLIENTS_QUERY_FIELDS)
        state = self.node.get_state()
        member, offset = query.member, query.middle
        clients = get_clients(state, member)
        if member not in state.clearing_members and not clients:
            raise ApiError(404, "NotAClearingMember", "not an admitted clearing member",
                           member=hex0x(member))  # fmt: skip
        risks = [get_client_risk(state, client) for client, _ in clients]
        shortfall, need = get_member_exposure(risks)
        page = risks[offset : offset + PAGE_CLIENTS]
        more = offset + PAGE_CLIENTS < len(risks)
        body = {
            "member": hex0x(member),
            "height": state.height,
            "admitted": member in state.clearing_members,
            "clientCount": len(risks),
            "clientShortfall": shortfall,
            "guaranteeNeed": need,
            "clients": [get_client_view(r) for r in page],
            "nextOffset": offset + PAGE_CLIENTS if more else None,
        }
        return replace(json_response(200, body), headers=PRIVATE)

    async def post_client_account(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "ClientAccountQuery", CLIENTS_QUERY_FIELDS)
        state = self.node.get_state()
        client, offset = query.member, query.middle
        account = state.clients.get(client)
        offers = [(m, terms) for (c, m), terms in sorted(state.client_offers.items())
                  if c == client]  # fmt: skip
        if account is None and not offers:
            raise ApiError(404, "NotAClient", "no client account and no offer",
                           client=hex0x(client))  # fmt: skip
        page = [
            {"clearingMember": hex0x(m), "model": t.model.value, "backup": _address(t.backup)}
            for m, t in offers[offset : offset + PAGE_CLIENTS]
        ]
        body = {
            "client": hex0x(client),
            "height": state.height,
            "clearingMember": None if account is None else _address(account.clearing_member),
            "model": None if account is None else account.model.value,
            "backup": None if account is None else _address(account.backup),
            "offers": page,
            "nextOffset": offset + PAGE_CLIENTS if offset + PAGE_CLIENTS < len(offers) else None,
        }
        return replace(json_response(200, body), headers=PRIVATE)


def _address(address: bytes) -> str | None:
    """An address, or None for no member (a client detached by its member's default, or
    without a backup)."""
    return hex0x(address) if address else None


def get_client_view(risk: ClientRisk) -> dict[str, Any]:
    return {
        "client": hex0x(risk.client),
        "model": risk.account.model.value,
        "backup": _address(risk.account.backup),
        "guaranteeNeed": risk.guarantee_need,
        "subAccounts": [
            {
                "subAccount": s.sub_account,
                "equity": s.equity,
                "initialMargin": s.initial_margin,
                "shortfall": s.shortfall,
                "marginCallDue": s.margin_call_due,
                "positions": [{"instrument": i, "quantity": q} for i, q in s.positions],
            }
            for s in risk.sub_accounts
        ],
    }
