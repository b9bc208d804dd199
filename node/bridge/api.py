"""The bridge's HTTP routes: what a relayer needs to pay a withdrawal or rotate a
vault's validator set, and watcher status.

`GET /v1/withdrawals/pending` and `GET /v1/withdrawals/{member}/{nonce}` answer
bridge.withdrawal.get_relay_json for the authorisation with the most collected
signed power (signatures sorted by signer address, as the vault wants; `complete`
once they carry more than 2/3 of it), plus the record's `height`. A pending
withdrawal nobody has signed yet has `signatures: []` and no vault call fields but
its `expiry`: after it the vault refuses it and the validators refund the debit.

`GET /v1/bridge/rotations` answers bridge.rotation.get_rotation_relay_json for each
vault's pooled rotation to the consensus set (pools.RotationBook.get_best).
`POST /v1/bridge/external-events` takes a `SignedExternalEvent` from a registered
external bridge (docs/bridge.md "External bridges"): checked against the registry in
the committed state, it is gossiped, and every validator (this node too, if it is one)
checks it against its own state and attests it; the deposit then takes the watched
deposits' quorum path.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.external import (
    BadBridgeSignature,
    ChainNotAllowed,
    SignedExternalEvent,
    UnregisteredBridge,
)
from bridge.observation import InvalidAttestation, SignedObservation
from bridge.rotation import get_rotation_relay_json
from bridge.withdrawal import get_relay_json
from clearing.collateral import CollateralObservation
from clearing.errors import DuplicateCredit, UnknownCollateral
from clearing.state import ClearingState, WithdrawalRecord
from node.api.bodies import get_field, hex0x, parse_hex, parse_json_object
from node.api.errors import ApiError, api_error_from
from node.api.http import Request, Response, json_response
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.bridge.external import check_external_event
from node.bridge.pools import RotationBook, WithdrawalBook
from records.codec import DecodeError

MAX_NONCE_DIGITS = 78  # uint256


class BridgeView(Protocol):
    """What the routes read of the node's bridge, and the one thing they ask of it: to
    relay an external bridge's report (bridge_node.BridgeNode is the one the node serves)."""

    @property
    def withdrawals(self) -> WithdrawalBook: ...

    @property
    def rotations(self) -> RotationBook: ...

    def get_state(self) -> ClearingState:
        """The committed clearing state (read only)."""
        ...

    def get_status(self) -> dict[str, object]:
        """GET /v1/bridge: the chain watchers, the pools, the vaults' sets, the counters."""
        ...

    async def relay_external(
        self, event: SignedExternalEvent, observation: CollateralObservation
    ) -> SignedObservation | None: ...


class BridgeApi:
    def __init__(self, node: BridgeView) -> None:
        self.node = node

    def get_withdrawal_view(self, record: WithdrawalRecord) -> dict[str, Any]:
        best = self.node.withdrawals.get_best((record.member, record.nonce))
        if best is not None:
            return {**get_relay_json(*best), "height": record.height}
        return {
            "chain_id": record.chain_id,
            "member": hex0x(record.member),
            "token": hex0x(record.token),
            "amount": str(record.amount),
            "recipient": hex0x(record.recipient),
            "nonce": str(record.nonce),
            "expiry": record.expiry,
            "signatures": [],
            "signed_power": 0,
            "total_power": self.node.get_state().total_power,
            "complete": False,
            "height": record.height,
        }

    async def get_pending(self, _: Request, __: dict[str, str]) -> Response:
        pending = self.node.get_state().pending_withdrawals
        views = [self.get_withdrawal_view(pending[key]) for key in sorted(pending)]
        return json_response(200, {"withdrawals": views})

    async def get_withdrawal(self, _: Request, params: dict[str, str]) -> Response:
        member, nonce = parse_member(params["member"]), parse_nonce(params["nonce"])
        record = self.node.get_state().pending_withdrawals.get((member, nonce))
        if record is None:
            raise ApiError(
                404,
                "NotPending",
                f"no pending withdrawal of 0x{member.hex()} with nonce {nonce}"
                " (paid, refunded or unknown)",
                member=hex0x(member),
                nonce=str(nonce),
            )
        return json_response(200, self.get_withdrawal_view(record))

    async def get_bridge_status(self, _: Request, __: dict[str, str]) -> Response:
        return json_response(200, self.node.get_status())

    async def get_rotations(self, _: Request, __: dict[str, str]) -> Response:
        best = self.node.rotations.get_all_best()
        return json_response(200, {"rotations": [get_rotation_relay_json(*b) for b in best]})

    async def post_external_event(self, request: Request, _: dict[str, str]) -> Response:
        event = parse_external_event(request)
        observation = self.check_external_event(event)
        try:
            signed = await self.node.relay_external(event, observation)
        except InvalidAttestation as exc:
            raise ApiError(
                409, "ObservationRefused", str(exc), **_deposit_details(observation),
                reason=exc.reason,
            ) from None  # fmt: skip
        return json_response(
            202,
            {
                "deposit": _deposit_details(observation),
                "attested_by": None if signed is None else hex0x(signed.attestation.signer),
                "status": "gossiped",
            },
        )

    def check_external_event(self, event: SignedExternalEvent) -> CollateralObservation:
        try:
            return check_external_event(self.node.get_state(), event)
        except UnregisteredBridge as exc:
            raise ApiError(
                401, "UnregisteredBridge", str(exc), bridge_key=hex0x(exc.public_key)
            ) from None
        except BadBridgeSignature as exc:
            raise ApiError(401, "BadBridgeSignature", str(exc), bridge=exc.bridge) from None
        except ChainNotAllowed as exc:
            raise ApiError(
                422, "ChainNotAllowed", str(exc), bridge=exc.bridge, chain_id=exc.chain_id,
                chains=list(exc.chains),
            ) from None  # fmt: skip
        except (DuplicateCredit, UnknownCollateral) as exc:
            raise api_error_from(exc) from None

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/bridge/external-events", "submitExternalEvent",
                      "A registered external bridge's signed deposit report "
                      "(SignedExternalEvent), gossiped for every validator to attest",
                      "ExternalEvent", "ExternalEventAccepted", 202,
                      errors=(401, 409, 415, 422), tier="bridge"), self.post_external_event),
            (RouteDoc("GET", "/v1/withdrawals/pending", "getPendingWithdrawals",
                      "Pending withdrawals with the validators' collected vault signatures",
                      tier="public"), self.get_pending),
            (RouteDoc("GET", "/v1/withdrawals/{member}/{nonce}", "getWithdrawal",
                      "One pending withdrawal's vault call: fields, ordered signatures, "
                      "complete flag", errors=(400, 404), tier="public"), self.get_withdrawal),
            (RouteDoc("GET", "/v1/bridge", "getBridgeStatus",
                      "This node's chain watchers and bridge pools", tier="public"),
             self.get_bridge_status),
            (RouteDoc("GET", "/v1/bridge/rotations", "getVaultRotations",
                      "Per vault, the pooled rotation to the consensus validator set with the "
                      "current set's signatures: rotate's fields, complete flag",
                      tier="public"), self.get_rotations),
        ]  # fmt: skip


def parse_member(text: str) -> bytes:
    body = text.removeprefix("0x")
    if len(body) != 40 or not all(c in "0123456789abcdefABCDEF" for c in body):
        raise ApiError(400, "InvalidField", "member: expected a 0x-hex address", field="member")
    return bytes.fromhex(body)


def parse_nonce(text: str) -> int:
    if not text.isdigit() or len(text) > MAX_NONCE_DIGITS:
        raise ApiError(400, "InvalidField", "nonce: expected a decimal integer", field="nonce")
    return int(text)


def parse_external_event(request: Request) -> SignedExternalEvent:
    """From an `application/msgpack` body (`SignedExternalEvent.encode()`) or
    `{"event": "0x..."}`."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type == "application/msgpack":
        raw = request.body
    elif content_type == "application/json":
        raw = parse_hex(get_field(parse_json_object(request.body), "event"), "event")
    else:
        raise ApiError(
            415, "UnsupportedMediaType",
            f"expected application/json or application/msgpack, got {content_type}",
        )  # fmt: skip
    try:
        return SignedExternalEvent.decode(raw)
    except DecodeError as exc:
        raise ApiError(400, exc.code, str(exc), what=exc.what, reason=exc.reason) from None


def _deposit_details(observation: CollateralObservation) -> dict[str, object]:
    return {
        "chain_id": observation.chain_id,
        "vault": hex0x(observation.vault),
        "deposit_nonce": observation.deposit_nonce,
    }
