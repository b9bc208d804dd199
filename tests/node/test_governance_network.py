"""Governance and an external bridge on four `clearnode start` processes.

An operator proposes with `clearnode gov propose` (a change file adding an external
bridge and a venue, raising WETH's haircut and doubling one validator's power), three
validators vote with `clearnode gov vote`, the change shows on the status page as
scheduled, executes at its height on every node (all roots agree; every node's
configuration has the new haircut) and `clearnode gov list` shows it executed. The
bridge it registered then reports a deposit to one node, twice; gossip takes it to every
validator, which attests it, and it is credited once. A solvency report committed after
the validator set changed verifies with `clearnode verify --genesis`: its anchor carries
the change, signed by the genesis set, so the report's signers and its state root are
followed from the genesis. The network's blocks, replayed through the app's ABCI path
(as CometBFT would hand them over), give the same root at every height.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.external import sign_external_event
from clearing.collateral import CollateralObservation
from clearing.eip712 import compute_signable, sign_typed
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from node.api.bodies import ACCOUNT_QUERY_FIELDS
from tests.node.cometbft.replay import replay_our_blocks
from tests.node.netproc import (
    CLEARNODE,
    GENESIS_DOC,
    QUICK_BLOCKS,
    ROOT,
    cli_network,
    read_roots,
)

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.beside_networks]

# At QUICK_BLOCKS' pace: about 2.3 blocks a second when idle, more with transactions.
MIN_DELAY = 10  # the scheduled row and the status page are read in these blocks (~4 s)
VOTING_BLOCKS = 36  # the three CLI votes at once commit 4 s after the proposal here,
# 7 s on a loaded machine; every block more is 0.4 s more of the test
EPOCH_LENGTH = 10  # a report within 10 blocks of the change executing (at about height 50)
BRIDGE_KEY = derive_ed25519_key("gov-network-bridge")
VENUE_KEY = derive_ed25519_key("gov-network-venue")
DEPOSITOR = derive_member_key("gov-network-depositor")
CHAIN, TOKEN = 31338, bytes.fromhex("00000000000000000000000000000000000000a2")
REPLAYED_KINDS = {"PriceUpdate", "GovProposal", "GovVote", "CollateralCredit", "ReportCommitment"}
WETH = (31337, bytes.fromhex("00000000000000000000000000000000000000e1"))


def gov(*args: str, home: Path) -> subprocess.Popen[bytes]:
    """`clearnode gov ARGS --home HOME`, this worktree's code."""
    return subprocess.Popen(
        [str(CLEARNODE), "gov", *args, "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def finish(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, (process.args, out.decode(), err.decode())
    return out.decode()


def api_url(home: Path) -> str:
    config = tomllib.loads((home / "config.toml").read_text())
    return f"http://127.0.0.1:{config['api']['listen_port']}"


async def wait_for(what: str, probe: Any, timeout_s: float = 120) -> Any:
    """Polls other processes (their APIs), which no event of ours can signal."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = probe()
        except httpx.TransportError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await trio.sleep(0.3)


def get(home: Path, path: str) -> Any:
    return httpx.get(api_url(home) + path, timeout=10).json()


def post_event(home: Path, event: bytes) -> httpx.Response:
    headers = {"content-type": "application/msgpack"}
    return httpx.post(api_url(home) + "/v1/bridge/external-events", content=event,
                      headers=headers, timeout=10)  # fmt: skip


def get_collateral(home: Path, chain_id: int) -> list[dict[str, Any]]:
    message = {"member": "0x" + DEPOSITOR.address.hex(), "subAccount": 0,
               "issuedAtMs": int(time.time() * 1000)}  # fmt: skip
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = sign_typed(DEPOSITOR.private_key, signable)
    body = {"chainId": chain_id, "message": message, "signature": "0x" + signature.hex()}
    response = httpx.post(api_url(home) + "/v1/accounts/query", json=body, timeout=10)
    if response.status_code == 404:
        return []
    collateral: list[dict[str, Any]] = response.json()["collateral"]
    return collateral


def write_change_file(path: Path, validator: str) -> Path:
    path.write_text(
        "[[changes]]\n"
        'kind = "add_external_bridge"\n'
        'bridge = "gateway"\n'
        f'pubkey = "0x{BRIDGE_KEY.public_key().public_bytes_raw().hex()}"\n'
        f"chains = [{CHAIN}]\n"
        "[[changes]]\n"
        'kind = "add_venue"\n'
        'venue = "beta"\n'
        f'pubkey = "0x{VENUE_KEY.public_key().public_bytes_raw().hex()}"\n'
        "[[changes]]\n"
        'kind = "set_collateral_haircut"\n'
        f"chain_id = {WETH[0]}\n"
        f'token = "0x{WETH[1].hex()}"\n'
        "haircut_bps = 2000\n"
        "[[changes]]\n"
        'kind = "set_validator_power"\n'
        f'pubkey = "{validator}"\n'
        "power = 20\n"
    )
    return path


async def test_a_cli_proposal_executes_and_the_bridge_it_adds_is_credited_once(
    tmp_path: Path,
) -> None:
    template = json.loads(GENESIS_DOC.read_text())
    template["governance"] = {"min_delay_blocks": MIN_DELAY, "max_voting_blocks": 100}
    template["epoch_length_blocks"] = EPOCH_LENGTH
    (tmp_path / "genesis.json").write_text(json.dumps(template))
    init_args = ("--genesis-template", str(tmp_path / "genesis.json"))
    with cli_network(tmp_path / "net", 4, init_args, QUICK_BLOCKS) as net:
        homes = net.homes
        chain_id = tomllib.loads((homes[0] / "config.toml").read_text())["chain_id"]
        await wait_for("every node's API", lambda: all(get(h, "/v1/status")["height"] >= 2
                                                       for h in homes))  # fmt: skip
        observation = CollateralObservation(
            CHAIN,
            bytes([9]) * 20,
            bytes([1]) * 32,
            0,
            1,
            DEPOSITOR.address,
            0,
            TOKEN,
            5_000_000,
            int(time.time()),
        )
        event = sign_external_event(BRIDGE_KEY, chain_id, observation).encode()
        refused = post_event(homes[0], event)
        assert (refused.status_code, refused.json()["error"]["type"]) == (401, "UnregisteredBridge")

        genesis = json.loads((homes[0] / "genesis.json").read_text())
        doubled = genesis["validators"][3]["pubkey"]
        change = write_change_file(tmp_path / "bridge.toml", doubled)
        shown = json.loads(finish(gov("propose", "--change", str(change), "--voting-blocks",
                                      str(VOTING_BLOCKS), home=homes[0])))  # fmt: skip
        proposal_id, execute = shown["proposal"], shown["execute_height"]
        assert execute == shown["deadline_height"] + MIN_DELAY
        votes = [gov("vote", str(proposal_id), "yes", home=h) for h in homes[:3]]
        for vote in votes:
            assert json.loads(finish(vote))["code"] == "ok"
        listed = finish(gov("list", home=homes[3]))
        row_text = next(line for line in listed.splitlines() if line.split()[0] == str(proposal_id))
        assert row_text.split()[1] in ("voting", "passed"), listed  # passed: at its deadline
        assert row_text.endswith("30/0/0 of 40             add_external_bridge, add_venue, "
                                 "set_collateral_haircut, set_validator_power")  # fmt: skip

        def scheduled() -> Any:
            rows = get(homes[1], "/v1/overview")["governance"]["scheduled"]
            return rows and rows[0]

        row = await wait_for("the proposal to pass and be scheduled", scheduled)
        assert (row["id"], row["executes"]) == (proposal_id, execute)
        page = httpx.get(api_url(homes[2]) + "/", timeout=10).text
        assert "id='gov-scheduled'" in page and "add_external_bridge bridge=gateway" in page

        await wait_for(
            "the execution height on every node",
            lambda: all(get(h, "/v1/status")["height"] > execute for h in homes),
        )
        for home in homes:
            config = get(home, "/v1/governance/configuration")
            assert [b["id"] for b in config["external_bridges"]] == ["gateway"]
            assert "beta" in [v["id"] for v in config["venues"]]
            [weth] = [c for c in config["collateral"] if c["token"] == "0x" + WETH[1].hex()]
            assert weth["haircut_bps"] == 2000
        detail = json.loads(finish(gov("show", str(proposal_id), home=homes[1])))
        assert detail["status"] == "executed" and detail["finished_height"] == execute
        assert f"{proposal_id:>4}  executed" in finish(gov("list", home=homes[0]))
        events = get(homes[2], "/v1/governance/events")["events"]
        assert [(e["height"], e["kind"]) for e in events][-2:] == [
            (shown["deadline_height"], "gov_proposal_passed"),
            (execute, "gov_proposal_executed"),
        ]
        assert "executed" in httpx.get(api_url(homes[3]) + "/", timeout=10).text

        answer = post_event(homes[3], event)  # to one node: gossip takes it to every validator
        assert answer.status_code == 202, answer.text
        # twice: taken again while pending, or refused once a block credited it meanwhile
        answer = post_event(homes[3], event)
        assert answer.status_code == 202 or (
            answer.status_code,
            answer.json()["error"]["type"],
        ) == (409, "DuplicateCredit"), answer.text
        credited = await wait_for("the deposit to be credited",
                                  lambda: get_collateral(homes[0], chain_id))  # fmt: skip
        assert credited == [{"chainId": CHAIN, "token": "0x" + TOKEN.hex(), "quanta": 5_000_000}]
        again = post_event(homes[3], event)
        assert (again.status_code, again.json()["error"]["type"]) == (409, "DuplicateCredit")
        tip = min(len(read_roots(h / "data" / "node.sqlite3")) for h in homes)

        def signed_by_the_new_set() -> Any:
            served = httpx.get(api_url(homes[1]) + "/v1/reports/latest", timeout=10)
            view = served.json() if served.status_code == 200 else {}
            return (view.get("commitHeight") or 0) > execute and view

        settled = time.monotonic() + 3  # blocks after the credit: none credits it again
        view = await wait_for(
            "a report committed after the set changed, 3 s after the credit",
            lambda: time.monotonic() > settled and signed_by_the_new_set(),
        )
        assert get_collateral(homes[2], chain_id) == credited
        roots = [read_roots(h / "data" / "node.sqlite3") for h in homes]
        for height in range(1, tip + 1):
            assert len({r[height] for r in roots}) == 1, f"roots differ at height {height}"
        (tmp_path / "report.json").write_text(json.dumps(view))
        genesis_file = homes[0] / "genesis.json"
        # the trusting period measured on the example genesis's next day
        now = json.loads(genesis_file.read_text())["genesis_time_ms"] + 86_400_000
        verified = subprocess.run(
            [str(CLEARNODE), "verify", str(tmp_path / "report.json"), "--genesis",
             str(genesis_file), "--now", str(now)], capture_output=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        out = verified.stdout.decode()
        assert verified.returncode == 0 and "VERDICT: VALID" in out, (out, verified.stderr)
        assert (
            "ok    validator set followed through 1 change since the set given, each committed "
            f"by the set before it (the last in block {execute + 1})" in out
        ), out
        assert f"by the validator set in force from block {execute + 2}" in out, out
        assert "ok    state root is the chain's after block" in out, out
        # our engine's blocks (prices, the proposal and votes, the credit, report shares)
        # through CometBFT's path to the app: the same roots, the power change as its update
        replayed = replay_our_blocks(homes[0])
        assert replayed.compared > execute + 2, (replayed.compared, execute)
        assert replayed.kinds.keys() >= REPLAYED_KINDS, replayed.kinds
        assert replayed.validator_updates == {execute: [(bytes.fromhex(doubled[2:]), 20)]}
