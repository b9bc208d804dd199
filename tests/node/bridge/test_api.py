"""The withdrawal routes a relayer reads: shapes, ordering, completeness and errors."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from bridge.eip712 import recover_signer
from bridge.withdrawal import sign_withdrawal_record
from bridge.withdrawal_relay import parse_relay_json
from clearing.state import initialize_state
from node.api.errors import ApiError
from node.api.http import Request
from node.bridge.api import BridgeApi
from node.bridge.pools import WithdrawalBook
from tests.node.bridge.support import BRIDGE_KEYS, get_genesis, make_record

GENESIS = get_genesis()
RECORD = make_record(GENESIS)
MEMBER = "0x" + RECORD.member.hex()


def make_api(signers: int) -> BridgeApi:
    state = initialize_state(GENESIS)
    state.pending_withdrawals[(RECORD.member, RECORD.nonce)] = RECORD
    book = WithdrawalBook(lambda: [(v.evm_address, v.power) for v in GENESIS.validators])
    for key in BRIDGE_KEYS[:signers]:
        book.add(sign_withdrawal_record(RECORD, vault=bytes(range(20)), epoch=0,
                                        evm_private_key=key))  # fmt: skip
    node = SimpleNamespace(withdrawals=book, get_state=lambda: state)
    return BridgeApi(node)  # type: ignore[arg-type]


async def get(api: BridgeApi, member: str, nonce: str) -> Any:
    request = Request("GET", f"/v1/withdrawals/{member}/{nonce}", {}, {}, b"")
    response = await api.get_withdrawal(request, {"member": member, "nonce": nonce})
    return json.loads(response.body)


async def test_complete_withdrawal_is_a_relayable_vault_call() -> None:
    body = await get(make_api(3), MEMBER, "1")
    assert body["complete"] and body["height"] == RECORD.height
    auth, signatures = parse_relay_json(body)
    signers = [recover_signer(auth.get_digest(), s) for s in signatures]
    assert signers == sorted(signers) and len(signers) == 3
    assert (auth.member, auth.amount, auth.nonce) == (RECORD.member, RECORD.amount, 1)


async def test_under_quorum_and_unsigned_withdrawals_are_listed_incomplete() -> None:
    assert (await get(make_api(2), MEMBER, "1"))["complete"] is False
    request = Request("GET", "/v1/withdrawals/pending", {}, {}, b"")
    listed = json.loads((await make_api(0).get_pending(request, {})).body)["withdrawals"]
    assert [(w["nonce"], w["signatures"], w["complete"]) for w in listed] == [("1", [], False)]


@pytest.mark.parametrize(
    ("member", "nonce", "status", "kind"),
    [
        (MEMBER, "2", 404, "NotPending"),
        ("0x1234", "1", 400, "InvalidField"),
        (MEMBER, "-1", 400, "InvalidField"),
        (MEMBER, "9" * 80, 400, "InvalidField"),
    ],
)
async def test_bad_or_unknown_withdrawal_is_a_typed_error(
    member: str, nonce: str, status: int, kind: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await get(make_api(3), member, nonce)
    assert (caught.value.status, caught.value.type) == (status, kind)
