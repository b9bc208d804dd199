"""The node's client of its own CometBFT's RPC, on the Unix socket in the CometBFT home
(node/cometbft/home.py: only the node's user reaches it): the chain's status, its
peers, and its blocks' headers and commits (a report's anchor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from lightclient.cometbft import parse_commit, parse_header
from node.storage.comet_block import SignedHeader


class CometRpcError(Exception):
    """CometBFT's RPC answered with an error, or not at all."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"cometbft RPC {method}: {reason}")
        self.method = method
        self.reason = reason


class CometRpcUnreachable(CometRpcError):
    """CometBFT did not answer (not started yet, restarting, stopped, or too slow): it
    refused nothing, and the same request may be sent again."""


RPC_URL = "http://cometbft"
"""The URL of every RPC request: its host names nothing, the socket is the address."""


def open_rpc_client(socket: Path, timeout_s: float = 10.0) -> httpx.AsyncClient:
    """An HTTP client of the CometBFT RPC listening on the Unix socket `socket`."""
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url=RPC_URL, timeout=timeout_s)


class CometRpc:
    def __init__(self, socket: Path, timeout_s: float = 10.0) -> None:
        self.url = RPC_URL
        self.client = open_rpc_client(socket, timeout_s)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> CometRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def post(self, method: str, params: dict[str, Any]) -> httpx.Response:
        """CometBFT's HTTP answer to the JSON-RPC call; CometRpcError if none came."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            return await self.client.post(self.url, json=body)
        except httpx.TransportError as exc:
            raise CometRpcUnreachable(method, f"{type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise CometRpcError(method, str(exc)) from exc

    async def call(self, method: str, **params: Any) -> Any:
        response = await self.post(method, params)
        try:
            answer = response.json()
        except ValueError as exc:
            raise CometRpcError(method, f"not JSON ({response.status_code}): {exc}") from exc
        if "error" in answer:
            error = answer["error"]
            raise CometRpcError(method, f"{error.get('message')}: {error.get('data')}")
        return answer["result"]

    async def get_height(self) -> int:
        status = await self.call("status")
        return int(status["sync_info"]["latest_block_height"])

    async def get_header(self, height: int) -> dict[str, Any]:
        block = await self.call("block", height=str(height))
        header: dict[str, Any] = block["block"]["header"]
        return header

    async def get_signed_header(self, height: int) -> SignedHeader:
        """Block `height`'s header and the commit of it CometBFT holds (the one the next
        block carries, or for the latest block the one it saw)."""
        signed = (await self.call("commit", height=str(height)))["signed_header"]
        try:
            return SignedHeader(parse_header(signed["header"]), parse_commit(signed["commit"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CometRpcError("commit", f"not a signed header: {exc}") from exc
