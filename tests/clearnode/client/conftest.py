"""One live network for every SDK test and docs example: an anvil chain and four
validators made by `clearnode init --validators 4 --deploy-anvil` (a vault and test
tokens on the chain) and run by `clearnode start`, with epochs short enough that a
solvency report is built while the tests run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from clearnode.client import Client, Member, NotFound, Vault, Venue
from clearnode.client.views import Account, ReportView
from node.config import load_config
from node.keys import VENUE_KEY, load_key
from proofs.openings import MemberOpenings
from tests.bridge.conftest import anvil_node, vault_env  # noqa: F401  (fixtures: a vault on anvil)
from tests.clearnode.client.install import ClientInstall, get_missing_wheelhouse, install_client
from tests.node.netproc import GENESIS_DOC, CliNetwork, running

EVM_CHAIN_ID = 31337
EPOCH_LENGTH_BLOCKS = 10
"""Short epochs: reports are built while the tests run (each takes the four validators
a minute or two on a loaded machine; an epoch that ends meanwhile is skipped), the first,
which the docs' and verify tests wait for, about 30 s after the network starts."""
REPORTED = Member.from_sandbox("sdk-reported")
"""Funded as soon as the network runs, so that the first reports hold its account."""


@dataclass(frozen=True)
class LiveNetwork:
    """What a member, venue or relayer of this network is given."""

    base: Path
    api_urls: list[str]
    genesis: dict[str, Any]
    rpc_url: str
    vault_address: bytes
    tokens: dict[str, bytes]
    """Test tokens by symbol (anyone may mint them)."""
    venue_secret: bytes

    @property
    def url(self) -> str:
        return self.api_urls[0]

    @property
    def chain_id(self) -> int:
        return int(self.genesis["chain_id"])

    def vault(self) -> Vault:
        """The vault, over JSON-RPC (`with` closes its connections)."""
        return Vault.at(self.rpc_url, EVM_CHAIN_ID, self.vault_address)

    def venue(self) -> Venue:
        return Venue.from_secret("alpha", self.venue_secret)

    def mint(self, symbol: str, amount: int) -> None:
        """`amount` of a test token to anvil's funded dev account (a member's funds)."""
        chain = connect(self.rpc_url, EVM_CHAIN_ID)
        token = chain.contract("TestToken", "0x" + self.tokens[symbol].hex())
        sender = account_from_key(DEV_PRIVATE_KEY)
        chain.transact(token.functions.mint(sender.address, amount), sender)


def wait_until_committing(net: CliNetwork, timeout_s: float = 90) -> None:
    """Every node answers and has committed a block (the processes were just started)."""
    urls = [f"http://127.0.0.1:{load_config(home).api.listen_port}" for home in net.homes]
    deadline = time.monotonic() + timeout_s
    for url in urls:
        while True:
            try:
                if httpx.get(url + "/v1/status", timeout=5).json()["height"] >= 1:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not commit a block in {timeout_s} s")
            time.sleep(0.5)


@pytest.fixture(scope="package")
def live(
    tmp_path_factory: pytest.TempPathFactory, client_install_started: Future[ClientInstall] | None
) -> Iterator[LiveNetwork]:
    """The network, the SDK's virtualenv being built meanwhile (`client_install_started`)."""
    base = tmp_path_factory.mktemp("live")
    template = json.loads(GENESIS_DOC.read_text())
    template["epoch_length_blocks"] = EPOCH_LENGTH_BLOCKS
    # the network starts now: its reports verify from the genesis within the trusting period
    template["genesis_time_ms"] = time.time_ns() // 1_000_000
    template_path = base / "genesis.template.json"
    template_path.write_text(json.dumps(template))
    with AnvilNode(chain_id=EVM_CHAIN_ID) as anvil:
        args = ("--deploy-anvil", f"a={anvil.url}", "--genesis-template", str(template_path))
        with running(CliNetwork(base / "net", 4, args)) as net:
            wait_until_committing(net)
            config = load_config(net.homes[0])
            genesis = json.loads((net.homes[0] / "genesis.json").read_text())
            chain = config.bridge_chains[0]
            network = LiveNetwork(
                base=base,
                api_urls=[
                    f"http://127.0.0.1:{load_config(home).api.listen_port}" for home in net.homes
                ],
                genesis=genesis,
                rpc_url=anvil.url,
                vault_address=bytes.fromhex(chain.vault_address.removeprefix("0x")),
                tokens={
                    c["symbol"]: bytes.fromhex(c["token"][2:])
                    for c in genesis["collateral"]
                    if c["chain_id"] == EVM_CHAIN_ID
                },
                venue_secret=load_key(base / "net" / "venue_keys" / "alpha.json", VENUE_KEY).secret,
            )
            trio.run(fund_reported, network)
            yield network


@pytest.fixture(scope="package")
def client_install_started(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Future[ClientInstall] | None]:
    """`client_install`'s virtualenv being built in a thread, if a test collected wants it
    and the wheelhouse is there: `live` starts it first, so that pip's seconds of CPU
    overlap the network's start and the API tests' waits instead of following them."""
    wanted = any(
        isinstance(item, pytest.Function) and "client_install" in item.fixturenames
        for item in request.session.items
    )
    if not wanted or get_missing_wheelhouse() is not None:
        yield None
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(install_client, tmp_path_factory.mktemp("client-install"))


@pytest.fixture(scope="package")
def client_install(client_install_started: Future[ClientInstall] | None) -> ClientInstall:
    """clearnode-client in a virtualenv of its own, as a member installs it (offline, from
    the wheelhouse `make test` fills: a failure naming it without one)."""
    missing = get_missing_wheelhouse()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    assert client_install_started is not None
    return client_install_started.result()


USDC = 10**6  # on-chain units of 1 USDC (6 decimals, quantum 1: ledger quanta alike)
CREDIT_HEIGHTS = 20
"""A deposit is credited within this many heights of its mining (1 or 2 in a run alone)."""


async def fund(live: LiveNetwork, client: Client, member: Member, usdc: int) -> Account:
    """Deposit `usdc` USDC for `member` into the vault, as the member's wallet would, and
    wait for the validators to credit it; the member's account then."""
    amount = usdc * USDC
    await trio.to_thread.run_sync(live.mint, "USDC", amount)
    sender = account_from_key(DEV_PRIVATE_KEY)
    token = live.tokens["USDC"]
    with live.vault() as vault:
        await trio.to_thread.run_sync(vault.deposit, sender, token, amount, member.address)
    # Counted in the network's heights, not seconds: the validators see the deposit at
    # once (depth 0, polled each 250 ms) and credit it a few heights on, but beside the
    # networks' tests on a loaded machine a height here took 5 to 18 s, and 60 s of wall
    # time ran out twice before the credit (the 300 s bound is for a network that stalls).
    deposited_at = await client.height()
    with trio.fail_after(300):
        while True:
            account = await client.account(member)
            if account is not None and account["collateral"]:
                return account
            height = await client.height()
            assert height <= deposited_at + CREDIT_HEIGHTS, (member, deposited_at, height)
            await trio.sleep(0.5)


async def fund_reported(live: LiveNetwork) -> None:
    async with await Client.connect(live.url) as client:
        await fund(live, client, REPORTED, 1_000)


async def wait_for_report_holding(
    client: Client, member: Member, timeout_s: float = 240
) -> tuple[ReportView, MemberOpenings]:
    """The newest report once one holds `member`'s account and is committed (its bytes
    then stay: before, a node serves it with the quorum of signatures it first had, and
    at the commit with every one it received), and its openings."""
    with trio.fail_after(timeout_s):
        while True:
            try:
                view = await client.report()
                openings = await client.openings(member, view["epoch"])
                if openings.accounts and view["commitHeight"]:
                    return view, openings
            except NotFound:
                pass
            await trio.sleep(1)
