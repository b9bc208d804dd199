"""The devnet's script, as outsiders act on the network: members deposit on
chain and authorise the venue, the venue opens positions in perpetuals, a
future and an option and keeps trading, the oracle's scheduled crash hits,
market makers withdraw to every chain; then the end-of-run checks."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial

import trio

from clearing.default.house import HOUSE
from clearing.risk.engine import get_quantities
from clearing.state import ClearingState
from clearing.trade import Trade
from node.devnet.chains import deposit
from node.devnet.client import MemberRequest
from node.devnet.market import (
    BTC_PERP,
    BTC_SHORT,
    Member,
    get_deposits,
    get_flow_trades,
    get_opening_trades,
    get_trade_prices,
    sign_auction_bid,
    sign_authorise_venue,
    sign_register_bidder,
    sign_withdrawal,
)
from node.devnet.network import POLL_S, Devnet, StepTimeout, wait_for

START_TIMEOUT_S = 90.0
STEP_TIMEOUT_S = 45.0
REPORT_TIMEOUT_S = 90.0  # a loaded machine takes a minute to prove one
FLOW_PAUSE_S = 1.0
WITHDRAWAL_QUANTA = 1_000_000_000  # 1,000 USDC
INSURANCE_SEED = 50_000_000  # 50 USDC deposited to the clearing house's account
CRASHED = 8_000  # the crash has committed once BTC's mark is below 80% of its pre-crash mark


async def run_script(net: Devnet, started: float) -> None:
    await wait_for(
        net, "the validators to commit a block", lambda: net.state.height >= 1, START_TIMEOUT_S
    )
    net.log(f"validators commit blocks; status pages at {net.homes[0].api_url}/ and peers")
    await deposit_everywhere(net)
    if not net.services.bridge:
        net.not_exercised.append("trading, the crash's defaults, withdrawals: no collateral")
        while time.monotonic() - started < net.config.duration_s:
            await trio.sleep(POLL_S)
        return
    await authorise_venue(net)
    await register_bidders(net)
    await open_positions(net)
    rng = random.Random(net.config.seed)
    before = net.state.mark_prices[BTC_PERP]
    while time.monotonic() < net.services.shock_at_monotonic and not net.failures:
        await trade(net, get_flow_trades(net.members, _prices(net), rng, net.trade_id))
    if net.services.shock:
        await wait_for(
            net,
            "the oracle's scheduled crash to commit",
            lambda: net.state.mark_prices[BTC_PERP] * 10_000 < before * CRASHED,
            STEP_TIMEOUT_S,
        )
        net.log("ORACLE: the scheduled crash committed")
    await withdraw(net)
    await withdraw_profit_cross_chain(net)
    while time.monotonic() - started < net.config.duration_s and not net.failures:
        await trade(net, get_flow_trades(net.members, _prices(net), rng, net.trade_id))


def _prices(net: Devnet) -> dict[str, int]:
    ticks = {i.id: i.tick_size for i in net.app.genesis.instruments}
    return get_trade_prices(dict(net.state.mark_prices), ticks)


async def deposit_everywhere(net: Devnet) -> None:
    for chain_index, symbol, amount, member in get_deposits(net.members, len(net.chains)):
        dev = net.chains[chain_index]
        await trio.to_thread.run_sync(deposit, dev, symbol, amount, member.address)
    # The insurance fund starts empty (genesis): the operator seeds it with real tokens.
    await trio.to_thread.run_sync(deposit, net.chains[-1], "USDC", INSURANCE_SEED, HOUSE[0])
    net.log(
        f"members deposited on every chain; {INSURANCE_SEED} USDC units seed the insurance fund"
    )
    if not net.services.bridge:
        return
    await wait_for(
        net,
        "the validators to credit every deposit",
        lambda: (
            all(m.address in net.state.members for m in net.members)
            and net.state.insurance_fund >= INSURANCE_SEED
        ),
        STEP_TIMEOUT_S,
    )
    net.log("deposits credited by the validators' bridge service")


async def submit_request(
    net: Devnet, member: Member, build: Callable[[int], MemberRequest]
) -> None:
    """Sign with the member's next nonce and POST to a validator (round robin)."""
    nonce = net.take_nonce(member)
    node = net.nodes[nonce % len(net.nodes)].client
    await node.post_member_request(build(nonce), net.chain_id)


async def authorise_venue(net: Devnet) -> None:
    for member in net.members:
        await submit_request(net, member, partial(sign_authorise_venue, member, net.chain_id))
    await wait_for(
        net,
        "the venue authorisations to commit",
        lambda: all(_is_authorised(net.state, m) for m in net.members),
        STEP_TIMEOUT_S,
    )
    net.log("every member authorised the venue")


def _has_positions(state: ClearingState, member: Member) -> bool:
    record = state.members.get(member.address)
    account = None if record is None else record.sub_accounts.get(0)
    return account is not None and bool(account.positions)


def _is_authorised(state: ClearingState, member: Member) -> bool:
    record = state.members.get(member.address)
    return record is not None and bool(record.venues)


async def trade(net: Devnet, trades: list[Trade]) -> None:
    """POST one signed batch to a validator (round robin), bid in any new default
    auction, then pause."""
    net.trade_id += len(trades)
    batch = net.venue.batch(net.chain_id, trades)
    node = net.nodes[net.venue.batches % len(net.nodes)].client
    await node.post_tx("/v1/trade-batches", batch)
    await bid_in_auctions(net)
    await trio.sleep(FLOW_PAUSE_S)


async def register_bidders(net: Devnet) -> None:
    """The market makers register for the default auctions (there are no backstops)."""
    makers = [m for m in net.members if m.role == "market maker"]
    for member in makers:
        await submit_request(net, member, partial(sign_register_bidder, member, net.chain_id))
    await wait_for(
        net,
        "the bidder registrations to commit",
        lambda: all(net.state.members[m.address].bidder for m in makers),
        STEP_TIMEOUT_S,
    )
    net.log("the market makers registered as default-auction bidders")


async def bid_in_auctions(net: Devnet) -> None:
    """The first market maker reads the open auctions' lots as a registered bidder does,
    through its signed account query, and bids a premium of 0 for each new one."""
    bidder = next(m for m in net.members if m.role == "market maker")
    account = await net.nodes[0].client.query_account(bidder.key, net.chain_id)
    for auction in [] if account is None else account["auctions"]:
        if auction["auction"] in net.bids:
            continue
        net.bids.add(auction["auction"])
        sign = partial(sign_auction_bid, bidder, net.chain_id, auction["auction"], 0)
        await submit_request(net, bidder, sign)
        net.log(f"BID: {bidder.name} bids 0 for auction {auction['auction']}: {auction['lots']}")


async def open_positions(net: Devnet) -> None:
    trades = get_opening_trades(net.members, _prices(net))
    before = net.events["trade_batch"]
    await trade(net, trades)
    await wait_for(
        net,
        "the opening trades to commit",
        lambda: net.events["trade_batch"] > before,
        STEP_TIMEOUT_S,
    )
    if not _has_positions(net.state, net.members[0]):
        raise StepTimeout("the opening trades were rejected (see the log)")
    net.log("venue: positions opened in perpetuals, a future and an option")


async def withdraw(net: Devnet) -> None:
    """One market maker per chain withdraws USDC back to that chain."""
    makers = [m for m in net.members if m.role == "market maker"]
    before = net.events["withdrawal"]
    for index in range(len(net.chains)):
        member, token = makers[index % len(makers)], net.usdc_key(index)
        sign = partial(sign_withdrawal, member, net.chain_id, token, WITHDRAWAL_QUANTA)
        await submit_request(net, member, sign)
    await wait_for(
        net,
        "the withdrawals to commit",
        lambda: net.events["withdrawal"] >= before + len(net.chains),
        STEP_TIMEOUT_S,
    )
    net.log(f"market makers withdrew to {len(net.chains)} chains")


def get_profit_route(net: Devnet, member: Member) -> tuple[int, int] | None:
    """(chain index, amount): the member's positive cash on the chain it did not deposit on
    whose vault holds the most for cash; None while it has no profit or no such chain."""
    deposited = {c for c, _, _, m in get_deposits(net.members, len(net.chains)) if m is member}
    record = net.state.members.get(member.address)
    cash = 0 if record is None else record.sub_accounts[0].cash
    reserves = net.state.settlement_reserves
    others = [i for i in range(len(net.chains)) if i not in deposited]
    if cash <= 0 or not others:
        return None
    best = max(others, key=lambda i: reserves.get(net.chains[i].chain.chain_id, 0))
    amount = min(cash, reserves.get(net.chains[best].chain.chain_id, 0))
    return None if amount <= 0 else (best, amount)


async def withdraw_profit_cross_chain(net: Devnet) -> None:
    """The BTC short deposited on one chain; it takes its crash profit out on another."""
    shorts = [m for m in net.members if m.role == BTC_SHORT]
    if not shorts or len(net.chains) < 2:
        net.not_exercised.append("profit withdrawn cross-chain: needs the BTC short and 2 chains")
        return
    member = shorts[0]
    try:
        await wait_for(
            net,
            "the BTC short's profit and a reserve on another chain",
            lambda: get_profit_route(net, member) is not None,
            STEP_TIMEOUT_S,
        )
    except StepTimeout as exc:
        net.fail(str(exc))
        return
    route = get_profit_route(net, member)
    assert route is not None
    index, amount = route
    before = net.events["withdrawal"]
    token = net.usdc_key(index)
    await submit_request(net, member, partial(sign_withdrawal, member, net.chain_id, token, amount))
    await wait_for(
        net, "the profit withdrawal to commit", lambda: net.events["withdrawal"] > before,
        STEP_TIMEOUT_S,
    )  # fmt: skip
    deposited = sorted(
        net.chains[c].chain.chain_id
        for c, _, _, m in get_deposits(net.members, len(net.chains))
        if m is member
    )
    line = (
        f"{member.name} took {amount / 10**6:,.2f} USDC of profit out on chain {token[0]} "
        f"(deposited only on {deposited})"
    )
    net.profit_withdrawals.append(line)
    net.log(f"PROFIT: {line}")


async def finish(net: Devnet) -> None:
    """Let relayed withdrawals be paid, then check vaults against the ledger and reports."""
    try:
        if net.services.bridge:
            await wait_for(
                net,
                "every relayed withdrawal to be paid",
                lambda: not net.state.pending_withdrawals,
                STEP_TIMEOUT_S,
            )
        await wait_for(
            net,
            "the replay to reach every validator's height",
            lambda: net.state.height >= min(n.height for n in net.nodes),
            STEP_TIMEOUT_S,
        )
    except StepTimeout as exc:
        net.fail(str(exc))
    if net.services.bridge:
        await _await_house_flat(net)
        for dev in net.chains:
            broken = await trio.to_thread.run_sync(net.ledger.check_vaults, net.state, dev)
            if broken:
                net.fail(broken)
    else:
        net.not_exercised.append("vault balances vs ledger: nothing was credited")
    if net.services.reports:
        await _await_first_report(net)


def is_house_flat(state: ClearingState) -> bool:
    """No lots, no seized collateral, no auction left in the clearing house's account."""
    record = state.members.get(HOUSE[0])
    account = None if record is None else record.sub_accounts.get(HOUSE[1])
    if state.auctions:
        return False
    return account is None or not (get_quantities(account) or account.collateral)


async def _await_house_flat(net: Devnet) -> None:
    """The default auctions bound how long the house holds lots: by the end it is flat."""
    try:
        await wait_for(net, "the house account to be flat", lambda: is_house_flat(net.state),
                       STEP_TIMEOUT_S)  # fmt: skip
    except StepTimeout as exc:
        net.fail(str(exc))
        return
    net.log("house account flat at the end")
    net.house_flat = True


async def _await_first_report(net: Devnet) -> None:
    """At least one epoch's report must be published and verified; a later epoch whose
    report is still being built when the run ends is listed, not failed."""
    epoch_blocks = net.app.genesis.epoch_length_blocks
    if net.state.height < epoch_blocks:
        net.not_exercised.append(f"reports: the run ended before epoch 1 (height {epoch_blocks})")
        return
    if net.failures and not net.reports:
        net.not_exercised.append("reports: not awaited after the failures above")
        return
    try:
        await wait_for(
            net, "the first solvency report", lambda: bool(net.reports), REPORT_TIMEOUT_S
        )
    except StepTimeout as exc:
        net.fail(str(exc))
    verified = {r.epoch for r in net.reports}
    pending = [e for e in range(1, net.state.height // epoch_blocks + 1) if e not in verified]
    if pending:
        net.not_exercised.append(f"reports of epochs {pending}: not yet published at the end")
