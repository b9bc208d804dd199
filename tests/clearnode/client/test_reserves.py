"""The SDK's JSON-RPC reader (clearnode/client/jsonrpc.py, reserves.py) against a real
anvil chain: a vault's balances and what its `Withdrawn` logs paid, at the latest block
and at a past one, as web3's reads say; a chain that cannot be read is Unreadable saying
why; an RPC that lies or breaks raises its typed error; and `verify_report(rpc=...)`
says of the report vector's chain what `clearnode verify --rpc` says, line for line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.devchain import mine
from bridge.loopback import get_free_port
from bridge.payouts import WITHDRAWN_TOPIC_HEX
from bridge.vault import (
    NATIVE,
    deploy_test_token,
    deploy_vault,
    deposit_native,
    deposit_token,
    get_vault_balances,
    withdraw,
)
from bridge.withdrawal import WithdrawalAuthorization
from clearing.genesis import Genesis, parse_genesis
from clearnode.client import (
    JsonRpc,
    RpcBadAnswer,
    RpcHttpStatus,
    RpcRefused,
    RpcUnreachable,
    RpcWrongChain,
    pin_genesis,
    verify_report,
)
from clearnode.client.jsonrpc import get_topic
from clearnode.client.reserves import (
    NO_REPORT_TIME,
    WITHDRAWN,
    find_block_at,
    read_vault,
    read_vaults,
)
from node.chainspec import place_collateral, place_vaults
from proofs.reserves import Unreadable, VaultReading
from tests.bridge.conftest import make_set, make_validators, sign_all
from tests.bridge.faulty_rpc import FaultyRpc
from tests.node.reports.support import run_verify
from tests.vectors.make_reports import NOW_MS
from tests.vectors.reserves_chain import (
    CHAIN_ID,
    OTHER_CHAIN_ID,
    POOR,
    RICH,
    run_reserves_chain,
    write_genesis_with_vault,
    write_report_anchored_to,
)

ROOT = Path(__file__).resolve().parents[3]
MEMBER = bytes([7]) * 20
RECIPIENT = bytes([8]) * 20
LATER_MS = 4_000_000_000_000
"""A time after every block of the test: the vault is read at the chain's head."""

pytestmark = pytest.mark.chain


class Deployed:
    """A vault and a token on anvil, a genesis naming them, and what the chain was
    before anything was deposited."""

    def __init__(self, url: str) -> None:
        self.chain = connect(url, CHAIN_ID)
        self.dev = account_from_key(DEV_PRIVATE_KEY)
        self.validators = make_validators(4)
        self.vault = deploy_vault(self.chain, make_set(self.validators), self.dev)
        self.token = deploy_test_token(self.chain, self.dev)
        self.vault_address = bytes.fromhex(self.vault.address[2:])
        self.token_address = bytes.fromhex(self.token.address[2:])
        self.empty = self.head()

    def head(self) -> int:
        return int(self.chain.request("eth_blockNumber", []), 16)

    def genesis(self) -> Genesis:
        doc = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
        usdc = next(e for e in doc["collateral"] if e["symbol"] == "USDC")
        token = "0x" + self.token_address.hex()
        place_collateral(doc, [{**usdc, "chain_id": CHAIN_ID, "token": token}])
        place_vaults(doc, {CHAIN_ID: self.vault_address})
        return parse_genesis(doc)

    def pay(self, token: bytes, amount: int, nonce: int) -> None:
        """A withdrawal the vault's validators signed, paid to RECIPIENT."""
        expiry = int(self.chain.w3.eth.get_block("latest")["timestamp"]) + 3600
        auth = WithdrawalAuthorization(
            chain_id=CHAIN_ID, vault=self.vault_address, epoch=0, member=MEMBER, token=token,
            amount=amount, recipient=RECIPIENT, nonce=nonce, expiry=expiry,
        )  # fmt: skip
        withdraw(self.chain, auth, sign_all(auth.get_digest(), self.validators), self.dev)


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(chain_id=CHAIN_ID) as node:
        yield node


@pytest.fixture
def deployed(anvil: AnvilNode) -> Deployed:
    return Deployed(anvil.url)


def test_the_vault_s_balances_and_payouts_are_read_at_the_block_asked(
    deployed: Deployed,
) -> None:
    usdc, vault = deployed.token_address, deployed.vault_address
    deposit_token(deployed.chain, deployed.vault, deployed.token, 1_500, MEMBER, deployed.dev)
    deposit_native(deployed.chain, deployed.vault, 10**18, MEMBER, deployed.dev)
    deposited = deployed.head()
    deployed.pay(usdc, 600, nonce=1)
    deployed.pay(NATIVE, 10**17, nonce=2)
    paid = deployed.head()
    tokens = [usdc, NATIVE]
    with JsonRpc.connect(deployed.chain.url, CHAIN_ID) as rpc:
        before, after = (read_vault(rpc, vault, tokens, block) for block in (deposited, paid))
    assert (before.balances, before.withdrawn) == (
        {usdc: 1_500, NATIVE: 10**18},
        {usdc: 0, NATIVE: 0},
    )
    assert after.balances == {usdc: 900, NATIVE: 9 * 10**17}
    assert after.withdrawn == {usdc: 600, NATIVE: 10**17}
    assert after.balances == get_vault_balances(deployed.chain, vault, tokens, paid)  # web3's
    assert "0x" + get_topic(WITHDRAWN).hex() == WITHDRAWN_TOPIC_HEX  # bridge's, the watcher's
    genesis = deployed.genesis()
    (latest,) = read_vaults(genesis, {CHAIN_ID: deployed.chain.url}, {}, LATER_MS).values()
    assert latest == VaultReading(CHAIN_ID, vault, paid, {usdc: 900}, {usdc: 600})
    asked = {CHAIN_ID: deployed.empty}
    (then,) = read_vaults(genesis, {CHAIN_ID: deployed.chain.url}, asked, LATER_MS).values()
    assert then == VaultReading(CHAIN_ID, vault, deployed.empty, {usdc: 0}, {usdc: 0})


def test_a_chain_that_cannot_be_read_says_why(deployed: Deployed) -> None:
    url, nobody = deployed.chain.url, f"http://127.0.0.1:{get_free_port()}"
    (down,) = read_vaults(deployed.genesis(), {CHAIN_ID: nobody}, {}, LATER_MS).values()
    assert isinstance(down, Unreadable)
    assert down.reason.startswith(f"{nobody}: ConnectionError: eth_chainId: ConnectError")
    (other,) = read_vaults(deployed.genesis(), {OTHER_CHAIN_ID: url}, {}, LATER_MS).values()
    assert other == Unreadable(OTHER_CHAIN_ID, "genesis names no vault on this chain")
    # a report without an anchor has no time to read the chain at: only a block given
    (untimed,) = read_vaults(deployed.genesis(), {CHAIN_ID: url}, {}, None).values()
    assert untimed == Unreadable(CHAIN_ID, NO_REPORT_TIME)
    (given,) = read_vaults(deployed.genesis(), {CHAIN_ID: url}, {CHAIN_ID: 1}, None).values()
    assert isinstance(given, VaultReading) and given.block == 1
    with FaultyRpc(url) as other_chain:  # a node of another chain at the URL given
        other_chain.lies = {"eth_chainId": lambda _: hex(OTHER_CHAIN_ID)}
        (wrong,) = read_vaults(
            deployed.genesis(), {CHAIN_ID: other_chain.url}, {}, LATER_MS
        ).values()
        with pytest.raises(RpcWrongChain) as raised:
            JsonRpc.connect(other_chain.url, CHAIN_ID)
    mismatch = f"{other_chain.url} serves chain id {OTHER_CHAIN_ID}, configured {CHAIN_ID}"
    assert wrong == Unreadable(CHAIN_ID, f"{other_chain.url}: ChainIdMismatch: {mismatch}")
    assert (raised.value.expected, raised.value.actual) == (CHAIN_ID, OTHER_CHAIN_ID)


def test_by_default_the_vault_is_read_at_the_reports_time(deployed: Deployed) -> None:
    evm = deployed.chain
    mine(evm, 3)
    head = deployed.head()
    with JsonRpc.connect(evm.url, CHAIN_ID) as rpc:
        last = rpc.block_time_ms(head)
        evm.request("evm_increaseTime", [60])
        mine(evm)
        later = rpc.block_time_ms(head + 1)
        assert later >= last + 60_000
        assert find_block_at(rpc, last) == head and find_block_at(rpc, later - 1) == head
        assert find_block_at(rpc, later) == head + 1 and find_block_at(rpc, 0) == 0


def _with(log: dict[str, Any], **changed: Any) -> list[dict[str, Any]]:
    return [{**log, **changed}]


def test_an_rpc_that_lies_or_breaks_raises_its_typed_error(deployed: Deployed) -> None:
    vault, usdc = deployed.vault_address, deployed.token_address
    deposit_token(deployed.chain, deployed.vault, deployed.token, 100, MEMBER, deployed.dev)
    deployed.pay(usdc, 40, nonce=1)
    head, topic = deployed.head(), get_topic(WITHDRAWN)
    with FaultyRpc(deployed.chain.url) as proxy, JsonRpc.connect(proxy.url, CHAIN_ID) as rpc:
        flt = {"address": "0x" + vault.hex(), "topics": ["0x" + topic.hex()],
               "fromBlock": "0x0", "toBlock": hex(head)}  # fmt: skip
        (log,) = rpc.request("eth_getLogs", [flt])
        lies: list[tuple[str, Any, str]] = [
            (
                "eth_getBlockByNumber",
                lambda b: {**b, "number": hex(int(b["number"], 16) + 1)},
                "asked for block",
            ),
            ("eth_getBalance", lambda _: "0xzz", "is not a hex number"),
            ("eth_call", lambda r: r[:-2], "balanceOf returned 31 bytes, not 32"),
            ("eth_getLogs", lambda _: _with(log, address="0x" + "11" * 20), "than asked for"),
            ("eth_getLogs", lambda _: _with(log, removed=True), "a removed log"),
            ("eth_getLogs", lambda _: _with(log, blockNumber=hex(head + 5)), "outside 0.."),
            ("eth_getLogs", lambda _: _with(log, data="0x01"), "does not decode"),
            ("eth_getLogs", lambda _: {"logs": []}, "the answer is not a list"),
        ]
        for method, lie, words in lies:
            proxy.lies = {method: lie}
            with pytest.raises(RpcBadAnswer, match=words) as raised:
                find_block_at(rpc, LATER_MS)
                read_vault(rpc, vault, [usdc, NATIVE], head)
            assert (raised.value.kind, raised.value.method, raised.value.url) == (
                "BadAnswer", method, proxy.url,
            )  # fmt: skip
        proxy.lies = {}
        assert read_vault(rpc, vault, [usdc], head).withdrawn == {usdc: 40}  # the truth again
        proxy.max_log_range = 1
        with pytest.raises(RpcRefused) as refused:
            read_vault(rpc, vault, [usdc], head)
        assert (refused.value.kind, refused.value.code) == ("RpcError", -32000)
        proxy.rate_limited_requests = 1
        with pytest.raises(RpcHttpStatus) as status:
            rpc.block_number()
        assert (status.value.kind, status.value.status) == ("HTTPError", 429)
        proxy.lies = {"eth_getLogs": lambda _: _with(log, removed=True)}
        proxy.max_log_range = None
        (lied,) = read_vaults(deployed.genesis(), {CHAIN_ID: proxy.url}, {}, LATER_MS).values()
        assert lied == Unreadable(CHAIN_ID, f"{proxy.url}: BadAnswer: eth_getLogs: a removed log "
                                  "(a reorganised block)")  # fmt: skip
        proxy.released.clear()  # every request hangs: no answer within the timeout
        with (
            JsonRpc(proxy.url, CHAIN_ID, timeout_s=0.2) as impatient,
            pytest.raises(RpcUnreachable, match="ReadTimeout") as hung,
        ):
            impatient.block_number()
        assert hung.value.kind == "ConnectionError"


@pytest.fixture(scope="module")
def report_chain() -> Iterator[AnvilNode]:
    with run_reserves_chain() as node:
        yield node


def test_the_sdk_reads_the_reserves_as_clearnode_verify_rpc_does(
    report_chain: AnvilNode, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{get_free_port()}"
    cases = [
        (RICH, {CHAIN_ID: report_chain.url}, "VALID ONLY AS FAR AS CHECKED"),
        (POOR, {CHAIN_ID: report_chain.url, OTHER_CHAIN_ID: report_chain.url}, "INVALID"),
        (RICH, {CHAIN_ID: nobody}, "NOT CHECKED"),
    ]
    for vault, rpc, verdict in cases:
        path = write_genesis_with_vault(tmp_path, vault)
        data = path.read_bytes()
        given = pin_genesis(data, hashlib.sha256(data).digest())
        report = write_report_anchored_to(path)
        view = {"report": report.read_bytes().hex()}
        check = verify_report(view, given, rpc=rpc, now_ms=NOW_MS, skip="anchor")
        argv = [str(report), "--genesis", str(path), "--now", str(NOW_MS), "--skip", "anchor"]
        code, printed = run_verify(
            [*argv, *(a for c, u in rpc.items() for a in ("--rpc", f"{c}={u}"))]
        )
        assert (check.verdict, check.exit_code, str(check) + "\n") == (verdict, code, printed)
        assert any("vault" in line for line in check.passed + check.failures + check.could_not)
