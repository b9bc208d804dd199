"""The devnet's side of a validator's HTTP API: what a venue, a member, a
relayer and a watcher send and read, exactly as any client would."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import compute_signable, sign_typed
from clearing.member_requests import ACCOUNT_QUERY_FIELDS, MEMBER_REQUESTS
from clearing.sandbox import MemberKey
from clearing.transfer import Transfer
from clearing.tx import TxRecord, encode_tx
from clearing.venues import AuthoriseVenue
from clearing.withdrawal import Withdrawal
from node.api.bodies import hex0x

TIMEOUT_S = 20.0
MemberRequest = Withdrawal | Transfer | AuthoriseVenue | RegisterBidder | AuctionBid


class NodeApiError(Exception):
    """A request the node answered with an error status."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


def get_member_request_body(record: MemberRequest, chain_id: int) -> dict[str, Any]:
    """The JSON a member's wallet sends: the EIP-712 message it signed and the signature."""
    kind = type(record).__name__
    _, fields = MEMBER_REQUESTS[kind]
    values = record.to_fields()[: len(fields)]
    message = {
        f["name"]: hex0x(v) if isinstance(v, bytes) else v
        for f, v in zip(fields, values, strict=True)
    }
    signature = record.signature
    return {"type": kind, "chainId": chain_id, "message": message, "signature": hex0x(signature)}


def get_account_query_body(
    member: MemberKey, chain_id: int, sub_account: int = 0
) -> dict[str, Any]:
    message = {
        "member": hex0x(member.address),
        "subAccount": sub_account,
        "issuedAtMs": time.time_ns() // 1_000_000,
    }
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = sign_typed(member.private_key, signable)
    return {"chainId": chain_id, "message": message, "signature": hex0x(signature)}


@dataclass
class NodeClient:
    """One validator's API at `url` (http://127.0.0.1:PORT)."""

    name: str
    url: str
    http: httpx.AsyncClient

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, self.url + path, timeout=TIMEOUT_S, **kwargs)

    async def get(self, path: str) -> Any:
        """The JSON of GET `path`, or None when the node answers 404."""
        response = await self.request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NodeApiError(self.url + path, response.status_code, response.text)
        return response.json()

    async def post(self, path: str, **kwargs: Any) -> Any:
        response = await self.request("POST", path, **kwargs)
        if response.status_code not in (200, 202):
            raise NodeApiError(self.url + path, response.status_code, response.text)
        return response.json()

    async def post_tx(self, path: str, record: TxRecord) -> Any:
        raw = encode_tx(record)
        return await self.post(path, content=raw, headers={"content-type": "application/msgpack"})

    async def post_member_request(self, record: MemberRequest, chain_id: int) -> Any:
        return await self.post(
            "/v1/member-requests", json=get_member_request_body(record, chain_id)
        )

    async def query_account(self, member: MemberKey, chain_id: int, sub_account: int = 0) -> Any:
        """The member's own sub-account and margin, or None before it has one."""
        body = get_account_query_body(member, chain_id, sub_account)
        response = await self.request("POST", "/v1/accounts/query", json=body)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NodeApiError(self.url, response.status_code, response.text)
        return response.json()

    async def get_openings(self, epoch: int, member: MemberKey, chain_id: int) -> Any:
        """The member's own openings of an epoch's report (its EIP-712 signed request)."""
        from node.reports.api import compute_openings_signable

        issued_ms = time.time_ns() // 1_000_000
        signable = compute_openings_signable(chain_id, member.address, epoch, issued_ms)
        message = {"member": hex0x(member.address), "epoch": epoch, "issuedAtMs": issued_ms}
        signature = hex0x(sign_typed(member.private_key, signable))
        body = {"chainId": chain_id, "message": message, "signature": signature}
        return await self.post(f"/v1/reports/{epoch}/openings", json=body)

    async def get_height(self) -> int:
        status = await self.get("/v1/status")
        return int(status["height"])

    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(event kind, data) from the node's Server-Sent Events stream, until it closes."""
        async with self.http.stream("GET", self.url + "/v1/events", timeout=None) as response:
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    yield kind, json.loads(line[6:])
