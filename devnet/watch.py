"""The devnet's background tasks: follow the validators (their event streams,
their blocks applied in the replica), keep the chains producing blocks, poll prices and the
members' own margin, relay signed withdrawals, fetch and verify reports."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import time

import trio

from clearnode.client import ClientError, NotFound
from clearnode.client.views import Account
from devnet.chains import mine_block, relay_withdrawal
from devnet.network import POLL_S, Devnet, NodeView
from devnet.reports import check_report
from node.clock import wall_clock_ms

STATUS_POLL_S = 2.0
HEALTH_POLL_S = 3.0


async def watch_events(view: NodeView) -> None:
    """Heights, their roots and when each was reported, from the SSE stream."""
    while True:
        try:
            async for event in view.client.events():
                if event.kind == "block":
                    height = int(event.data["height"])
                    view.height = max(view.height, height)
                    view.roots[height] = str(event.data["state_root"])
                    view.seen_ms[height] = wall_clock_ms()
        except (ClientError, ValueError, KeyError):
            pass
        await trio.sleep(0.5)


async def watch_processes(
    net: Devnet, processes: list[subprocess.Popen[bytes]], scope: trio.CancelScope
) -> None:
    """A validator process that exits ends the run: the network is no longer the one asked for."""
    while True:
        for home, process in zip(net.homes, processes, strict=True):
            code = process.poll()
            if code is not None:
                net.fail(f"{home.name} exited with code {code}; see {home.path / 'node.log'}")
                scope.cancel()
                return
        await trio.sleep(POLL_S)


async def follow_blocks(net: Devnet) -> None:
    """Apply in the replica every height all validators have committed, comparing roots.

    Heights and roots come from the event streams (a block is fetched from one node,
    in turn); a status poll every STATUS_POLL_S and the stored block cover a stream
    that is (re)connecting."""
    last_poll = 0.0
    while True:
        await trio.sleep(POLL_S)
        if time.monotonic() - last_poll > STATUS_POLL_S:
            last_poll = time.monotonic()
            for view in net.nodes:
                with contextlib.suppress(ClientError):
                    view.height = max(view.height, await view.client.height())
        while net.state.height < min(n.height for n in net.nodes):
            height = net.state.height + 1
            source = net.nodes[height % len(net.nodes)]
            try:
                found = await source.operator.block(height)
                source.roots[height] = found["state_root"]
                roots = [await _get_root(view, height) for view in net.nodes]
            except (ClientError, KeyError):
                break
            behind = [view for view, root in zip(net.nodes, roots, strict=True) if root is None]
            if behind:  # restarted since it said it was past `height`: not stored again yet
                for view in behind:
                    with contextlib.suppress(ClientError):
                        view.height = await view.client.height()
                break
            stored = [root for root in roots if root is not None]
            block, cert = (bytes.fromhex(found.get(k, "0x")[2:]) for k in ("block", "cert"))
            net.note_committed(height, net.replica.apply(height, block, cert, stored))
            net.observer.update(net)


async def _get_root(view: NodeView, height: int) -> str | None:
    """The node's root at `height`: from its event stream, else its stored block; None if
    it has none (a node that restarted since it applied the block: on CometBFT the block
    is stored at Commit, and replayed into the app again after a crash before it)."""
    root = view.roots.pop(height, None)
    if root is None:
        try:
            root = str((await view.client.block(height))["state_root"])
        except NotFound:
            return None
    return root


async def mine_chains(net: Devnet) -> None:
    """The chains keep producing blocks (one a second each), as real chains do;
    the vaults' balances are read for the dashboard on the way."""
    while True:
        for dev in net.chains:
            await trio.to_thread.run_sync(mine_block, dev)
            balances = await trio.to_thread.run_sync(dev.get_vault_balances)
            net.vaults[dev.chain.chain_id] = balances
        await trio.sleep(1.0)


async def poll(net: Devnet) -> None:
    """Prices, and each member's margin through its own signed account query (from
    each validator in turn, so that no node serves every read)."""
    for turn in itertools.count():
        node = net.nodes[turn % len(net.nodes)].client
        try:
            net.prices = dict(await node.prices())
            for member in net.members:
                view = await node.account(member.key, member.sub_account)
                net.health[member.name] = _health(view)
        except ClientError as exc:
            net.log(f"poll: {exc}")
        net.observer.update(net)
        await trio.sleep(HEALTH_POLL_S)


async def relay(net: Devnet) -> None:
    """Submit every committed withdrawal the validators have signed to its vault."""
    while True:
        try:
            await _relay(net)
        except ClientError as exc:
            net.log(f"relay: {exc}")
        await trio.sleep(POLL_S)


async def check_reports(net: Devnet) -> None:
    """Fetch each epoch's report once the network has moved past it, and verify it."""
    while True:
        try:
            await _check_reports(net)
        except ClientError as exc:
            net.log(f"reports: {exc}")
        await trio.sleep(1.0)


def _health(view: Account | None) -> tuple[str, str, str]:
    risk = None if view is None else view["risk"]
    if risk is None:
        return ("-", "-", "no account")
    equity, mm = int(risk["equity"]), int(risk["maintenanceMargin"])
    return (str(equity), str(mm), "ok" if equity >= mm else "below MM")


async def _relay(net: Devnet) -> None:
    """Submit every committed withdrawal the validators have signed to its vault."""
    for record in list(net.state.pending_withdrawals.values()):
        key = (record.member, record.nonce)
        if key in net.relayed:
            continue
        node = net.nodes[record.nonce % len(net.nodes)].client
        try:
            body = await node.withdrawal(record.member, record.nonce)
        except NotFound:
            continue
        if not body.get("complete"):
            continue
        dev = next(d for d in net.chains if d.chain.chain_id == record.chain_id)
        await trio.to_thread.run_sync(relay_withdrawal, dev, body)
        net.relayed.add(key)
        net.log(f"relayed withdrawal of {net.name_of(record.member)} on chain {record.chain_id}")


async def _check_reports(net: Devnet) -> None:
    epoch_blocks = net.replica.app.genesis.epoch_length_blocks
    done = {r.epoch for r in net.reports}
    for epoch in range(1, net.state.height // epoch_blocks + 1):
        if epoch in done:
            continue
        outcome = await check_report(
            net.nodes[epoch % len(net.nodes)].client,
            epoch,
            net.members[2],
            net.out_dir / "genesis.json",  # the network's, whatever governance changed since
            net.out_dir,
            {dev.chain.chain_id: dev.chain.url for dev in net.chains},
        )
        if outcome is None:
            continue
        net.reports.append(outcome)
        verdict = "valid" if outcome.verified and outcome.member_verified else "INVALID"
        net.log(f"report epoch {epoch}: {verdict}")
        if verdict != "valid":
            net.fail(f"report epoch {epoch} failed: {outcome.detail}")
