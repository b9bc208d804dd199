"""Submissions: a transaction handed to the node's mempool is answered 202 with its
hash (pending), or refused with the mempool's reason; nothing changes unless the
mempool admits it (its check runs clearing's signature, chain and replay checks)."""

from __future__ import annotations

from node.api.bodies import hex0x, parse_encoded_tx
from node.api.errors import ApiError, api_error_from
from node.api.http import Request, Response, json_response
from node.api.node_interface import NodeInterface
from node.mempool import MempoolError


async def submit_tx(node: NodeInterface, raw: bytes) -> Response:
    try:
        tx_hash = await node.submit_tx(raw)
    except MempoolError as exc:
        raise api_error_from(exc) from None
    return json_response(202, {"tx_hash": hex0x(tx_hash), "status": "pending"})


async def submit_encoded(
    node: NodeInterface, request: Request, allowed: tuple[type, ...]
) -> Response:
    """Submit the encoded transaction `request` carries, of one of the `allowed` kinds
    (a msgpack body, or `{"tx": "0x..."}` in JSON)."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip() not in ("application/json", "application/msgpack"):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"expected application/json or application/msgpack, got {content_type}",
        )
    return await submit_tx(node, parse_encoded_tx(request.body, content_type, allowed))
