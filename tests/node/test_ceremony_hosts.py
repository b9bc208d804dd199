"""Four hosts (Linux network namespaces on this machine, tests/node/netns.py), each
operator making its home apart on its own host (docs/ceremony.md), anvil on the
switch's address: the validators find each other at their public addresses, commit
blocks with one state root, credit a deposit made on anvil and publish a solvency
report that `clearnode verify` accepts, reading the vault on anvil."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import to_checksum_address

from bridge.anvil import ANVIL_BINARY, DEV_PRIVATE_KEY, is_rpc_answering
from bridge.chain import account_from_key, connect
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token
from clearing.collateral import CollateralCredit
from node.chainspec import (
    AnvilTarget,
    ChainSpec,
    build_collateral,
    deploy_on_anvil,
    place_collateral,
    place_vaults,
    render_bridge_chains,
)
from node.config import load_config
from proofs import verify
from tests.node.bridge.network import find_committed
from tests.node.netns import SUBNET, SWITCH_ADDRESS, Hosts, in_namespace, make_hosts
from tests.node.netproc import (
    CLEARNODE,
    ROOT,
    CeremonyNetwork,
    NodeHome,
    read_roots,
    running,
    spawn,
)

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.slow,
    pytest.mark.chain,
    pytest.mark.beside_networks,
]

ANVIL_URL = f"http://{SWITCH_ADDRESS}:8545"
EPOCH_LENGTH = 4
DEPOSIT = 1_000 * 10**6  # 1,000 USDC
MEMBER = secrets.token_bytes(20)
REPORTS_TUNING = "[reports]\nshare_wait_s = 600\n"
"""Every validator waits for the assigned prover's share instead of proving the account
again itself: four provers on the machine's shared cores would each be four times slower."""


@contextmanager
def running_anvil(hosts: Hosts, logs: Path) -> Iterator[None]:
    """anvil on the switch's address, reachable from every host and nothing else."""
    command = [*hosts.wrap_switch(), str(ANVIL_BINARY), "--host", SWITCH_ADDRESS, "--port",
               "8545", "--chain-id", "31337", "--silent"]  # fmt: skip
    process = spawn(command, logs / "anvil.log")
    try:
        deadline = time.monotonic() + 30
        while not in_namespace(hosts.switch, is_rpc_answering, ANVIL_URL):
            assert time.monotonic() < deadline, "anvil did not answer in 30 s"
            time.sleep(0.2)
        yield
    finally:
        process.kill()
        process.wait()


def deploy_template(hosts: Hosts, chains: list[ChainSpec]) -> Any:
    """The coordinator's `edit_template`: a vault trusting the contributions' bridge
    addresses and test tokens on anvil, in a template of 4-block epochs."""

    def edit_template(path: Path, contributions: list[Path]) -> None:
        entries = [json.loads(c.read_text()) for c in contributions]
        members = [(bytes.fromhex(e["evm_address"][2:]), e["power"]) for e in entries]
        doc = json.loads(path.read_text())
        doc["epoch_length_blocks"] = EPOCH_LENGTH
        target = AnvilTarget("anvil", ANVIL_URL)
        spec = in_namespace(
            hosts.switch, deploy_on_anvil, target, EvmValidatorSet.from_members(0, members), doc
        )
        place_collateral(doc, build_collateral(doc, [spec]))
        place_vaults(doc, {spec.chain_id: spec.vault})
        chains.append(spec)
        path.write_text(json.dumps(doc))

    return edit_template


def deposit(spec: ChainSpec) -> None:
    chain = connect(spec.rpc_url, spec.chain_id)
    vault = chain.contract("CollateralVault", to_checksum_address(spec.vault))
    token = chain.contract("TestToken", to_checksum_address(spec.tokens["USDC"]))
    deposit_token(chain, vault, token, DEPOSIT, MEMBER, account_from_key(DEV_PRIVATE_KEY))


def wait_for_credit(network: CeremonyNetwork, timeout_s: float = 300) -> int:
    """The height at which the deposit's credit committed (read from node 0's store)."""
    home = NodeHome(network.homes[0], "v0", 0)
    deadline = time.monotonic() + timeout_s
    while (found := find_committed(home, CollateralCredit)) is None:
        assert time.monotonic() < deadline, "no CollateralCredit committed"
        time.sleep(0.2)
    height, credit = found
    assert (credit.observation.member, credit.observation.quanta) == (MEMBER, DEPOSIT)
    return int(height)


def get_report(api: str, epoch: int, timeout_s: float = 600) -> dict[str, Any]:
    """A committed report of `epoch` or later, as node `api` serves it (a loaded machine's
    builders skip to the newest epoch: any later one holds the deposit too)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        latest = httpx.get(f"{api}/v1/reports/latest", timeout=10)
        if latest.status_code == 200 and latest.json()["epoch"] >= epoch:
            report = httpx.get(f"{api}/v1/reports/{latest.json()['epoch']}", timeout=10).json()
            if report.get("commitHeight"):
                return dict(report)
        time.sleep(0.2)
    raise AssertionError(f"no committed report of epoch >= {epoch} in {timeout_s} s")


def wait_for_commits(homes: list[Path], height: int, timeout_s: float = 90) -> None:
    """Every node stored `height` blocks, each height with one root on every node."""
    deadline = time.monotonic() + timeout_s
    while True:
        roots = [read_roots(home / "data" / "node.sqlite3") for home in homes]
        for h in set().union(*roots):
            assert len({r[h] for r in roots if h in r}) == 1, f"height {h}: roots differ"
        if min(len(r) for r in roots) >= height:
            return
        if time.monotonic() > deadline:
            logs = {home.name: (home / "node.log").read_text()[-2000:] for home in homes}
            raise AssertionError(f"heights {[len(r) for r in roots]} after {timeout_s}s: {logs}")
        time.sleep(0.2)


def test_four_operators_on_four_hosts_commit_credit_a_deposit_and_report(
    tmp_path: Path,
) -> None:
    chains: list[ChainSpec] = []
    with make_hosts(4) as hosts, running_anvil(hosts, tmp_path):
        for name in [*hosts.names, hosts.switch]:  # no route leads out of the namespaces
            routes = subprocess.run(["ip", "-n", name, "route"], capture_output=True, check=True)
            assert routes.stdout.decode().split()[:1] == [f"{SUBNET}.0/24"], routes
            assert routes.stdout.decode().count("\n") == 1, routes
        network = CeremonyNetwork(
            tmp_path,
            hosts.addresses,
            wrap=hosts.wrap,
            edit_template=deploy_template(hosts, chains),
        )
        for i, home in enumerate(network.homes):
            peers = load_config(home).p2p.persistent_peers
            assert [p.split("/")[2] for p in peers] == hosts.addresses[:i] + hosts.addresses[
                i + 1 :
            ]
            config = home / "config.toml"  # the operator adds its chain
            text = config.read_text().replace("[reports]\n", REPORTS_TUNING, 1)
            config.write_text(text + render_bridge_chains(chains))
        with running(network) as net:
            wait_for_commits(net.homes, 1)
            in_namespace(hosts.switch, deposit, chains[0])
            credited = wait_for_credit(net)
            wait_for_commits(net.homes, credited)
            api = f"http://{hosts.addresses[1]}:{net.api_ports[1]}"
            epoch = -(-credited // EPOCH_LENGTH)  # the first whose state holds the credit
            report = in_namespace(hosts.names[1], get_report, api, epoch)
            assert report["accounts"] >= 1
            report_file = tmp_path / "report.json"
            report_file.write_text(json.dumps(report))
            argv = [str(report_file), "--genesis", str(net.genesis),
                    "--rpc", f"{chains[0].chain_id}={ANVIL_URL}"]  # fmt: skip
            done = subprocess.run(
                [*hosts.wrap_switch(), str(CLEARNODE), "verify", *argv],
                capture_output=True,
                timeout=120,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            text = done.stdout.decode()
            assert done.returncode == verify.EXIT_VALID, text
            held = f"holds {DEPOSIT} USDC units and paid 0 that clearing had not seen paid"
            assert f"{held}, >= the {DEPOSIT} the ledger under the state root" in text
