"""A refusal becomes the error class of its status, carrying the node's type, message and
details; an answer not in the API's error form is UnexpectedResponse."""

from __future__ import annotations

import httpx
import pytest

from clearnode.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Pruned,
    Rejected,
    ServerError,
    Unavailable,
    UnexpectedResponse,
    get_api_error,
)

URL = "http://127.0.0.1:1/v1/member-requests"


def answer(status: int, body: object | None = None, text: str = "") -> httpx.Response:
    request = httpx.Request("POST", URL)
    if body is not None:
        return httpx.Response(status, json=body, request=request)
    return httpx.Response(status, text=text, request=request)


def refusal(type_: str, details: dict[str, object]) -> dict[str, object]:
    return {"error": {"type": type_, "message": f"{type_} happened", "details": details}}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (409, Conflict),
        (410, Pruned),
        (422, Rejected),
        (503, Unavailable),
        (500, ServerError),
    ],
)
def test_each_status_has_its_class(status: int, kind: type[ApiError]) -> None:
    error = get_api_error(answer(status, refusal("Something", {"n": 1})))
    assert type(error) is kind


def test_the_node_s_reason_and_numbers_are_kept() -> None:
    error = get_api_error(answer(409, refusal("NonceReused", {"member": "0xab", "nonce": 5})))
    assert isinstance(error, Conflict)
    assert (error.status, error.type, error.message) == (409, "NonceReused", "NonceReused happened")
    assert error.details == {"member": "0xab", "nonce": 5} and error.url == URL
    assert "NonceReused" in str(error) and "409" in str(error)


@pytest.mark.parametrize(
    "response",
    [answer(502, text="<html>Bad Gateway</html>"), answer(400, {"detail": "not ours"})],
)
def test_an_answer_not_in_the_api_s_form_is_unexpected(response: httpx.Response) -> None:
    error = get_api_error(response)
    assert isinstance(error, UnexpectedResponse) and error.status == response.status_code
