"""The operator listener answers only requests carrying the node's operator token
(node/api/operator_auth.py); the public listener asks for none.

Real HTTP on 127.0.0.1 over the real API app and its routes."""

from __future__ import annotations

import base64
import copy
import logging
import os
from pathlib import Path

import httpx
import pytest
import trio

from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.operator_auth import get_presented_token, is_authorised
from node.api.serve import serve_node_api
from node.api.server import ApiApp, serve_api
from node.api.tiers import OPERATOR
from node.config import parse_config
from node.keys import HOME_OPERATOR_TOKEN_FILE, generate_operator_token, load_operator_token
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.txcheck import make_clearing_check
from tests.node.apiserver import OPERATOR_TOKEN, serve_app
from tests.node.test_api import GENESIS

OTHER_TOKEN = generate_operator_token()


def basic(password: str, user: str = "operator") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_token_is_read_from_bearer_or_the_basic_password() -> None:
    assert get_presented_token(f"Bearer {OPERATOR_TOKEN}") == OPERATOR_TOKEN
    assert get_presented_token(f"bearer  {OPERATOR_TOKEN} ") == OPERATOR_TOKEN
    assert get_presented_token(basic(OPERATOR_TOKEN)) == OPERATOR_TOKEN
    assert get_presented_token(basic(OPERATOR_TOKEN, user="")) == OPERATOR_TOKEN
    assert get_presented_token("Basic not-base64!") is None
    assert get_presented_token(f"Token {OPERATOR_TOKEN}") is None
    assert is_authorised(f"Bearer {OPERATOR_TOKEN}", OPERATOR_TOKEN)
    assert not is_authorised(f"Bearer {OTHER_TOKEN}", OPERATOR_TOKEN)
    assert not is_authorised(f"Bearer {OPERATOR_TOKEN[:-1]}", OPERATOR_TOKEN)
    assert not is_authorised(None, OPERATOR_TOKEN)
    assert not is_authorised(basic(OTHER_TOKEN), OPERATOR_TOKEN)


def new_app() -> ApiApp:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = Mempool(make_clearing_check(lambda: box.state))
    node = LocalNode(box.chain_id, "auth", pool, lambda: box.state)
    return ApiApp(node, metrics=NodeMetrics("auth"))


async def test_every_operator_route_refuses_a_request_without_the_token() -> None:
    app = new_app()
    async with serve_app(app, listener=OPERATOR) as operator:
        paths = [r.doc.path for r in app.routes if r.doc.method == "GET" and "{" not in r.doc.path]
        assert "/metrics" in paths and "/openapi.json" in paths
        for path in paths:
            for headers in ({"authorization": ""}, {"authorization": f"Bearer {OTHER_TOKEN}"}):
                response = await operator.get(path, headers=headers)
                assert response.status_code == 401, path
                error = response.json()["error"]
                assert error["type"] == "Unauthorized" and OTHER_TOKEN not in response.text
                challenges = response.headers.get_list("www-authenticate")
                assert [c.split()[0] for c in challenges] == ["Bearer", "Basic"]
        bare = httpx.AsyncClient(base_url=str(operator.base_url))
        async with bare:
            missing = await bare.post("/v1/trade-batches", content=b"\x00")
        assert missing.status_code == 401 and missing.json()["error"]["details"] == {
            "reason": "missing"
        }
        assert (await operator.get("/metrics")).status_code == 200  # the client's own token
        browser = await operator.get("/v1/status", headers={"authorization": basic(OPERATOR_TOKEN)})
        assert browser.status_code == 200 and browser.json()["moniker"] == "auth"
    assert app.metrics is not None
    assert 'status="401"' not in app.metrics.render().decode()  # refused before any route ran


async def test_the_public_listener_needs_no_token() -> None:
    async with serve_app(new_app()) as public:
        assert public.headers.get("authorization") is None
        assert (await public.get("/v1/status")).status_code == 200
        assert (await public.get("/metrics")).status_code == 404  # not served there at all


async def test_serving_an_operator_listener_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        await serve_api(new_app(), "127.0.0.1", 0, max_body_bytes=4096, listener=OPERATOR)


async def test_a_home_without_a_token_gets_one_logged_with_its_path_never_its_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A home `clearnode init` made before the token existed: the node writes one (0600)
    when its operator listener starts, and the listener requires it."""
    config = parse_config(
        {"chain_id": 4242, "moniker": "old", "api": {"listen_port": 0, "operator_enabled": True,
                                                     "operator_listen_port": 0}},
        tmp_path / "config.toml",
        tmp_path,
    )  # fmt: skip
    path = tmp_path / HOME_OPERATOR_TOKEN_FILE
    assert config.operator_token_file == path and not path.exists()
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = Mempool(make_clearing_check(lambda: box.state))
    caplog.set_level(logging.INFO, logger="node.api.serve")
    async with trio.open_nursery() as nursery:
        app = await nursery.start(serve_node_api, config, lambda: box.state, pool, None, None)
        token = load_operator_token(path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        url = f"http://127.0.0.1:{app.operator_port}/v1/status"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).status_code == 401
            answer = await client.get(url, headers={"authorization": f"Bearer {token}"})
            assert answer.status_code == 200
        nursery.cancel_scope.cancel()
    (record,) = [r for r in caplog.records if r.getMessage() == "wrote a new operator token"]
    assert record.path == str(path)  # type: ignore[attr-defined]
    assert all(token not in r.getMessage() and token not in str(r.__dict__) for r in caplog.records)
    async with trio.open_nursery() as nursery:  # a restart keeps the token
        await nursery.start(serve_node_api, config, lambda: box.state, pool, None, None)
        nursery.cancel_scope.cancel()
    assert load_operator_token(path) == token
