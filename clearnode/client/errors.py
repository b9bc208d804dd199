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
    """A chain's node answered a call with a JSON-RPC error object (`code`, `message`, and
    `data` where it gave any: a revert's, for a call or a gas estimate that reverted)."""

    kind = "RpcError"

    def __init__(
        self, url: str, method: str, code: int, message: str, data: bytes | None = None
    ) -> None:
        super().__init__(url, method, f"error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data


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


class NotAContract(ClientError):
    """Nothing is deployed at `address` on the chain `chain_id`: not the vault (a
    deposit there would send the coins to no contract at all)."""

    def __init__(self, url: str, chain_id: int, address: bytes) -> None:
        super().__init__(f"no contract at 0x{address.hex()} on chain {chain_id} ({url})")
        self.url = url
        self.chain_id = chain_id
        self.address = address


class TransactionError(ClientError):
    """A transaction the SDK signed did not succeed on chain (clearnode/client/
    transactions.py): `tx_hash` (0x-hex; None if it was never sent) and `nonce`."""

    def __init__(self, message: str, tx_hash: str | None, nonce: int) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.nonce = nonce


class TransactionReverted(TransactionError):
    """The contract refused: `error` is the error it reverted with (the contract's own,
    `Error` for a reason string, `Panic` for a failed language check; "" if the node gave
    no reason) with its `error_args`, `data` the raw revert data. Refused by the gas estimate
    (`tx_hash` None): nothing was sent or spent. Mined with status 0 (`tx_hash`, `block`):
    `gas_used` of `gas_limit` was spent, and the reason is the call's replayed on the state
    after that block, if it still reverts there."""

    def __init__(
        self,
        to: bytes,
        error: str,
        args: tuple[Any, ...],
        data: bytes,
        tx_hash: str | None = None,
        nonce: int = -1,
        block: int | None = None,
        gas_used: int = 0,
        gas_limit: int = 0,
    ) -> None:
        reason = f"{error}{args}" if error else "no reason given"
        where = (
            "refused by the gas estimate, nothing sent"
            if tx_hash is None
            else f"{tx_hash} mined in block {block} with status 0 after {gas_used} of "
            f"{gas_limit} gas"
        )
        super().__init__(f"0x{to.hex()} reverted: {reason} ({where})", tx_hash, nonce)
        self.to = to
        self.error = error
        self.error_args = args
        self.data = data
        self.block = block
        self.gas_used = gas_used
        self.gas_limit = gas_limit


class TransactionDropped(TransactionError):
    """Sent, then gone: the node no longer has it and never mined it, or another
    transaction of the sender took its nonce (`mined_nonce`: the sender's count of mined
    transactions when it was seen gone). It will not be mined: send it again."""

    def __init__(self, tx_hash: str, nonce: int, mined_nonce: int) -> None:
        why = (
            f"nonce {nonce} was used by another transaction"
            if mined_nonce > nonce
            else "the node no longer has it"
        )
        super().__init__(f"{tx_hash} dropped, not mined: {why}", tx_hash, nonce)
        self.mined_nonce = mined_nonce


class TransactionPending(TransactionError):
    """Sent, and still not mined after `waited_s` seconds (fees too low for the chain's
    demand, or a chain that stopped): it may yet be mined, so wait again
    (`wait_for_receipt`) before sending anything in its place."""

    def __init__(self, tx_hash: str, nonce: int, waited_s: float) -> None:
        super().__init__(f"{tx_hash} not mined after {waited_s:g} s", tx_hash, nonce)
        self.waited_s = waited_s


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


class Pruned(ApiError):
    """410: the node no longer holds that block, history or report; `details["first_height"]`
    is the first height it holds, `details["first_epoch"]` its oldest report's epoch (ask
    from there, or ask an archive node)."""


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
    410: Pruned,
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
