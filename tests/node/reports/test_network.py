"""Four validators build, sign, commit and serve an epoch's solvency report.

Members are funded and trade through the validators' HTTP API; at the epoch
boundaries every validator proves its share of the accounts in a worker process
and gossips the proofs, completes the report from the others' proofs, the
signature shares reach quorum over gossip, a proposer commits the hash, and every
node serves the same report (also after a restart), which `clearnode verify`
accepts; a member fetches and checks its own openings, nobody else can.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import MemberKey
from devnet.sandbox import Sandbox
from node.clock import wall_clock_ms
from node.reports.seed import create_report_seed, save_report_seed
from proofs import verify
from tests.node.netproc import ORACLE_OFF, NodeHome
from tests.node.nodenet import NodeNetwork, open_node_network
from tests.node.reports.support import (
    MEMBERS,
    funding_txs,
    openings_request,
    run_verify,
    small_epoch_genesis,
    trade_batch,
)

EPOCH_LENGTH = 4
SHARE_WAIT_S = 20  # far more than a share of this book takes to prove and gossip


async def post(home: NodeHome, path: str, body: dict[str, Any]) -> httpx.Response:
    """The nodes run in this trio loop: every request must be async."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"http://127.0.0.1:{home.api_port}{path}", json=body)


async def get(home: NodeHome, path: str, client: httpx.AsyncClient | None = None) -> httpx.Response:
    """With `client` for a poll: a client made per request costs the loop the nodes share
    tens of ms (its TLS context)."""
    if client is not None:
        return await client.get(f"http://127.0.0.1:{home.api_port}{path}")
    async with httpx.AsyncClient(timeout=10) as own:
        return await get(home, path, own)


def member_request_body(box: Sandbox, record: Any) -> dict[str, Any]:
    return {
        "type": "AuthoriseVenue",
        "chainId": box.chain_id,
        "message": record.get_message(),
        "signature": "0x" + record.signature.hex(),
    }  # fmt: skip


async def get_position(box: Sandbox, home: NodeHome, member: MemberKey) -> int:
    now = int(time.time() * 1000)
    message = {"member": "0x" + member.address.hex(), "subAccount": 0, "issuedAtMs": now}
    signable = compute_signable(box.chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = "0x" + sign_typed(member.private_key, signable).hex()
    body = {"chainId": box.chain_id, "message": message, "signature": signature}
    response = await post(home, "/v1/accounts/query", body)
    if response.status_code != 200:
        return 0
    return sum(p["quantity"] for p in response.json()["positions"])


def openings_body(
    box: Sandbox, member: bytes, epoch: int, signer: MemberKey, issued_ms: int | None = None
) -> dict[str, Any]:
    issued = int(time.time() * 1000) if issued_ms is None else issued_ms
    return openings_request(box.chain_id, member, epoch, signer, issued)


async def wait_for_outcome(home: NodeHome, response: httpx.Response) -> dict[str, Any]:
    """The committed outcome of the transaction `response` accepted (202)."""
    assert response.status_code == 202, response.text
    tx_hash = response.json()["tx_hash"]
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            answer = await get(home, f"/v1/txs/{tx_hash}", client)
            assert answer.status_code == 200, answer.text  # 404: dropped from the mempool
            if answer.json()["status"] == "committed":
                return dict(answer.json())
            await trio.sleep(0.1)


async def fund_and_trade(net: NodeNetwork, box: Sandbox) -> None:
    """Fund and authorise the members, then clear one batch; each step must commit ok,
    and a failure says which transaction failed and why. The batch waits for the funding:
    a trade a block refuses (no credit yet) still spends its venue trade id, so a batch
    sent early could never clear when sent again."""
    entry = net.homes[0]
    with trio.fail_after(120):  # an upper bound for a loaded machine (a few s when quiet)
        funded = []
        for tx in funding_txs(box):
            if hasattr(tx, "observation"):
                body = {"tx": "0x" + encode_tx(tx).hex()}
                funded.append(await post(entry, "/v1/bridge/collateral-events", body))
            else:
                body = member_request_body(box, tx)
                funded.append(await post(entry, "/v1/member-requests", body))
        for response in funded:
            outcome = await wait_for_outcome(entry, response)
            assert outcome["code"] == "ok", outcome
        batch = "0x" + encode_tx(trade_batch(box)).hex()
        outcome = await wait_for_outcome(
            entry, await post(entry, "/v1/trade-batches", {"tx": batch})
        )
        summary = [e["fields"] for e in outcome["events"] if e["kind"] == "trade_batch"]
        assert outcome["code"] == "ok" and summary[0]["cleared"] == 2, outcome
    assert await get_position(box, entry, MEMBERS[0]) == 2


async def wait_for_report(
    net: NodeNetwork, homes: list[NodeHome], first_epoch: int, gaps: list[float]
) -> list[dict[str, Any]]:
    """Poll until every home serves one committed report of an epoch from `first_epoch`
    on, the oldest such (a loaded machine's builders skip to the newest epoch: any of them
    covers the trades); record the wall time between consecutive heights of the first home
    meanwhile (commit latency)."""
    try:
        return await _wait_for_report(net, homes, first_epoch, gaps)
    except trio.TooSlowError as exc:
        raise AssertionError(f"no report of epoch {first_epoch} or later served by every "
                             f"home:\n{net.describe()}") from exc  # fmt: skip


async def _wait_for_report(
    net: NodeNetwork, homes: list[NodeHome], first_epoch: int, gaps: list[float]
) -> list[dict[str, Any]]:
    last_height, last_time = net.get_height(homes[0]), time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        with trio.fail_after(300):  # an upper bound for a loaded machine (~10 s when quiet)
            while True:
                height = net.get_height(homes[0])
                if height != last_height:
                    now = time.monotonic()
                    gaps.append((now - last_time) / (height - last_height))
                    last_height, last_time = height, now
                latest = await get(homes[0], "/v1/reports/latest", client)
                newest = latest.json()["epoch"] if latest.status_code == 200 else 0
                for epoch in range(first_epoch, newest + 1):
                    views = [await get(h, f"/v1/reports/{epoch}", client) for h in homes]
                    if all(v.status_code == 200 and v.json()["commitHeight"] for v in views):
                        return [v.json() for v in views]
                await trio.sleep(0.2)


@pytest.mark.slow
async def test_validators_commit_and_serve_a_verifiable_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="node.reports.service")
    seed_file = tmp_path / "report_seed.json"
    save_report_seed(seed_file, create_report_seed())
    doc = small_epoch_genesis(EPOCH_LENGTH)
    config = (ORACLE_OFF + f'[reports]\nenabled = true\nseed_file = "{seed_file}"\n'
              f"share_wait_s = {SHARE_WAIT_S}\n")  # fmt: skip
    box = Sandbox.from_genesis_doc(doc)
    box.clock_ms = wall_clock_ms
    async with open_node_network(tmp_path, extra_config=config, genesis=doc) as net:
        await fund_and_trade(net, box)
        traded_at = net.get_height(net.homes[0])
        gaps: list[float] = []
        started = time.monotonic()
        views = await wait_for_report(net, net.homes, traded_at // EPOCH_LENGTH + 1, gaps)
        epoch = views[0]["epoch"]
        print(f"report of epoch {epoch}: committed {time.monotonic() - started:.1f} s after "
              f"height {traded_at}; block gaps while building: max {max(gaps):.2f} s, "
              f"mean {sum(gaps) / len(gaps):.2f} s")  # fmt: skip

        # the validators proved the epoch's accounts between them: each its own share,
        # the rest gathered from the others' proof shares
        messages = [r.getMessage() for r in caplog.records]
        shares = [re.match(rf"proof share of epoch {epoch}: (\d+) accounts of (\d+) ", m)
                  for m in messages]  # fmt: skip
        proven = [(int(m[1]), int(m[2])) for m in shares if m]
        assert len(proven) >= 3 and all(mine < total for mine, total in proven), proven
        built = [m for m in messages if m.startswith(f"report of epoch {epoch} built: ")]
        assert len(built) >= 3 and any(" 0 proven after the wait" in m for m in built), built

        # the same report and hash on every node (each with the signatures it received),
        # committed at the same height
        assert len({(v["reportHash"], v["committedHash"], v["commitHeight"]) for v in views}) == 1
        view = views[0]
        assert view["reportHash"] == view["committedHash"]
        assert view["accounts"] >= len(MEMBERS) and len(view["signatures"]) >= 3
        latest = (await get(net.homes[1], "/v1/reports/latest")).json()
        assert latest["epoch"] >= epoch
        report_file = tmp_path / "report.json"
        report_file.write_text((await get(net.homes[3], f"/v1/reports/{epoch}")).text)
        # the full check, the genesis fetched from a node and pinned by the hash the network
        # publishes (the trusting period measured on the example genesis's next day)
        genesis_file = net.homes[0].path / "genesis.json"
        published = hashlib.sha256(genesis_file.read_bytes()).hexdigest()
        trust = (await get(net.homes[2], "/v1/status")).json()["trust"]
        assert trust["genesis_hash"] == "0x" + published
        assert (await get(net.homes[2], "/v1/genesis")).content == genesis_file.read_bytes()
        now = ["--now", str(doc["genesis_time_ms"] + 86_400_000)]
        node = f"http://127.0.0.1:{net.homes[2].api_port}"
        fetched = [str(report_file), "--node", node, "--genesis-hash", published, *now]
        code, text = await trio.to_thread.run_sync(run_verify, fetched)
        assert code == verify.EXIT_VALID, text
        assert text.splitlines()[1] == (
            f"genesis 0x{published} (fetched from {node}, as --genesis-hash pins)"
        )
        code, text = run_verify([str(report_file), "--genesis", str(genesis_file), *now])
        assert code == verify.EXIT_VALID, text
        assert "equal to the report's" in text  # the statement recomputed from the genesis
        assert f"ok    state root is the chain's after block {epoch * EPOCH_LENGTH}: " in text

        # a member's own openings, for its own signature only
        member = MEMBERS[0]
        response = await post(net.homes[2], f"/v1/reports/{epoch}/openings",
                        openings_body(box, member.address, epoch, member))  # fmt: skip
        assert response.status_code == 200, response.text
        openings_file = tmp_path / "openings.json"
        openings_file.write_text(response.text)
        code, text = run_verify([str(report_file), "--member", "0x" + member.address.hex(),
                                 "--openings", str(openings_file), "--genesis",
                                 str(genesis_file), *now])  # fmt: skip
        assert code == verify.EXIT_VALID, text
        assert "position:BTC-PERP" in response.json()["labels"]
        refusals = [
            (openings_body(box, member.address, epoch, MEMBERS[1]), 401, "BadSignature"),
            (openings_body(box, member.address, epoch, member, issued_ms=1), 401, "StaleQuery"),
        ]
        for body, status, kind in refusals:
            response = await post(net.homes[2], f"/v1/reports/{epoch}/openings", body)
            assert (response.status_code, response.json()["error"]["type"]) == (status, kind)
        missing = await get(net.homes[0], "/v1/reports/999999")
        assert (missing.status_code, missing.json()["error"]["type"]) == (404, "ReportNotFound")

        # stored durably: a restarted node serves the same report
        await net.stop(net.homes[3])
        await net.start(net.homes[3])
        assert (await get(net.homes[3], f"/v1/reports/{epoch}")).json() == views[3]
