"""An upgrade in place on a live network, on each engine (#46): four validators run this
release under `clearnode supervise`, with the upgrade's release installed beside it
(tests/node/upgrades/: this tree with a field added to the account record and its
migration). Members hold collateral on two chains (a deposit on an anvil chain that the
validators' bridges credit, and a credit of the second chain's token their keys attest),
a position each, a withdrawal signed and not yet relayed, and a margin call opens when a
proposal widens BTC's scan range; the same proposal schedules the upgrade. One validator
stops before the height. The others stop at it (exit 3, the plan in upgrade-info.json),
their supervisors start the new release, which migrates the state at the height, and the
network goes on: the same positions and collateral, every account in the new format and
one root per height; the withdrawal is relayed and paid, the margin call met; the report
of epoch 1 and the first committed after it (the height's epoch or a later one) verify
with the new release.
The stopped validator, started again, catches up with the old release to the height,
stops there, and its supervisor swaps it: it ends on the others' roots.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import trio
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.devchain import deploy_devnet_chain, mine
from bridge.relayer import relay_complete
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token
from clearing.collateral import CollateralCredit
from clearing.eip712 import compute_signable, sign_typed
from clearing.governance.submit import GovProposal, sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import ScheduleUpgrade, make_risk_change
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.risk.engine import get_account_initial_margin
from clearing.state import get_account_equity, get_sub_account_for_write
from clearing.transition.member_requests import ACCOUNT_PROOF_FIELDS
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearing.transition.withdrawal import WithdrawalPaid
from clearing.upgrade_plan import UpgradePlan
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from lightclient.anchor import COMETBFT, OUR_ENGINE
from node.clock import wall_clock_ms
from node.keys import BRIDGE_KEY, KeyFile, save_key
from node.reports.seed import create_report_seed, save_report_seed
from node.upgrade_halt import UPGRADE_INFO_FILE
from tests.clearing.test_trade import VENUE_KEY
from tests.node.bridge.network import DEPTH, find_committed
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, CONSENSUS_KEYS, get_evm_address
from tests.node.bridge.support import get_genesis_doc as get_bridge_genesis_doc
from tests.node.bridge.test_bridge_network import ALICE, DEPOSIT, WITHDRAW, sign_withdrawal
from tests.node.bridge.test_rotation_network import CHAIN_B, POWER, get_chain_config, get_json
from tests.node.bridge.test_validator_set_vaults import query_account
from tests.node.netproc import CLEARNODE, ROOT, SHORT_TIMEOUTS, NodeHome, ProcessNetwork, running
from tests.node.netsupport import get_wall_times
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_answer,
    post_tx_until_accepted,
    post_until_accepted,
    wait_until,
)
from tests.node.upgrades.release import UPGRADE, build_release, run_migration_test

# beside the other network tests: every wait is for a state, with a bound of a minute or
# two, and the margin call it meets is due 40 blocks after it opens (get_new_risk)
pytestmark = [
    pytest.mark.chain,
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.beside_networks,
]

BOB = derive_member_key("upgrade-bob")
EPOCH = 20  # blocks
UPGRADE_AFTER_EPOCH_END = 6  # the upgrade's height, in blocks after an epoch's end
VOTING, DELAY, AFTER = 12, 2, 12  # the proposal's vote (a loaded machine took 6 blocks to
# commit the proposal and take its ballots), its execution, the upgrade after it
PROPOSALS, VOTES = "/v1/governance/proposals", "/v1/governance/votes"
ALICE_USDC = 10**9  # besides her deposit on the anvil chain: margin for her side


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upgrade's release, built once, its migration's own property test passed."""
    built = build_release(tmp_path_factory.mktemp("release"))
    assert "passed" in run_migration_test(built)
    return built


def get_new_risk(doc: dict[str, Any]) -> dict[str, Any]:
    """The proposal's risk section: BTC's scan range half as wide again (IM rises), margin
    calls due 40 blocks after they open (past the upgrade)."""
    risk = json.loads(json.dumps(doc["risk"]))
    risk["underlyings"]["BTC"]["scan_bps"] = risk["underlyings"]["BTC"]["scan_bps"] * 3 // 2
    risk["margin_call"]["deadline_blocks"] = 40
    return risk


def get_bob_credit(doc: dict[str, Any], usdc_b: tuple[int, bytes], trade: Trade) -> int:
    """The quanta of the second chain's USDC that leave Bob, after his side of `trade`,
    halfway between the initial margin in force and the one the proposal makes: he can
    trade, and the proposal puts him under a margin call, not in default."""
    box = Sandbox.from_genesis_doc(doc)
    plenty = 10**12
    box.apply([box.credit(ALICE.address, usdc_b, plenty), box.credit(BOB.address, usdc_b, plenty),
               box.authorise(ALICE, "alpha"), box.authorise(BOB, "alpha")])  # fmt: skip
    batch = sign_trade_batch(VENUE_KEY, box.chain_id, "alpha", 1, [trade], *box.get_times())
    assert all(r.is_ok() for r in box.apply([batch]).tx_results)
    account = get_sub_account_for_write(box.state, BOB.address, 0)
    spare = get_account_equity(box.state, account) - plenty  # the trade's fee, below zero
    old_im = get_account_initial_margin(box.state, account)
    box.state.genesis = dataclasses.replace(box.state.genesis, risk=get_new_risk(doc))
    new_im = get_account_initial_margin(box.state, account)
    assert new_im > old_im
    return (old_im + new_im) // 2 - spare


def install_release(net: ProcessNetwork, release: Path) -> None:
    for home in net.homes:
        (home.path / "upgrades").mkdir()
        (home.path / "upgrades" / UPGRADE).symlink_to(release)


class SupervisedNetwork(ProcessNetwork):
    """Each node started as an operator runs it for upgrades: `clearnode supervise`, in a
    process group of its own with the node it runs, which `close` kills whole."""

    def start(self, home: NodeHome) -> None:
        command = [str(CLEARNODE), "supervise", "--home", str(home.path)]
        with open(home.path / "node.log", "ab") as log:
            self.processes[home.name] = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=ROOT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip

    def close(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()

    def stop(self, home: NodeHome) -> None:
        """SIGTERM to the supervisor, which passes it on: the node stops in order."""
        process = self.processes.pop(home.name)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


HOUR_MS = 3_600_000


def make_network(tmp_path: Path, engine: str, chain_a: Any) -> SupervisedNetwork:
    trusted = EvmValidatorSet.from_members(0, [(get_evm_address(k), POWER) for k in BRIDGE_KEYS])
    deployed = deploy_devnet_chain(chain_a, trusted, [("USDC", 6)])
    mine(chain_a, DEPTH + 1)
    seed_file = tmp_path / "report_seed.json"
    save_report_seed(seed_file, create_report_seed())
    extra = (get_chain_config("a", deployed) + SHORT_TIMEOUTS
             + f'[reports]\nenabled = true\nseed_file = "{seed_file}"\n')  # fmt: skip
    net = SupervisedNetwork(tmp_path, 4, extra_config=extra, engine=engine)
    doc = get_bridge_genesis_doc(deployed.tokens)
    # Funding is paid at genesis time + k intervals (an hour): from a minute ago, no
    # payment falls between the holdings read before the height and after it (from the
    # example's midnight one did, at the top of an hour, and moved 750 from Alice to Bob).
    doc.update(engine=engine, epoch_length_blocks=EPOCH, genesis_time_ms=wall_clock_ms() - 60_000,
               governance={"min_delay_blocks": DELAY, "max_voting_blocks": 50})  # fmt: skip
    assert all(i.get("funding_interval_ms", HOUR_MS) >= HOUR_MS for i in doc["instruments"])
    net.genesis = doc
    for home, secret in zip(net.homes, BRIDGE_KEYS, strict=True):
        (home.path / "genesis.json").write_text(json.dumps(doc))
        save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
    net.deployed = deployed  # type: ignore[attr-defined]
    return net


@pytest.mark.parametrize("engine", [OUR_ENGINE, COMETBFT])
async def test_a_live_network_upgrades_in_place_and_keeps_every_position(
    tmp_path: Path, engine: str, release: Path
) -> None:
    with AnvilNode(chain_id=CHAIN_ID) as anvil:
        chain = connect(anvil.url, CHAIN_ID)
        net = make_network(tmp_path, engine, chain)
        install_release(net, release)
        with running(net):
            await check_upgrade(net, chain, release)


async def check_upgrade(net: SupervisedNetwork, chain: Any, release: Path) -> None:
    v0, v1, v2, v3 = net.homes
    network = net.genesis["chain_id"]
    deployed = net.deployed  # type: ignore[attr-defined]
    relayer = account_from_key(DEV_PRIVATE_KEY)
    await wait_until("every node to commit", lambda: assert_roots_agree(net.homes) >= 2, 90)

    # collateral on two chains, a position each, a withdrawal signed and not relayed
    box = Sandbox.from_genesis_doc(net.genesis)
    box.clock_ms = wall_clock_ms
    usdc = next(t.key for t in box.genesis.collateral if t.chain_id == CHAIN_ID)
    usdc_b = next(t.key for t in box.genesis.collateral if t.chain_id == CHAIN_B)
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1)
    bob_quanta = get_bob_credit(net.genesis, usdc_b, trade)
    for credit in (box.credit(ALICE.address, usdc, ALICE_USDC),
                   box.credit(BOB.address, usdc_b, bob_quanta)):  # fmt: skip
        await post_tx_until_accepted(
            v0, "/v1/bridge/collateral-events", encode_tx(credit), "a credit"
        )
    vault = chain.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = chain.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    await trio.to_thread.run_sync(deposit_token, chain, vault, token, DEPOSIT, ALICE.address,
                                  relayer)  # fmt: skip
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    await wait_until("the deposit to be credited", lambda: find_committed(
        v0, CollateralCredit, lambda tx: tx.observation.chain_id == CHAIN_ID
        and tx.observation.vault == deployed.vault) is not None, 60)  # fmt: skip
    for member in (ALICE, BOB):
        await post_request(v0, box, member)
    batch = encode_tx(sign_trade_batch(VENUE_KEY, network, "alpha", 1, [trade], *get_wall_times()))
    await post_tx_until_accepted(v0, "/v1/trade-batches", batch, "the trade")
    await wait_until("both positions on every node", lambda: all(
        positions(h, network, m) == [("BTC-PERP", q)] for h in net.homes
        for m, q in ((ALICE, 1), (BOB, -1))), 60)  # fmt: skip
    url = f"http://127.0.0.1:{v1.api_port}/v1/member-requests"
    request = sign_withdrawal(network, deployed.tokens["USDC"], 2)
    await post_json_until_accepted("the withdrawal", url, request)
    withdrawal = f"/v1/withdrawals/0x{ALICE.address.hex()}/2"
    await wait_until("the withdrawal's signatures",
                     lambda: get_json(v0, withdrawal).get("complete") is True, 60)  # fmt: skip

    # one proposal: BTC's wider scan (Bob under a margin call) and the upgrade
    tip = min(len(h.get_roots()) for h in net.homes)
    deadline = tip + VOTING
    execute = deadline + DELAY
    plan = UpgradePlan(UPGRADE, get_upgrade_height(execute + AFTER), "0.2.0-test-v2")
    changes = (make_risk_change(get_new_risk(net.genesis)), ScheduleUpgrade(plan))
    proposal_tx = sign_proposal(CONSENSUS_KEYS[0], network, changes, deadline, execute)
    proposed = encode_tx(proposal_tx)
    await post_tx_until_accepted(v0, PROPOSALS, proposed, "the proposal")
    await wait_until("the proposal to commit",
                     lambda: find_committed(v0, GovProposal) is not None, 60)  # fmt: skip
    digest = hashlib.sha256(proposal_tx.signing_bytes(network)).digest()
    proposal = GovernanceProposal(1, proposal_tx.proposer, changes, digest, 0, deadline, execute)
    for key in CONSENSUS_KEYS[:3]:
        ballot = encode_tx(sign_vote(key, network, proposal, VoteChoice.YES))
        await post_tx_until_accepted(v0, VOTES, ballot, "a ballot")
    await wait_until("the plan in force on every node", lambda: all(
        (get_json(h, "/v1/status").get("upgrade") or {}).get("planned") for h in net.homes),
        60)  # fmt: skip
    status = get_json(v0, "/v1/status")["upgrade"]["planned"]
    assert (status["name"], status["height"]) == (UPGRADE, plan.height)
    net.stop(v3)  # down across the height
    await wait_until("Bob's margin call", lambda: margin_call(v0, network, BOB) is not None, 60)
    # what the members hold in the last blocks before the height (no epoch's end between:
    # get_upgrade_height)
    await wait_until("the blocks before the height", lambda: plan.height - 4 <= len(
        v0.get_roots()) < plan.height, 60)  # fmt: skip
    before = {m.address: holdings(v0, network, m) for m in (ALICE, BOB)}

    # every running node stops at the height; its supervisor starts the new release
    def upgraded(home: NodeHome) -> bool:
        done = (get_json(home, "/v1/status").get("upgrade") or {}).get("done")
        return done == [{"name": UPGRADE, "height": plan.height}]

    def past_the_height(home: NodeHome) -> bool:
        return upgraded(home) and len(home.get_roots()) > plan.height + 2

    await wait_until("v0-v2 on the new release past the height",
                     lambda: all(past_the_height(h) for h in (v0, v1, v2)), 120)  # fmt: skip
    for home in (v0, v1, v2):
        check_stopped_and_swapped(home, plan, release)
    assert_roots_agree([v0, v1, v2])
    after = {m.address: holdings(v0, network, m) for m in (ALICE, BOB)}
    assert after == before, (after, before)
    assert account_version(v0, network, ALICE) == 4  # the new format's record

    # the withdrawal signed before is paid; the margin call is met with a credit
    (paid,) = await trio.to_thread.run_sync(relay_complete, chain, relayer,
                                            [get_json(v0, withdrawal)])  # fmt: skip
    assert paid.result == "paid", paid
    assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == WITHDRAW
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    await wait_until("the payout committed", lambda: find_committed(v0, WithdrawalPaid)
                     is not None, 60)  # fmt: skip
    more = box.credit(BOB.address, usdc_b, bob_quanta)
    await post_tx_until_accepted(
        v0, "/v1/bridge/collateral-events", encode_tx(more), "Bob's credit"
    )
    await wait_until("Bob's margin call met", lambda: margin_call(v0, network, BOB) is None, 60)

    # the stopped validator catches up with the old release, stops, and is swapped
    net.start(v3)
    await wait_until("v3 upgraded and caught up", lambda: upgraded(v3) and len(
        v3.get_roots()) >= len(v0.get_roots()) - 2, 120)  # fmt: skip
    check_stopped_and_swapped(v3, plan, release)  # the old release took it to the height
    assert_roots_agree(net.homes)

    # the report before the height, and the first committed from the epoch that spans it
    # on (a validator's builder skips to the newest epoch when it is busy: under load the
    # spanning epoch's own may never commit), verify with the new release
    await wait_until("the report of epoch 1", lambda: find_committed_report(v0, 1, 1), 120)
    await wait_until("a report from epoch 2 on", lambda: find_committed_report(v0, 2), 120)
    for first in (1, 2):
        report = find_committed_report(v0, first, 1 if first == 1 else None)
        assert report is not None
        path = v0.path / f"report-{report['epoch']}.json"
        path.write_text(json.dumps(report))
        verdict = subprocess.run(
            [str(release / "bin" / "clearnode"), "verify", str(path), "--genesis",
             str(v0.path / "genesis.json")], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr
        assert verdict.stdout.startswith("VERDICT: VALID\n"), verdict.stdout


def check_stopped_and_swapped(home: NodeHome, plan: UpgradePlan, release: Path) -> None:
    """`home`'s old release stopped once, at the height, for the plan, and its supervisor
    started the upgrade's release."""
    log = (home.path / "node.log").read_text()
    assert log.count(f"clearnode start: stopped for an upgrade: upgrade '{UPGRADE}' at "
                     f"height {plan.height}") == 1, home.name  # fmt: skip
    assert f"starting the release of upgrade '{UPGRADE}'" in log
    info = json.loads((home.path / "data" / UPGRADE_INFO_FILE).read_text())
    assert (info["name"], info["height"]) == (UPGRADE, plan.height)
    assert (home.path / "current").resolve() == release.resolve()


async def post_request(home: NodeHome, box: Sandbox, member: MemberKey) -> None:
    record = box.authorise(member, "alpha")
    request = {
        "type": "AuthoriseVenue",
        "chainId": box.chain_id,
        "message": record.get_message(),
        "signature": "0x" + record.signature.hex(),
    }
    url = f"http://127.0.0.1:{home.api_port}/v1/member-requests"
    await post_json_until_accepted("an authorisation", url, request)


async def post_json_until_accepted(what: str, url: str, body: dict[str, Any]) -> None:
    await post_until_accepted(what, lambda: get_answer(httpx.post(url, json=body, timeout=10)))


def positions(home: NodeHome, network: int, member: MemberKey) -> list[tuple[str, int]]:
    view = query_account(home, network, member)
    return [(p["instrument"], p["quantity"]) for p in view.get("positions", [])]


def holdings(home: NodeHome, network: int, member: MemberKey) -> tuple[object, ...]:
    """What the upgrade must keep of a member's sub-account 0: cash, collateral, positions
    and margin call."""
    view = query_account(home, network, member)
    call = view.get("marginCall")
    kept = None if call is None else {k: v for k, v in call.items() if k != "blocksLeft"}
    return (*(view.get(k) for k in ("cash", "collateral", "positions")), kept)


def get_upgrade_height(earliest: int) -> int:
    """The first height from `earliest` on that is 6 blocks past an epoch's end: the
    holdings read before it (from 4 blocks ahead) and after it (a few blocks past) then
    have no epoch's end between them, where default-fund contributions are recomputed
    (one moved Alice's collateral by 5,880,000 between the two reads)."""
    return earliest + (UPGRADE_AFTER_EPOCH_END - earliest) % EPOCH


def find_committed_report(
    home: NodeHome, first: int, last: int | None = None
) -> dict[str, Any] | None:
    """The committed report of the oldest epoch from `first` to `last` (None: the newest)
    that `home` serves."""
    newest = get_json(home, "/v1/reports/latest").get("epoch", 0) if last is None else last
    for epoch in range(first, newest + 1):
        report: dict[str, Any] = get_json(home, f"/v1/reports/{epoch}")
        if report.get("committedHash"):
            return report
    return None


def margin_call(home: NodeHome, network: int, member: MemberKey) -> object:
    return query_account(home, network, member).get("marginCall")


def account_version(home: NodeHome, network: int, member: MemberKey) -> int:
    """The version of `member`'s account record as the node proves it under its root."""
    message = {"member": "0x" + member.address.hex(), "height": 0, "issuedAtMs": wall_clock_ms()}
    signable = compute_signable(network, "AccountProof", ACCOUNT_PROOF_FIELDS, message)
    body = {"chainId": network, "message": message,
            "signature": "0x" + sign_typed(member.private_key, signable).hex()}  # fmt: skip
    response = httpx.post(f"http://127.0.0.1:{home.api_port}/v1/accounts/proof", json=body,
                          timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    record = bytes.fromhex(response.json()["account"][2:])
    version: int = msgpack.unpackb(record)[0]
    return version
