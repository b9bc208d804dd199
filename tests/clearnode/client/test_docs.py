"""Every Python example in docs/ that a member, venue or relayer runs, run as written
against the live network (so the docs cannot drift from the API or the SDK): each is a
fenced block after `<!-- example: NAME -->`, run in its own interpreter with the
environment docs/sdk.md lists. The users' guides' examples run in clearnode-client's own
virtualenv (tests/clearnode/client/install.py), as a member who installed the SDK alone
runs them; an operator's, with the node's interpreter."""

from __future__ import annotations

import hashlib
import os
import re
import sys

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

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.chain]

DOCS = ROOT / "docs"
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)
USERS_DOCS = ("member.md", "venue.md", "sdk.md", "journey.md")
"""Guides whose every Python block is an example a member, venue or relayer runs."""
EXAMPLE_TIMEOUT_S = 120


def get_examples() -> dict[str, tuple[str, str]]:
    """Every marked example of docs/*.md by name: its guide's file name, its code."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(DOCS.glob("*.md")):
        for name, code in EXAMPLE.findall(path.read_text()):
            assert name not in found, f"two examples named {name}"
            found[name] = (path.name, code)
    return found


def test_every_python_block_of_the_users_guides_is_a_run_example() -> None:
    for name in USERS_DOCS:
        text = (DOCS / name).read_text()
        assert text.count("```python\n") == len(EXAMPLE.findall(text)), name


async def run_example(
    live: LiveNetwork, client: ClientInstall, env: dict[str, str], name: str
) -> str:
    """The example's stdout once it exited 0, from the live network's base directory: a
    users' guide's with clearnode-client's interpreter, an operator's with the node's."""
    guide, code = get_examples()[name]
    if guide in USERS_DOCS:
        python, base_env = str(client.python), get_clean_env()
    else:
        python, base_env = sys.executable, {**os.environ, "PYTHONPATH": str(ROOT)}
    with trio.fail_after(EXAMPLE_TIMEOUT_S):
        done = await trio.run_process(
            [python, "-c", code],
            cwd=live.base,
            env={**base_env, **env},
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, f"example {name} exited {done.returncode}:\n{output}"
    return done.stdout.decode()


async def test_the_docs_examples_run_against_a_live_network(
    live: LiveNetwork, client_install: ClientInstall
) -> None:
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
        assert "authorised: ok" in await run_example(live, client_install, env, "sdk-account")
        assert "collateral_credited" in await run_example(
            live, client_install, env, "member-stream"
        )
        assert "ok" in await run_example(live, client_install, env, "venue-batch")
        assert "withdrawal 1 ok" in await run_example(live, client_install, env, "member-withdraw")
        with trio.fail_after(60):  # the validators sign it; then there is something to relay
            while not (await client.withdrawal(member.address, 1))["complete"]:
                await trio.sleep(0.5)
        assert "'result': 'paid'" in await run_example(live, client_install, env, "sdk-relay")
        await wait_for_report_holding(client, REPORTED)
    reported = {**env, "MEMBER_KEY": "0x" + REPORTED.private_key.hex()}
    assert "member 0x" in await run_example(live, client_install, reported, "sdk-report")
    assert '"collateral": [' in await run_example(live, client_install, env, "operator-deposit")


async def test_the_members_journey_runs_against_a_live_network(
    live: LiveNetwork, client_install: ClientInstall
) -> None:
    """docs/journey.md from a new key to a verified report, its commands included."""
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
    deposited = await run_example(live, client_install, env, "journey-deposit")
    assert f"'quanta': {100 * USDC}" in deposited and "venue alpha: ok" in deposited, deposited
    withdrawn = await run_example(live, client_install, env, "journey-withdraw")
    assert "'result': 'paid'" in withdrawn and "withdrawal 1 paid: True" in withdrawn, withdrawn
    async with await Client.connect(live.url) as client:
        await wait_for_report_holding(client, REPORTED)
    reported = {**env, "MEMBER_KEY": "0x" + REPORTED.private_key.hex()}
    assert "saved report.json" in await run_example(
        live, client_install, reported, "journey-verify"
    )
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
