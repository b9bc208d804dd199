"""Report sync on real libp2p: a node that missed an epoch's commit, or a report too big
to gossip, still ends up serving the committed report, fetched from a peer; a report
many times a gossip message's cap travels whole over one stream.

Four validators and two full nodes run in one trio loop (tests/node/nodenet.py); the
members trade so that the next epoch's report has accounts to prove.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from clearing.genesis import parse_genesis
from devnet.sandbox import Sandbox
from node.clock import wall_clock_ms
from node.reports import service as service_module
from node.reports import sync as sync_module
from node.reports.gossip import MAX_ANNOUNCEMENT_BYTES
from node.reports.seed import create_report_seed, save_report_seed
from node.reports.store import ReportStore
from node.reports.sync import ReportFetcher, serve_report_sync
from proofs.checks import verify_report
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.report import VotingPower, decode_report
from tests.node.netproc import ORACLE_OFF, NodeHome
from tests.node.nodenet import NodeNetwork, open_node_network, tag_records_with_node
from tests.node.p2p.support import line
from tests.node.reports.support import small_epoch_genesis
from tests.node.reports.test_network import EPOCH_LENGTH, fund_and_trade, get, wait_for_report


@asynccontextmanager
async def open_traded_network(
    tmp_path: Path,
) -> AsyncIterator[tuple[NodeNetwork, list[NodeHome], int]]:
    """Four validators and two full nodes (no validator key, dialling them) that have
    committed the members' trades; the network, the full nodes and the height reached."""
    doc = small_epoch_genesis(EPOCH_LENGTH)
    seed_file = tmp_path / "report_seed.json"
    save_report_seed(seed_file, create_report_seed())
    config = ORACLE_OFF + f'[reports]\nenabled = true\nseed_file = "{seed_file}"\n'
    async with open_node_network(tmp_path, extra_config=config, genesis=doc) as net:
        fulls = [NodeHome(tmp_path / name, name, None, log_level="warning")
                 for name in ("full", "late")]  # fmt: skip
        for full in fulls:
            full.extra_config = config
            full.write(doc, [h.addr for h in net.homes])
            await net.start(full)
        await fund_and_trade(net, Sandbox.from_genesis_doc(doc, clock_ms=wall_clock_ms))
        yield net, fulls, net.get_height(net.homes[0])


def check_served(view: dict[str, Any]) -> None:
    """The served report is the committed one and verifies with public data alone."""
    assert view["reportHash"] == view["committedHash"] and view["commitHeight"]
    genesis = parse_genesis(small_epoch_genesis(EPOCH_LENGTH))
    validators = [VotingPower(v.pubkey, v.power) for v in genesis.validators]
    report = decode_report(bytes.fromhex(view["report"]))
    verdict = verify_report(get_generators(FAST), report, validators, genesis.chain_id)
    assert verdict.ok, verdict.failures


async def wait_until_served(home: NodeHome, epoch: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        with trio.fail_after(30):
            while (response := await get(home, f"/v1/reports/{epoch}", client)).status_code != 200:
                await trio.sleep(0.1)
    view: dict[str, Any] = response.json()
    return view


def get_fetchers(caplog: pytest.LogCaptureFixture, epoch: int) -> list[str]:
    """The nodes that logged fetching the report of `epoch` (`tag_records_with_node`)."""
    fetched = f"report of epoch {epoch} fetched from"
    return [r.node for r in caplog.records if r.getMessage().startswith(fetched)]


@pytest.mark.slow
async def test_a_report_above_the_gossip_cap_or_missed_offline_is_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No complete report is gossiped (a cap of 0): the full node running through the
    commit fetches it after gossip's grace (0.2 s here, not 2: nothing is gossiped), and
    the one down at the commit ("late") fetches it once restarted. The first report of a
    network is the one both wait for: its validators all start it at its epoch's block,
    while a later one may find them out of step on a busy machine (a builder takes the
    newest epoch when it is free, and waits `share_wait_s` for shares of it)."""
    monkeypatch.setattr(service_module, "MAX_GOSSIPED_REPORT_BYTES", 0)  # none is gossiped
    monkeypatch.setattr(sync_module, "GOSSIP_GRACE_S", 0.2)
    caplog.set_level(logging.INFO, logger="node.reports")
    tag_records_with_node(caplog.handler)
    async with open_traded_network(tmp_path) as (net, (full, late), traded_at):
        await net.stop(late)
        stopped_at = net.get_height(late)
        views = await wait_for_report(net, [*net.homes, full], traded_at // EPOCH_LENGTH + 1, [])
        epoch = views[0]["epoch"]
        assert views[0]["commitHeight"] > stopped_at  # committed while `late` was down
        check_served(views[-1])
        assert len({v["reportHash"] for v in views}) == 1
        assert "not gossiped" in caplog.text
        assert "full" in get_fetchers(caplog, epoch)
        assert not (late.path / "data" / "reports" / f"epoch-{epoch}.bin").exists()

        started = time.monotonic()
        await net.start(late)
        view = await wait_until_served(late, epoch)
        print(f"epoch {epoch} served by the restarted node {time.monotonic() - started:.1f} s "
              f"after its start")  # fmt: skip
        check_served(view)
        assert view["reportHash"] == views[0]["reportHash"]
    assert "late" in get_fetchers(caplog, epoch)


@pytest.mark.slow
async def test_a_report_many_times_the_gossip_cap_travels_over_a_stream(tmp_path: Path) -> None:
    """Real hosts: the whole report in one response, far above a gossip message; an asker
    with a smaller cap gets "not found" (no oversized frame, nobody scored down)."""
    served = bytes(range(256)) * (5 * MAX_ANNOUNCEMENT_BYTES // 256)
    async with line("server", "asker") as (server, asker):
        store = ReportStore(tmp_path / "server", keep=3)
        store.save_report(7, served)
        serve_report_sync(server, store, len(served))
        fetcher = ReportFetcher(asker, ReportStore(tmp_path / "asker", keep=3), dict,
                                lambda _: [], len(served))  # fmt: skip
        started = time.monotonic()
        assert await fetcher.ask(server.peer_id, 7) == served
        seconds = time.monotonic() - started
        print(f"{len(served) >> 20} MiB report fetched in {seconds:.2f} s")
        small = ReportFetcher(asker, fetcher.store, dict, lambda _: [], len(served) - 1)
        assert await small.ask(server.peer_id, 7) is None
        assert await small.ask(server.peer_id, 8) is None
        assert asker.scores.get_score(server.peer_id) == 0
        assert server.scores.get_score(asker.peer_id) == 0
