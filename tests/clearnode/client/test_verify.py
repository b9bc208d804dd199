"""Checking what the live network serves with `clearnode.client.verify`: a solvency
report (signatures, proofs, totals, the statement from the genesis), one's own openings
in it, and one's account proof against a committed state root."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.genesis import parse_genesis
from clearnode.client import Client, Member, get_validators, verify_report
from clearnode.client.verify import check_account_proof
from proofs.account_proof import WrongRoot
from tests.clearnode.client.conftest import REPORTED, LiveNetwork, fund, wait_for_report_holding

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.chain]


async def test_a_report_and_one_s_openings_verify(live: LiveNetwork) -> None:
    member = REPORTED
    genesis = parse_genesis(live.genesis)
    async with await Client.connect(live.url) as client:
        view, openings = await wait_for_report_holding(client, member)
        validators = get_validators(await client.validators())
        check = verify_report(view, client.chain_id, validators, genesis, member.address, openings)
        assert check.ok, check.sections
        wrong_network = verify_report(view, client.chain_id + 1, validators)
        assert not wrong_network.ok and wrong_network.failures
        others = replace(openings, owner=Member.from_sandbox("sdk-nobody").address)
        theirs = verify_report(view, client.chain_id, validators, None, member.address, others)
        assert not theirs.ok


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
