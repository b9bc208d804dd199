"""Checking what the live network serves with `clearnode.client.verify`: a solvency
report's full check (the genesis pinned by its hash, the statement recomputed, the root
followed, the vault read on the chain), one's own openings in it, as `clearnode verify`
says it of the same report; and one's account proof against a committed state root."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from clearnode.client import (
    CheckRefused,
    Client,
    GenesisMismatch,
    Member,
    verify_report,
)
from clearnode.client.verify import check_account_proof
from proofs.account_proof import WrongRoot
from tests.clearnode.client.conftest import (
    EVM_CHAIN_ID,
    REPORTED,
    LiveNetwork,
    fund,
    wait_for_report_holding,
)
from tests.node.reports.support import run_verify

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.beside_networks,
    pytest.mark.chain,
]


async def test_a_report_and_one_s_openings_verify_as_clearnode_verify_says(
    live: LiveNetwork, tmp_path: Path
) -> None:
    member = REPORTED
    published = hashlib.sha256((live.base / "net" / "node0" / "genesis.json").read_bytes())
    rpc = {EVM_CHAIN_ID: live.rpc_url}
    async with await Client.connect(live.url) as client:
        view, openings = await wait_for_report_holding(client, member)
        check = await client.verify_report(published.digest(), view["epoch"], member, rpc=rpc)
        given = await client.pinned_genesis(published.digest())
        with pytest.raises(GenesisMismatch):
            await client.verify_report(bytes(32), view["epoch"])
    assert check.ok and check.lines()[0] == "VERDICT: VALID", check
    assert any(line.startswith(f"chain {EVM_CHAIN_ID} vault 0x") for line in check.passed)
    (tmp_path / "report.json").write_text(json.dumps(view))
    (tmp_path / "openings.json").write_text(json.dumps(openings.to_json()))
    code, printed = run_verify(
        [str(tmp_path / "report.json"), "--node", live.url, "--genesis-hash",
         published.hexdigest(), "--rpc", f"{EVM_CHAIN_ID}={live.rpc_url}",
         "--member", member.address_hex, "--openings", str(tmp_path / "openings.json")]
    )  # fmt: skip
    cli = printed.splitlines()
    assert code == check.exit_code and cli[0] == check.headline
    assert cli[2:] == check.lines()[2:]  # all but the line saying where the genesis came from
    with pytest.raises(CheckRefused):  # the weak default of before: nothing authenticated
        verify_report(view, client.chain_id)  # type: ignore[arg-type]
    others = replace(openings, owner=Member.from_sandbox("sdk-nobody").address)
    theirs = verify_report(view, given, member.address, others)
    assert not theirs.ok and theirs.verdict == "INVALID" and theirs.failures


async def test_an_account_proof_checks_against_the_committed_root(live: LiveNetwork) -> None:
    member = Member.from_sandbox("sdk-proof")
    async with await Client.connect(live.url) as client:
        await fund(live, client, member, 100)
        proof = await client.account_proof(member)
        block = await client.block(proof.height)
    root = bytes.fromhex(block["state_root"][2:])
    checked = check_account_proof(proof, root, proof.height)
    assert checked.sub_accounts[0].collateral
    with pytest.raises(WrongRoot):
        check_account_proof(proof, bytes(32), proof.height)
