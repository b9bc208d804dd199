"""Hostile request bodies against a real `clearnode start` process: answered, never fatal.

A body nested 100,000 levels deep crashed the process with SIGSEGV before the API
bounded nesting (py_ecc lifts Python's recursion limit, so the C JSON decoder
overflowed the stack); it is sent here to the node as operators run it, with the shared
hand-made bodies and those only the transaction routes' 8 MiB cap lets in.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
import trio

from node.limits import MAX_API_BODY_BYTES
from tests.node.hostile import HOSTILE_POSTS, JSON
from tests.node.netproc import QUICK_BLOCKS, cli_network

# one validator, a quorum alone: no peer's timeout to miss beside the networks' tests
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.beside_networks]

LARGE_HOSTILE_POSTS = [
    ("/v1/trade-batches", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b'{"tx":' + b"9" * 100_000 + b"}", JSON, 400, "MalformedJson"),
    # quadratic for a backtracking string regex (days at this size): now milliseconds
    ("/v1/trade-batches", b'"\\' * (MAX_API_BODY_BYTES // 2), JSON, 400, "MalformedJson"),
    ("/v1/bridge/collateral-events", b"[]" * (MAX_API_BODY_BYTES // 2), JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b" " * (MAX_API_BODY_BYTES + 1), JSON, 413, "BodyTooLarge"),
    ("/v1/member-requests", b"[" * 100_000, JSON, 413, "BodyTooLarge"),
]


async def get_height(client: httpx.AsyncClient) -> int:
    response = await client.get("/v1/status")
    assert response.status_code == 200
    height: int = response.json()["height"]
    return height


async def test_a_node_process_answers_hostile_bodies_and_keeps_committing(tmp_path: Path) -> None:
    with cli_network(tmp_path / "net", validators=1, extra_config=QUICK_BLOCKS) as net:
        (home,) = net.homes  # `cli_network` started the node
        config = tomllib.loads((home / "config.toml").read_text())
        base = f"http://127.0.0.1:{config['api']['listen_port']}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            with trio.fail_after(60):
                while True:
                    try:
                        if (await client.get("/v1/status")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.2)
            for path, body, ctype, status, kind in HOSTILE_POSTS + LARGE_HOSTILE_POSTS:
                response = await client.post(path, content=body, headers={"content-type": ctype})
                assert (response.status_code, response.json()["error"]["type"]) == (
                    status,
                    kind,
                ), (path, body[:40], response.text)
            assert net.processes[home.name].poll() is None, "the node process ended"
            height = await get_height(client)
            with trio.fail_after(60):
                while await get_height(client) <= height + 1:
                    await trio.sleep(0.2)
