"""Hostile request bodies against a real `clearnode start` process: answered, never fatal.

A body nested 100,000 levels deep crashed the process with SIGSEGV before the API
bounded nesting (py_ecc lifts Python's recursion limit, so the C JSON decoder
overflowed the stack); it is sent here to the node as operators run it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
import trio

from tests.node.netproc import cli_network

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]

HOSTILE = [
    ("/v1/member-requests", b"[" * 100_000 + b"]" * 100_000),
    ("/v1/accounts/query", b'{"a":' * 40_000 + b"1" + b"}" * 40_000),
    ("/v1/member-requests", b'{"type":"Withdrawal","chainId":' + b"9" * 100_000 + b"}"),
]


async def test_a_node_process_answers_hostile_bodies_and_keeps_serving(tmp_path: Path) -> None:
    with cli_network(tmp_path / "net", validators=1) as net:
        (home,) = net.homes  # `cli_network` started the node
        config = tomllib.loads((home / "config.toml").read_text())
        base = f"http://127.0.0.1:{config['api']['listen_port']}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            with trio.fail_after(60):
                while True:
                    try:
                        if (await client.get("/v1/status")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.2)
            for path, body in HOSTILE:
                response = await client.post(
                    path, content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code == 400, (path, response.text)
                assert response.json()["error"]["type"] == "MalformedJson"
            assert net.processes[home.name].poll() is None, "the node process ended"
            assert (await client.get("/v1/status")).status_code == 200
