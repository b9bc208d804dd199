"""The reports' HTTP routes.

- `GET /v1/reports/latest`, `GET /v1/reports/{epoch}`: the complete report (hex of
  the proofs/FORMAT.md bytes, signatures and this node's anchor of its state root
  included; `clearnode verify` reads this JSON as is), its hash, and the hash
  committed in a block with its height.
- `POST /v1/reports/{epoch}/openings`: a member's own openings, for an EIP-712
  `ReportOpeningsQuery {member, epoch, issuedAtMs}` signed by that member's key
  on this chain and issued within the API's query window (like account queries),
  with the member's account record and its inclusion proof under the report's state
  root. Only validators (holders of the report seed) can answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearing.eip712 import verify_member_signature
from clearing.errors import BadSignature
from clearing.transition.member_requests import (
    OPENINGS_QUERY,
    OPENINGS_QUERY_FIELDS,
    compute_openings_signable,
)
from node.api.bodies import (
    check_chain_id,
    get_field,
    parse_hex,
    parse_json_object,
    parse_message,
    require_json,
)
from node.api.errors import ApiError, api_error_from
from node.api.http import Request, Response, json_response
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.reports.anchor import attach_anchor
from node.reports.store import ReportStore
from node.services import NodeContext
from proofs.account_proof import AccountProofFile
from proofs.openings import get_member_openings
from proofs.report import decode_report


def parse_epoch(text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise ApiError(400, "InvalidField", f"epoch: expected an integer, got {text!r}",
                       field="epoch")  # fmt: skip
    return int(text)


class ReportsApi:
    def __init__(self, ctx: NodeContext, store: ReportStore, seed: bytes | None) -> None:
        self.ctx = ctx
        self.store = store
        self.seed = seed

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("GET", "/v1/reports/latest", "getLatestReport",
                      "The newest complete solvency report, its signatures and committed hash",
                      errors=(404,), tier="public"), self.get_latest),
            (RouteDoc("GET", "/v1/reports/{epoch}", "getReport",
                      "The solvency report of an epoch, its signatures and committed hash",
                      errors=(400, 404, 410), tier="public"), self.get_report),
            (RouteDoc("POST", "/v1/reports/{epoch}/openings", "getReportOpenings",
                      "Your own commitments' openings in a report (EIP-712 signed by the member)",
                      errors=(400, 401, 404, 415), tier="member"), self.post_openings),
        ]  # fmt: skip

    async def get_latest(self, _: Request, __: dict[str, str]) -> Response:
        epoch = self.store.get_latest_epoch()
        if epoch is None:
            raise ApiError(404, "ReportNotFound", "no report is stored yet")
        return json_response(200, self._view(epoch))

    async def get_report(self, _: Request, params: dict[str, str]) -> Response:
        return json_response(200, self._view(parse_epoch(params["epoch"])))

    def _view(self, epoch: int) -> dict[str, Any]:
        stored = self.store.get_report(epoch)
        if stored is None:
            latest = self.store.get_latest_epoch()
            if not self.store.is_kept(epoch):  # older than the newest `keep`: never here again
                first = self.store.get_first_epoch()
                raise ApiError(
                    410, "ReportPruned",
                    f"the report of epoch {epoch} is older than the newest {self.store.keep} "
                    "epochs this node keeps (`[reports] keep`): ask a node that keeps more",
                    epoch=epoch, first_epoch=first, latest=latest,
                )  # fmt: skip
            raise ApiError(404, "ReportNotFound", f"no report of epoch {epoch} is stored",
                           epoch=epoch, latest=latest)  # fmt: skip
        report = attach_anchor(decode_report(stored), self.store, self.ctx.store, self.ctx.state)
        encoded = report.encode()
        commit = self.store.get_commit(epoch)
        return {
            "epoch": epoch,
            "chainId": report.chain_id,
            "stateRoot": "0x" + report.state_root.hex(),
            "reportHash": "0x" + report.get_hash().hex(),
            "committedHash": None if commit is None else "0x" + commit.report_hash.hex(),
            "commitHeight": None if commit is None else commit.height,
            "accounts": len(report.accounts),
            "signatures": [
                {"publicKey": "0x" + s.public_key.hex(), "signature": "0x" + s.signature.hex()}
                for s in report.signatures
            ],
            "report": encoded.hex(),
        }

    async def post_openings(self, request: Request, params: dict[str, str]) -> Response:
        require_json(request)
        epoch = parse_epoch(params["epoch"])
        obj = parse_json_object(request.body)
        chain_id = self.ctx.genesis.chain_id
        check_chain_id(obj, chain_id)
        member, signed_epoch, issued_ms = parse_message(
            get_field(obj, "message"), OPENINGS_QUERY_FIELDS
        )
        assert isinstance(member, bytes) and isinstance(signed_epoch, int)
        assert isinstance(issued_ms, int)
        signature = parse_hex(get_field(obj, "signature"), "signature", 65)
        if signed_epoch != epoch:
            raise ApiError(400, "WrongEpoch", f"signed for epoch {signed_epoch}, asked {epoch}",
                           expected=epoch, got=signed_epoch)  # fmt: skip
        self.ctx.api.queries.check_fresh(issued_ms)
        signable = compute_openings_signable(chain_id, member, epoch, issued_ms)
        try:
            verify_member_signature(member, signable, signature, OPENINGS_QUERY, chain_id)
        except BadSignature as exc:
            raise api_error_from(exc) from None
        inputs = self.store.get_inputs(epoch)
        if inputs is None or self.seed is None:
            raise ApiError(404, "OpeningsUnavailable",
                           f"this node holds no openings of epoch {epoch} (ask a validator)",
                           epoch=epoch)  # fmt: skip
        openings = get_member_openings(
            self.seed, epoch, member, inputs.input_labels, inputs.get_member_values(member)
        )
        found = inputs.account_proofs.get(member)
        if found is not None:
            account, proof = found
            openings = replace(openings, account_proof=AccountProofFile(
                inputs.chain_id, member, inputs.height, inputs.state_root, account, proof
            ))  # fmt: skip
        return json_response(200, openings.to_json())
