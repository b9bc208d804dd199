"""Every Python example in docs/ and client/README.md that a member, venue or relayer
runs, run as written against the live network (so the docs cannot drift from the API or
the SDK): each is a fenced block after `<!-- example: NAME -->`, run in its own
interpreter with the environment docs/sdk.md lists. The users' guides' examples run in
clearnode-client's own virtualenv (tests/clearnode/client/install.py), as a member who
installed the SDK alone runs them; an operator's, with the node's interpreter. Two fast
tests hold the guides to that: every Python block of theirs is marked, and every marked
example is one the live tests run."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from bridge.anvil import DEV_PRIVATE_KEY
from clearnode.client import Client, Member
from tests.clearnode.client.conftest import (
    EVM_CHAIN_ID,
    REPORTED,
    USDC,
    LiveNetwork,
    fund,
    wait_for_report_holding,
)
from tests.clearnode.client.install import ClientInstall, get_clean_env
from tests.node.netproc import CLEARNODE, ROOT

GUIDES = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "client" / "README.md")
"""Where examples are: docs/ and the distribution's long description."""
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)
USERS_GUIDES = tuple(
    ROOT / name
    for name in ("docs/member.md", "docs/venue.md", "docs/sdk.md", "docs/journey.md",
                 "client/README.md")
)  # fmt: skip
"""Guides whose every Python block is an example a member, venue or relayer runs."""
DOCS_EXAMPLES = (
    "sdk-account",
    "readme-account",
    "member-stream",
    "venue-batch",
    "member-withdraw",
    "sdk-relay",
    "sdk-report",
    "operator-deposit",
)
"""What test_the_docs_examples_run_against_a_live_network runs, in its order."""
JOURNEY_EXAMPLES = ("journey-deposit", "journey-withdraw", "journey-verify")
"""What test_the_members_journey_runs_against_a_live_network runs, in its order."""
EXAMPLE_TIMEOUT_S = 120


def get_examples() -> dict[str, tuple[Path, str]]:
    """Every marked example of the guides by name: its guide, its code."""
    found: dict[str, tuple[Path, str]] = {}
    for path in GUIDES:
        for name, code in EXAMPLE.findall(path.read_text()):
            assert name not in found, f"two examples named {name}"
            found[name] = (path, code)
    return found


def test_every_python_block_of_the_users_guides_is_a_run_example() -> None:
    for path in USERS_GUIDES:
        text = path.read_text()
        assert text.count("```python\n") == len(EXAMPLE.findall(text)), path


def test_every_marked_example_is_run_against_the_live_network() -> None:
    """An example marked in a guide but in neither list would never run: the lists are
    the marked examples, each once (and each live test checks it ran its list)."""
    run = DOCS_EXAMPLES + JOURNEY_EXAMPLES
    assert len(set(run)) == len(run), "an example listed twice"
    marked = set(get_examples())
    assert marked - set(run) == set(), "marked in a guide, run by no test: list them here"
    assert set(run) - marked == set(), "listed here, marked in no guide"


@dataclass
class ExampleRunner:
    """Runs the guides' examples against the live network, noting which."""

    live: LiveNetwork
    client: ClientInstall
    ran: list[str] = field(default_factory=list)

    async def run(self, env: dict[str, str], name: str) -> str:
        """The example's stdout once it exited 0, from the live network's base directory:
        a users' guide's with clearnode-client's interpreter, an operator's with the node's."""
        self.ran.append(name)
        guide, code = get_examples()[name]
        if guide in USERS_GUIDES:
            python, base_env = str(self.client.python), get_clean_env()
        else:
            python, base_env = sys.executable, {**os.environ, "PYTHONPATH": str(ROOT)}
        with trio.fail_after(EXAMPLE_TIMEOUT_S):
            done = await trio.run_process(
                [python, "-c", code],
                cwd=self.live.base,
                env={**base_env, **env},
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
        output = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, f"example {name} exited {done.returncode}:\n{output}"
        return done.stdout.decode()


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.beside_networks
@pytest.mark.chain
async def test_the_docs_examples_run_against_a_live_network(
    live: LiveNetwork, client_install: ClientInstall
) -> None:
    examples = ExampleRunner(live, client_install)
    member, counterparty = Member.from_sandbox("docs-member"), Member.from_sandbox("docs-other")
    env = {
        "CLEARNODE_API": live.url,
        "MEMBER_KEY": "0x" + member.private_key.hex(),
        "COUNTERPARTY": counterparty.address_hex,
        "USDC_TOKEN": "0x" + live.tokens["USDC"].hex(),
        "EVM_CHAIN_ID": str(EVM_CHAIN_ID),
        "EVM_RPC_URL": live.rpc_url,
        "VENUE_KEY_FILE": str(live.base / "net" / "venue_keys" / "alpha.json"),
        "RELAYER_KEY": DEV_PRIVATE_KEY,
        "GENESIS_HASH": hashlib.sha256(
            (live.base / "net" / "node0" / "genesis.json").read_bytes()
        ).hexdigest(),
        "BATCH_ID": "1000",  # past the batches other tests of this network sent
        "TRADE_ID": "1000000",
    }
    async with await Client.connect(live.url) as client:
        for who in (member, counterparty):
            await fund(live, client, who, 10_000)
        submitted = await client.authorise_venue(counterparty, "alpha")
        await client.wait_for_tx(submitted["tx_hash"])
        assert "authorised: ok" in await examples.run(env, "sdk-account")
        assert "'collateral': [" in await examples.run(env, "readme-account")
        assert "collateral_credited" in await examples.run(env, "member-stream")
        assert "ok" in await examples.run(env, "venue-batch")
        assert "withdrawal 1 ok" in await examples.run(env, "member-withdraw")
        with trio.fail_after(60):  # the validators sign it; then there is something to relay
            while not (await client.withdrawal(member.address, 1))["complete"]:
                await trio.sleep(0.5)
        assert "'result': 'paid'" in await examples.run(env, "sdk-relay")
        await wait_for_report_holding(client, REPORTED)
    reported = {**env, "MEMBER_KEY": "0x" + REPORTED.private_key.hex()}
    verdict = await examples.run(reported, "sdk-report")  # the whole verdict, printed
    assert verdict.startswith("VERDICT: VALID\n") and "\nmember 0x" in verdict, verdict
    assert f"  ok    chain {EVM_CHAIN_ID} vault 0x" in verdict, verdict
    assert '"collateral": [' in await examples.run(env, "operator-deposit")
    assert examples.ran == list(DOCS_EXAMPLES)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.beside_networks
@pytest.mark.chain
async def test_the_members_journey_runs_against_a_live_network(
    live: LiveNetwork, client_install: ClientInstall
) -> None:
    """docs/journey.md from a new key to a verified report, its commands included."""
    examples = ExampleRunner(live, client_install)
    member = Member.from_sandbox("journey-member")
    genesis_hash = hashlib.sha256((live.base / "net" / "node0" / "genesis.json").read_bytes())
    env = {
        "CLEARNODE_API": live.url,
        "MEMBER_KEY": "0x" + member.private_key.hex(),
        "EVM_CHAIN_ID": str(EVM_CHAIN_ID),
        "EVM_RPC_URL": live.rpc_url,
        "WALLET_KEY": DEV_PRIVATE_KEY,  # the wallet holds the minted test USDC and gas
        "GENESIS_HASH": genesis_hash.hexdigest(),
    }
    await trio.to_thread.run_sync(live.mint, "USDC", 100 * USDC)
    deposited = await examples.run(env, "journey-deposit")
    assert f"'quanta': {100 * USDC}" in deposited and "venue alpha: ok" in deposited, deposited
    withdrawn = await examples.run(env, "journey-withdraw")
    assert "'result': 'paid'" in withdrawn and "withdrawal 1 paid: True" in withdrawn, withdrawn
    async with await Client.connect(live.url) as client:
        await wait_for_report_holding(client, REPORTED)
    reported = {**env, "MEMBER_KEY": "0x" + REPORTED.private_key.hex()}
    assert "saved report.json" in await examples.run(reported, "journey-verify")
    assert examples.ran == list(JOURNEY_EXAMPLES)
    argv = ["verify", "report.json", "--node", live.url, "--genesis-hash", genesis_hash.hexdigest(),
            "--rpc", f"{EVM_CHAIN_ID}={live.rpc_url}", "--member", REPORTED.address_hex,
            "--openings", "openings.json"]  # fmt: skip
    with trio.fail_after(EXAMPLE_TIMEOUT_S):
        done = await trio.run_process(
            [str(CLEARNODE), *argv], cwd=live.base, capture_stdout=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode == 0 and out.startswith("VERDICT: VALID\n"), out
    assert "your account record is under the report's state root" in out, out
