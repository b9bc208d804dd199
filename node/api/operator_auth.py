"""The operator listener's credential: every request carries the node's operator token.

Loopback keeps the network out, not the host's other users: each of them could read
every member's margin health and every block's transactions there. So the listener
answers only a request whose `Authorization` carries the token of the node's
`keys/operator_token` (node/keys.py), as `Bearer <token>` (curl, Prometheus) or as the
password of `Basic` (any user name: what a browser asks for when the 401 offers it).
Anything else gets 401 `Unauthorized` and the route is not run. The comparison takes
the same time wherever the tokens differ, and no token is logged (the HTTP layer logs
paths only).
"""

from __future__ import annotations

import base64
import binascii
import hmac

from node.api.errors import error_response
from node.api.http import Response

REALM = "clearnode operator"
CHALLENGES = (
    ("www-authenticate", f'Bearer realm="{REALM}"'),
    ("www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
)


def get_presented_token(authorization: str) -> str | None:
    """The token an `Authorization` header value presents, or None if it presents none."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def is_authorised(authorization: str | None, token: str) -> bool:
    presented = None if authorization is None else get_presented_token(authorization)
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


def get_unauthorised_response(authorization: str | None) -> Response:
    reason = "missing" if authorization is None else "wrong"
    response = error_response(
        401,
        "Unauthorized",
        f"the operator listener answers requests carrying the node's operator token only "
        f"(Authorization: Bearer <token>, the token in the node home's keys/operator_token); "
        f"this request's is {reason}",
        {"reason": reason},
    )
    return Response(response.status, response.body, response.content_type, CHALLENGES)
