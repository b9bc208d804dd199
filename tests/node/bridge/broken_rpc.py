"""A validator cut off from a chain's RPC while deposits and a withdrawal go on, back
after the chain reorganised 3 blocks (test_broken_rpc_network.py; `python -m bench
broken_rpc` holds the cut for minutes).

4 in-process validators of equal power watch one anvil chain (quorum: 3); v3 reaches it
through a proxy that stops answering, as a blackholed link does (each request hangs).
While v3 is cut off: a deposit is credited and a withdrawal signed, paid and cleared by
the other three; two deposits are mined and the chain reorganises its last 3 blocks,
dropping one of them and mining the other again in another block. The watchers wait
4 confirmations, deeper than the reorg, as a chain's finality rule promises. Then v3's
link comes back: its watcher reads the same chain from where it stood, and nothing it
attests is credited again.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from eth_utils.address import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.devchain import DevnetChain, mine
from bridge.vault import deposit_token
from bridge.watcher import scan_pending
from clearing.collateral import CollateralCredit
from clearing.genesis import parse_genesis
from clearing.transition.withdrawal import WithdrawalPaid
from node import commands as cli
from node.bridge.chains import RPC_TIMEOUT_S
from node.keys import BRIDGE_KEY, KeyFile, save_key
from tests.bridge.faulty_rpc import FaultyRpc
from tests.node.bridge.network import find_all_committed, get_bridge_config
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, CONSENSUS_KEYS, get_genesis_doc
from tests.node.bridge.test_bridge_network import ALICE, DEPOSIT, WITHDRAW, sign_withdrawal
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome
from tests.node.nodenet import NodeNetwork, open_node_network
from tests.node.restarts import SCORED

REORG_DEPTH = 3
CONFIRMATIONS = REORG_DEPTH + 1
"""The watchers' confirmation depth: deeper than the reorg, or a credited deposit could
be orphaned (what a chain's finality rule excludes, and this bridge relies on)."""
CUT = 3
"""The validator cut off."""
WAIT_S = 60


@dataclass
class BrokenRpcRun:
    cut_s: float = 0.0
    """How long the validator's link to the chain was down."""
    heights_while_cut: int = 0
    cut_off_status: dict[str, Any] = field(default_factory=dict)
    """The cut-off validator's watcher (GET /v1/bridge) just before the link came back."""
    reading_status: dict[str, Any] = field(default_factory=dict)
    """Another validator's watcher at the same moment."""
    caught_up_s: float = 0.0
    """From the link's return to the watcher reading past the chain's final block."""
    on_chain: list[tuple[bytes, int, int]] = field(default_factory=list)
    """(tx hash, deposit nonce, quanta) of the canonical chain's final deposits."""
    dropped: bytes = b""
    """The hash of the deposit the reorg dropped."""
    credited: dict[str, list[tuple[bytes, int, int]]] = field(default_factory=dict)
    """The same of each validator's committed credits."""
    cut_off_signed_credit: bool = False
    """Whether the credit committed while cut off carries the cut-off validator's signature."""
    payouts: dict[str, int] = field(default_factory=dict)
    """Each validator's committed WithdrawalPaid count."""
    roots: dict[str, bytes] = field(default_factory=dict)
    offences: list[str] = field(default_factory=list)
    """Log lines charging a peer an offence."""

    def get_figures(self) -> dict[str, Any]:
        return {
            "cut_s": round(self.cut_s, 1),
            "heights_while_cut": self.heights_while_cut,
            "errors_while_cut": self.cut_off_status.get("errors"),
            "answered_s_ago_at_heal": self.cut_off_status.get("answered_s_ago"),
            "caught_up_s": round(self.caught_up_s, 1),
            "deposits_on_chain": len(self.on_chain),
            "credits": {name: len(c) for name, c in self.credited.items()},
            "payouts": self.payouts,
            "offences": len(self.offences),
        }


def check_broken_rpc(run: BrokenRpcRun) -> None:
    """Nothing credited twice or lost, the quorum formed without the cut-off validator,
    its state showed, nobody punished."""
    assert run.heights_while_cut > 0, "consensus stopped while one validator was cut off"
    assert not run.cut_off_signed_credit
    assert "timed out" in run.cut_off_status["last_error"], run.cut_off_status
    assert run.cut_off_status["answered_s_ago"] >= RPC_TIMEOUT_S, run.cut_off_status
    assert run.reading_status["answered_s_ago"] < RPC_TIMEOUT_S / 2, run.reading_status
    assert run.dropped not in {tx_hash for tx_hash, _, _ in run.on_chain}
    assert [quanta for *_, quanta in sorted(run.on_chain, key=lambda d: d[1])] == [
        DEPOSIT, DEPOSIT + 1, DEPOSIT + 3
    ]  # fmt: skip  # the one mined again took the dropped one's deposit nonce
    for name, credited in run.credited.items():
        assert credited == run.on_chain, name
    assert set(run.payouts.values()) == {1}, run.payouts
    assert len(set(run.roots.values())) == 1, run.roots
    assert run.offences == []


async def run_broken_rpc(
    base: Path, evm: Chain, deployed: DevnetChain, hold_s: float = 0.0
) -> BrokenRpcRun:
    """The scenario; the link stays down at least `hold_s` (and until the cut-off
    watcher's requests have timed out)."""
    run = BrokenRpcRun()
    offences = OffenceLines()
    doc = get_genesis_doc(deployed.tokens)
    with offences.collecting(), FaultyRpc(deployed.url) as link:

        def get_config(home: NodeHome) -> str:
            url = link.url if home.name == f"v{CUT}" else deployed.url
            return get_bridge_config(deployed, url, CONFIRMATIONS) + SHORT_TIMEOUTS

        async with open_node_network(
            base, extra_config=get_config, genesis=doc, start=False
        ) as net:
            for home, secret in zip(net.homes, BRIDGE_KEYS, strict=True):
                save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
                await net.start(home)
            cut_off, reading = net.homes[CUT], net.homes[0]
            await deposit_final(evm, deployed, DEPOSIT)
            await wait_credits(net, 1)

            link.released.clear()
            cut_at = time.monotonic()
            height_at_cut = net.get_height(cut_off)
            await deposit_final(evm, deployed, DEPOSIT + 1)
            _, during = (await wait_credits(net, 2))[1]
            pubkey = CONSENSUS_KEYS[CUT].public_key().public_bytes_raw()
            run.cut_off_signed_credit = pubkey in {a.signer for a in during.attestations}
            await withdraw_and_relay(net, evm, deployed, base)
            run.dropped = await reorganise(net, evm, deployed)
            await trio.to_thread.run_sync(mine, evm, CONFIRMATIONS + 1)
            await wait_credits(net, 3)
            await wait_read(net, cut_off, lambda chain: "timed out" in chain["last_error"])
            await trio.sleep(max(0.0, cut_at + hold_s - time.monotonic()))
            run.heights_while_cut = net.get_height(cut_off) - height_at_cut
            run.cut_off_status = await get_chain_status(net, cut_off)
            run.reading_status = await get_chain_status(net, reading)

            link.released.set()
            healed_at = time.monotonic()
            run.cut_s = healed_at - cut_at
            head = await trio.to_thread.run_sync(evm.get_block_number)
            await wait_read(net, cut_off, lambda chain: chain["next_block"] > head - CONFIRMATIONS)
            run.caught_up_s = time.monotonic() - healed_at
            settled = max(net.get_height(h) for h in net.homes) + 3
            await net.wait_for_height(settled)

            canonical = await trio.to_thread.run_sync(
                scan_pending, evm, deployed.vault, 0, head - CONFIRMATIONS
            )
            run.on_chain = sorted((d.tx_hash, d.deposit_nonce, d.amount) for d in canonical)
            for home in net.homes:
                credits = [tx.observation for _, tx in find_all_committed(home, CollateralCredit)]
                run.credited[home.name] = sorted(
                    (o.tx_hash, o.deposit_nonce, o.quanta) for o in credits
                )
                run.payouts[home.name] = len(find_all_committed(home, WithdrawalPaid))
                run.roots[home.name] = home.get_roots()[settled]
    run.offences = offences.lines
    return run


class OffenceLines(logging.Handler):
    """The nodes' log lines that charge a peer an offence or ban it (`SCORED`)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if SCORED.search(record.getMessage()):
            self.lines.append(record.getMessage())

    @contextmanager
    def collecting(self) -> Iterator[None]:
        logger = logging.getLogger("node.p2p.door")
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)


async def deposit_final(evm: Chain, deployed: DevnetChain, quanta: int) -> None:
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    sender = account_from_key(DEV_PRIVATE_KEY)
    await trio.to_thread.run_sync(deposit_token, evm, vault, token, quanta, ALICE.address, sender)
    await trio.to_thread.run_sync(mine, evm, CONFIRMATIONS + 1)


async def wait_credits(net: NodeNetwork, count: int) -> list[tuple[int, Any]]:
    """The first node's credits, once every node has committed `count`."""
    with trio.move_on_after(WAIT_S):
        while any(len(find_all_committed(h, CollateralCredit)) < count for h in net.homes):
            await trio.sleep(0.2)
        return find_all_committed(net.homes[0], CollateralCredit)
    statuses = [await net.get_json(home, "/v1/bridge") for home in net.homes]
    raise AssertionError(f"{count} credits not committed everywhere; bridge status {statuses}")


async def withdraw_and_relay(
    net: NodeNetwork, evm: Chain, deployed: DevnetChain, base: Path
) -> None:
    """Alice's withdrawal is signed by a quorum, paid on chain by `clearnode relay`, and
    its payout cleared by the validators that still read the chain."""
    chain_id = parse_genesis(get_genesis_doc(deployed.tokens)).chain_id
    url = f"http://127.0.0.1:{net.homes[0].api_port}/v1/member-requests"
    signed = sign_withdrawal(chain_id, deployed.tokens["USDC"], 1)
    response = await net.client.post(url, json=signed)
    assert response.status_code == 202, response.text
    path = f"/v1/withdrawals/0x{ALICE.address.hex()}/1"
    with trio.move_on_after(WAIT_S):
        while not (await net.get_json(net.homes[1], path)).get("complete"):
            await trio.sleep(0.2)
    key_file = base / "relayer_key.json"
    save_key(key_file, KeyFile(BRIDGE_KEY, bytes.fromhex(DEV_PRIVATE_KEY[2:])))
    argv = ["relay", "--api", f"http://127.0.0.1:{net.homes[1].api_port}",
            "--rpc-url", deployed.url, "--chain-id", str(CHAIN_ID),
            "--key-file", str(key_file), "--once"]  # fmt: skip
    said = io.StringIO()
    with contextlib.redirect_stdout(said):  # the bench's stdout is its figures alone
        assert await trio.to_thread.run_sync(cli.main, argv) == 0
    assert json.loads(said.getvalue())["result"] == "paid", said.getvalue()
    await trio.to_thread.run_sync(mine, evm, CONFIRMATIONS + 1)
    with trio.move_on_after(WAIT_S):
        while any(not find_all_committed(h, WithdrawalPaid) for h in net.homes):
            await trio.sleep(0.2)
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == WITHDRAW


async def reorganise(net: NodeNetwork, evm: Chain, deployed: DevnetChain) -> bytes:
    """Two deposits in the chain's last blocks, seen by the watchers that read it, then a
    reorg of 3 blocks: the first is dropped, the second mined again one block earlier.
    Returns the dropped one's hash."""
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    sender = account_from_key(DEV_PRIVATE_KEY)
    both = 2 * DEPOSIT + 5

    def deposit(quanta: int) -> dict[str, Any]:
        member = to_checksum_address(ALICE.address)
        return evm.transact(vault.functions.depositToken(token.address, quanta, member, 0), sender)

    def deposit_twice() -> tuple[dict[str, Any], dict[str, Any]]:
        evm.transact(token.functions.mint(sender.address, both), sender)
        evm.transact(token.functions.approve(vault.address, both), sender)
        mine(evm, 1)  # the two deposits are the last 3 blocks' only transactions
        first, second = deposit(DEPOSIT + 2), deposit(DEPOSIT + 3)
        mine(evm, 1)
        return first, second

    first, second = await trio.to_thread.run_sync(deposit_twice)
    head = await trio.to_thread.run_sync(evm.get_block_number)
    for home in net.homes:  # each reading watcher has seen the head: the deposits are
        if home.name != f"v{CUT}":  # pending there (or final, were it too shallow)
            await wait_read(net, home, lambda chain: chain["final_block"] >= head - CONFIRMATIONS)
    hash_hex = "0x" + bytes(second["transactionHash"]).hex()
    again = await trio.to_thread.run_sync(evm.request, "eth_getTransactionByHash", [hash_hex])
    request = {k: again[k] for k in ("from", "to", "input", "gas", "value")}
    await trio.to_thread.run_sync(evm.request, "anvil_reorg", [REORG_DEPTH, [[request, 0]]])
    return bytes(first["transactionHash"])


async def get_chain_status(net: NodeNetwork, home: NodeHome) -> dict[str, Any]:
    return dict((await net.get_json(home, "/v1/bridge"))["chains"]["anvil"])


async def wait_read(
    net: NodeNetwork, home: NodeHome, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """`home`'s watcher status once `done` holds of it."""
    with trio.move_on_after(WAIT_S):
        while not done(chain := await get_chain_status(net, home)):
            await trio.sleep(0.1)
        return chain
    raise AssertionError(f"{home.name}'s watcher stays at {chain}")
