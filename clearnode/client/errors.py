"""What a call can fail with: the node's refusal, typed by its HTTP status and carrying the
reason the node gave (`{"error": {"type", "message", "details"}}`, node/api/errors.py),
or an answer that is not the API's."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx


class ClientError(Exception):
    """Every error of `clearnode.client`."""


class Unreachable(ClientError):
    """No answer: the connection failed or timed out (the request may or may not have
    arrived; a submission is safe to repeat, the node answers a pending one's hash)."""

    def __init__(self, url: str, cause: httpx.TransportError) -> None:
        super().__init__(f"{url}: {type(cause).__name__}: {cause}")
        self.url = url
        self.cause = cause


class MissingExtra(ClientError):
    """A call that needs a package this install left out: clearnode-client installs it
    with the `extra` named (`pip install 'clearnode-client[chain]'` for web3's chain
    calls); the full clearnode has them all."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs {module}, which clearnode-client installs with its {extra!r} "
            f"extra: pip install 'clearnode-client[{extra}]'"
        )
        self.feature = feature
        self.extra = extra
        self.module = module


class JsonRpcError(ClientError):
    """A chain's JSON-RPC could not be read (clearnode/client/jsonrpc.py): `url`, the
    `method` asked, and `kind`, the word a verifier's "could not" line names it by (the
    browser verifier's words)."""

    kind: ClassVar[str] = "RpcError"

    def __init__(self, url: str, method: str, reason: str) -> None:
        super().__init__(f"{method}: {reason}")
        self.url = url
        self.method = method


class RpcUnreachable(JsonRpcError):
    """No answer from a chain's JSON-RPC: the connection failed or timed out."""

    kind = "ConnectionError"


class RpcHttpStatus(RpcUnreachable):
    """A chain's JSON-RPC server answered an HTTP `status` other than 200."""

    kind = "HTTPError"

    def __init__(self, url: str, method: str, status: int) -> None:
        super().__init__(url, method, f"HTTP {status}")
        self.status = status


class RpcRefused(JsonRpcError):
    """A chain's node answered a call with a JSON-RPC error object (`code`, `message`)."""

    kind = "RpcError"

    def __init__(self, url: str, method: str, code: int, message: str) -> None:
        super().__init__(url, method, f"error {code}: {message}")
        self.code = code
        self.message = message


class RpcBadAnswer(JsonRpcError):
    """A chain's node answered what was not asked (not JSON, not hex, another block or
    log than the one asked for, too large): it is broken, or it lies."""

    kind = "BadAnswer"


class RpcWrongChain(RpcBadAnswer):
    """A chain's node serves another chain id (`actual`) than the one asked for."""

    kind = "ChainIdMismatch"

    def __init__(self, url: str, expected: int, actual: int) -> None:
        # the browser verifier's words, without the method
        ClientError.__init__(self, f"{url} serves chain id {actual}, configured {expected}")
        self.url = url
        self.method = "eth_chainId"
        self.expected = expected
        self.actual = actual


class CheckRefused(ClientError):
    """`verify_report` refuses to check as asked, and says what to give: no genesis
    pinned by its hash (the full check needs it), a check to skip it does not know, a
    checkpoint with the anchor skipped, a member without openings."""


class GenesisMismatch(ClientError):
    """The node serves a genesis whose hash is not the one the network publishes."""

    def __init__(self, url: str, found: bytes, expected: bytes) -> None:
        super().__init__(f"{url} serves genesis 0x{found.hex()}, not 0x{expected.hex()}")
        self.url = url
        self.found = found
        self.expected = expected


class UnexpectedResponse(ClientError):
    """An answer that is neither the route's nor the API's error form (a proxy, another
    server on that port, a truncated body)."""

    def __init__(self, url: str, status: int, text: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {text[:300]}")
        self.url = url
        self.status = status
        self.text = text


class ApiError(ClientError):
    """The node refused: `type` is its reason (`NonceReused`, `InsufficientMargin`,
    `StaleQuery`...), `details` the numbers that explain it, `status` the HTTP status."""

    def __init__(
        self, url: str, status: int, type_: str, message: str, details: dict[str, Any]
    ) -> None:
        super().__init__(f"{type_}: {message} (HTTP {status} from {url})")
        self.url = url
        self.status = status
        self.type = type_
        self.message = message
        self.details = details


class BadRequest(ApiError):
    """400: the request is malformed (a field, the chain id, a cursor)."""


class Unauthorized(ApiError):
    """401: the signature does not recover to the member or venue, or the query is stale."""


class NotFound(ApiError):
    """404: no such block, transaction, report, sub-account or pending withdrawal."""


class Conflict(ApiError):
    """409: a replay (a nonce or batch id used or pending, the same transaction twice)."""


class PayloadTooLarge(ApiError):
    """413: a body or transaction over the node's limit."""


class UnsupportedMediaType(ApiError):
    """415: the body's content type is not one the route reads."""


class Rejected(ApiError):
    """422: clearing refuses it against the committed state (margin, collateral, venue)."""


class Unavailable(ApiError):
    """503: the node cannot take it now (not committing, mempool full, no history)."""


class ServerError(ApiError):
    """Any other status the API answers in its error form."""


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Rejected,
    503: Unavailable,
}


def get_api_error(response: httpx.Response) -> ClientError:
    """The typed error of a refusal `response`."""
    url = str(response.request.url)
    try:
        error = response.json()["error"]
        type_, message, details = error["type"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        return UnexpectedResponse(url, response.status_code, response.text)
    kind = ERRORS_BY_STATUS.get(response.status_code, ServerError)
    return kind(url, response.status_code, str(type_), str(message), dict(details))
