"""The epoch's proving shared by 4 validators on this machine: accounts a minute.

`python -m bench proofs_network [--accounts N] [--validators V] [--share-wait S]`.
The validators are the reports service itself (`node/reports/service.py`), V
instances in this process on one trio loop (as the nodes of
tests/node/nodenet.py), each proving in its own worker process (`python -m
node.reports.worker`, as a node does), so the V validators' provers share this
machine's cores. Their `reports` messages (proof shares, signature shares) go
to each other through the topic's first-hop decoder instead of libp2p. The book
is the sample book of `bench proofs` (16 inputs + 16 scenarios, m = 32).

`accounts_per_minute_network`: accounts over the time from the epoch's inputs
being queued on every validator to every validator holding the quorum-signed
ReportCommitment (each proved its share, gossiped it, gathered and
batch-verified the others', signed, and gathered a quorum of signatures).
`accounts_per_minute_single_node`: one validator proving every account alone in
one worker process, the whole machine to itself (as every validator did before
the work was shared; V validators proving it all on this machine would each take
about V / cores times longer). The `*_worker_cpu_s` twins are the CPU seconds of
the worker processes (user + system, all threads): what a machine shared with
other work still measures fairly, and what V validators on V machines of
their own would each spend (network: the total over all V).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import trio

from clearnode.client.sandbox_keys import derive_ed25519_key
from node.config import ReportsConfig
from node.reports.gossip import (
    ProofShare,
    SignatureShare,
    decode_reports_message,
)
from node.reports.inputs import ReportInputs
from node.reports.service import ReportsNode
from node.reports.sharing import ProofShareRefused
from node.reports.store import ReportStore
from node.reports.worker import ProvingWorker, open_proving_worker
from proofs.report import VotingPower
from proofs.sample import (
    SAMPLE_MARKET,
    SAMPLE_MARKET_PROOF,
    SAMPLE_STATE_ROOT,
    make_sample_book,
    make_sample_form,
)

COLLATERALS, INSTRUMENTS, SCENARIOS = 3, 12, 16  # 16 inputs + 16 scenarios = 32 values
CHAIN_ID = 4242
EPOCH = 1
EPOCH_LENGTH = 100
SEED = bytes(range(32))


def make_inputs(accounts: int) -> ReportInputs:
    form = make_sample_form(COLLATERALS, INSTRUMENTS, SCENARIOS, seed=1)
    book = make_sample_book(form, accounts + accounts % 2, seed=2)
    return ReportInputs(
        CHAIN_ID, EPOCH, EPOCH * EPOCH_LENGTH, SAMPLE_STATE_ROOT, form.input_labels, form.rows,
        SAMPLE_MARKET, SAMPLE_MARKET_PROOF, {k: tuple(v) for k, v in book.items()},
    )  # fmt: skip


class Loopback:
    """The `reports` topic between the validators: each message published reaches the
    others, decoded and checked as at the first hop."""

    def __init__(self, genesis: Any) -> None:
        self.genesis = genesis
        self.services: list[ReportsNode] = []
        self.bytes_sent = 0

    def port(self, owner: int) -> Any:
        async def publish(topic: str, data: bytes) -> None:
            self.bytes_sent += len(data)
            validators = {v.pubkey for v in self.genesis.validators}
            message = decode_reports_message(data, CHAIN_ID, validators)
            for index, service in enumerate(self.services):
                if index == owner:
                    continue
                if isinstance(message, ProofShare):
                    try:
                        service.add_proof_share(message)
                    except ProofShareRefused:
                        pass
                elif isinstance(message, SignatureShare):
                    service.add_share(message)

        return SimpleNamespace(publish=publish, connected_peers=lambda: [])


def make_validators(
    provers: list[ProvingWorker], home: Path, share_wait_s: int
) -> list[ReportsNode]:
    count = len(provers)
    keys = [derive_ed25519_key(f"validator-{i}") for i in range(count)]
    members = [SimpleNamespace(pubkey=k.public_key().public_bytes_raw(), power=10) for k in keys]
    genesis = SimpleNamespace(chain_id=CHAIN_ID, epoch_length_blocks=EPOCH_LENGTH,
                              validators=members)  # fmt: skip
    state = SimpleNamespace(height=EPOCH * EPOCH_LENGTH, report_hashes={},
                            validators={m.pubkey: m for m in members})  # fmt: skip
    config = SimpleNamespace(reports=ReportsConfig(share_wait_s=share_wait_s))
    loopback = Loopback(genesis)
    for i, key in enumerate(keys):
        ctx = SimpleNamespace(genesis=genesis, validator_key=key, config=config, state=state,
                              p2p=loopback.port(i))  # fmt: skip
        store = ReportStore(home / f"v{i}", keep=2)
        service = ReportsNode(ctx, store, SEED, provers[i])  # type: ignore[arg-type]
        loopback.services.append(service)
    return loopback.services


async def run_network(inputs: ReportInputs, count: int, share_wait_s: int) -> float:
    """Seconds from the inputs queued on every validator to a quorum commitment on each."""
    with tempfile.TemporaryDirectory() as home:
        async with AsyncExitStack() as workers:
            provers = [await workers.enter_async_context(open_proving_worker())
                       for _ in range(count)]  # fmt: skip
            return await run_services(make_validators(provers, Path(home), share_wait_s), inputs)


async def run_services(services: list[ReportsNode], inputs: ReportInputs) -> float:
    async with trio.open_nursery() as nursery:
        for service in services:
            nursery.start_soon(service.run_builder)
        started = time.monotonic()
        provers = tuple(
            VotingPower(k, v.power) for k, v in services[0].ctx.state.validators.items()
        )
        for service in services:
            service.queue_inputs(replace(inputs, validators=provers))
        while not all(inputs.epoch in s.ready for s in services):
            await trio.sleep(0.05)
        seconds = time.monotonic() - started
        nursery.cancel_scope.cancel()
    return seconds


async def run_single(inputs: ReportInputs) -> float:
    started = time.monotonic()
    async with open_proving_worker() as worker:
        await worker.complete(inputs, SEED, {})
    return time.monotonic() - started


def get_children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench proofs_network")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--share-wait", type=int, default=600, help="seconds (high: no cover)")
    args = parser.parse_args(argv)
    inputs = make_inputs(args.accounts)
    accounts = len(inputs.accounts)
    cpu_before = get_children_cpu_s()
    network_s = trio.run(run_network, inputs, args.validators, args.share_wait)
    cpu_network = get_children_cpu_s()
    single_s = trio.run(run_single, inputs)
    cpu_single = get_children_cpu_s() - cpu_network
    return {
        "accounts": accounts,
        "validators": args.validators,
        "cores": os.cpu_count(),
        "mode": "reports services in one process, each proving in its worker process",
        "network_seconds": round(network_s, 1),
        "accounts_per_minute_network": round(accounts * 60 / network_s, 1),
        "network_worker_cpu_s": round(cpu_network - cpu_before, 1),
        "single_node_seconds": round(single_s, 1),
        "accounts_per_minute_single_node": round(accounts * 60 / single_s, 1),
        "single_node_worker_cpu_s": round(cpu_single, 1),
    }
