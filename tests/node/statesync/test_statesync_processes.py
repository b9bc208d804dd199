"""State sync between `clearnode start` processes on loopback: a full node with an empty
store joins from its peers' snapshot (trusted from the genesis), serves a member's
account proof and says which heights it does not hold; a validator whose data directory
is deleted restores the same way, votes again and is not punished, backfills the
blocks below its snapshot from the others and rebuilds the members' history below it."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from clearnode.client.sandbox_keys import derive_member_key
from node.clock import wall_clock_ms
from proofs.account_proof import AccountProofFile, check_account_proof
from tests.node.history.test_history_network import sign_member_query
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, process_network
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import (
    LATE,
    OBSERVERS,
    assert_roots_agree,
    commit_setup,
    count_included,
    get_lowest_tip,
    get_tip,
    post_batches,
    read_heights,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.beside_networks]

SNAPSHOTS = "[storage]\nsnapshot_interval = 4\nsnapshots_kept = 2\n"
STATE_SYNC = "[state_sync]\nenabled = true\ntimeout_s = 60\n"
SYNCED = "state synced to height "


def enable_state_sync(home: NodeHome, more: str = "") -> None:
    with open(home.path / "config.toml", "a") as config:
        config.write(STATE_SYNC + more)


def read_synced_height(home: NodeHome) -> int:
    """The height the node's log says it state-synced to (0: not yet)."""
    log = (home.path / "node.log").read_text()
    at = log.rfind(SYNCED)
    return 0 if at < 0 else int(log[at + len(SYNCED) :].split(":")[0])


def is_caught_up(home: NodeHome, other: NodeHome) -> bool:
    """`home` holds `other`'s tip and takes submissions (not syncing: no 503)."""
    if get_tip(home) < get_tip(other):
        return False
    health = home.get_json("/v1/status")[1]["health"]
    return not health["syncing"] and health["blocks_behind"] == 0


async def post_query(home: NodeHome, route: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"http://127.0.0.1:{home.api_port}{route}", json=body)


async def test_a_node_joins_by_state_sync_and_a_validator_restores_by_it(tmp_path: Path) -> None:
    setup, batches = setup_txs()
    with process_network(
        tmp_path / "net", extra_config=SNAPSHOTS + SHORT_TIMEOUTS, observers=OBSERVERS,
        genesis_time_ms=wall_clock_ms() - 60_000,  # within the trusting period
    ) as net:  # fmt: skip
        validators = list(net.homes)
        chain_id = net.genesis["chain_id"]
        await commit_setup(validators, setup)
        await post_batches(validators[0], batches[:1])
        await wait_until("a batch and two snapshots", lambda: get_tip(validators[0]) >= 12)

        # a full node with nothing but the genesis joins from the validators' snapshot
        late = net.add_full_node(tmp_path / "net", LATE)
        enable_state_sync(late)
        net.start(late)
        await wait_until("the late node to state-sync", lambda: read_synced_height(late) > 0)
        synced = read_synced_height(late)
        assert read_heights(late)[0] == synced > 4  # no block before it was fetched
        await wait_until("it to catch up", lambda: is_caught_up(late, validators[0]))
        await post_batches(late, batches[1:2])
        await wait_until("a batch through it", lambda: count_included(validators[0], batches) == 2)
        tip = get_tip(validators[0])
        await wait_until("every node to follow the chain", lambda: get_lowest_tip(net.homes) >= tip)
        assert count_included(late, batches) == 1  # the one committed after its snapshot
        assert assert_roots_agree(net.homes) >= tip

        _, storage = late.get_json("/v1/status")
        assert storage["storage"]["first_height"] == synced
        assert storage["storage"]["history_first_height"] == synced + 1
        code, refused = late.get_json("/v1/blocks/1")
        assert (code, refused["error"]["details"]["first_height"]) == (410, synced)
        member = derive_member_key("m0")
        history = await post_query(late, "/v1/accounts/events", sign_member_query(member, chain_id))
        assert history.status_code == 410, history.text
        assert history.json()["error"]["details"]["first_height"] == synced + 1
        query = sign_member_query(member, chain_id, "AccountProof")
        answer = await post_query(late, "/v1/accounts/proof", query)
        assert answer.status_code == 200, answer.text
        found = AccountProofFile.from_object(answer.json())
        check_account_proof(found, validators[0].get_roots()[found.height], found.height)

        # a validator loses its data directory: it restores by state sync, trusting a
        # checkpoint its operator read from another node, votes again, and fetches the
        # blocks below its snapshot (every node here keeps them all)
        lost = validators[3]
        net.kill(lost)
        lost_at = get_tip(lost)
        await wait_until("the others to move on", lambda: get_tip(validators[0]) > lost_at + 4)
        shutil.rmtree(lost.path / "data")
        checkpoint = validators[0].get_json("/v1/status")[1]["trust"]["checkpoint"]
        enable_state_sync(lost, f"checkpoint = '{checkpoint}'\nbackfill = true\n")
        net.start(lost)
        await wait_until("it to state-sync", lambda: read_synced_height(lost) > lost_at)
        await wait_until("it to catch up", lambda: is_caught_up(lost, validators[0]))
        await post_batches(lost, batches[2:])
        await wait_until("the last batch", lambda: count_included(validators[0], batches) == 3)
        tip = get_tip(validators[0])
        await wait_until("it and every node at the tip", lambda: get_lowest_tip(net.homes) >= tip)
        assert assert_roots_agree(net.homes) >= tip
        await wait_until("its backfill", lambda: read_heights(lost)[0] == 1)
        assert lost.get_json("/v1/status")[1]["storage"]["first_height"] == 1
        # the block as v0 holds it; its certificate is whichever quorum the sender kept
        backfilled, held = (h.get_json("/v1/blocks/1")[1] for h in (lost, validators[0]))
        assert {**backfilled, "cert": None} == {**held, "cert": None}
        assert assert_roots_agree(net.homes) >= tip  # the roots it stored below, too
        # and then the members' history below its snapshot, replayed from genesis
        await wait_until("its history rebuilt", lambda: lost.get_json("/v1/status")[1][
            "storage"]["history_first_height"] == 1)  # fmt: skip
        query = sign_member_query(member, chain_id)
        rebuilt, held = [(await post_query(h, "/v1/accounts/events", query)).json()
                         for h in (lost, validators[0])]  # fmt: skip
        # the two may have indexed different heights by now: the events up to both
        common = min(rebuilt["historyHeight"], held["historyHeight"])
        events = [[e for e in page["events"] if e["height"] <= common] for page in (rebuilt, held)]
        assert events[0] == events[1] and events[0], rebuilt
        _, listed = validators[0].get_json("/v1/validators")
        assert [v["jailed"] for v in listed["validators"]] == [None] * 4
        for home in validators[:3]:  # nobody scored it, or the late node, down
            assert " offence " not in (home.path / "node.log").read_text()
