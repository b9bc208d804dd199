"""The browser verifier reads the vaults on a real anvil chain and says what `clearnode
verify --genesis G --rpc CHAIN=URL` says, line for line: a vault holding enough passes,
one holding less fails with the same numbers, a chain serving another id could not be
read. The page is served with the node's Content-Security-Policy, so these reads also
show that it lets the page reach an RPC URL the visitor typed.

The genesis's collateral tokens sit at made-up addresses (the committed report's labels
name them), so anvil is given there a minimal token whose `balanceOf(a)` is storage slot
`a`: the balances are then set per vault, at a block before the report's time and
changed in a block after it (the verifiers must read the vault as it was at the report)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.anvil import AnvilNode
from bridge.chain import Chain, connect
from bridge.loopback import get_free_port
from clearing.genesis import parse_genesis
from clearing.published_ledger import PublishedLedger
from node.cli import main as clearnode_main
from proofs.report import decode_report
from tests.vectors.make_reports import NOW_MS, REPORTS
from tests.web.verifier.cdp import open_browser

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CHAIN_ID = 31337
OTHER_CHAIN_ID = 31338
RICH = bytes.fromhex("5a" * 20)  # holds a little more than the ledger says the vault holds
POOR = bytes.fromhex("5b" * 20)  # holds less of the first token
EXTRA, SHORT = 5, 7
# PUSH1 4 CALLDATALOAD SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns slot[argument]
BALANCE_OF_SLOT_CODE = "0x600435546000526020" + "6000f3"
REPORT = REPORTS / "valid" / "report.bin"


def _slot(holder: bytes) -> str:
    return "0x" + (bytes(12) + holder).hex()


def _set_balance(chain: Chain, token: bytes, holder: bytes, amount: int) -> None:
    chain.request("anvil_setStorageAt", ["0x" + token.hex(), _slot(holder), f"0x{amount:064x}"])


def _mine_at(chain: Chain, time_s: int) -> None:
    chain.request("evm_mine", [time_s])


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    """Chain 31337 as it was around the report: at the report's time RICH holds the
    collateral plus EXTRA, POOR SHORT less of the first token; after it, both hold nothing."""
    report = decode_report(REPORT.read_bytes())
    report_s = report.market.time_ms // 1000
    genesis = parse_genesis(json.loads((REPORTS / "genesis.json").read_text()))
    quantum = {(t.chain_id, t.token): t.quantum for t in genesis.collateral}
    owed = {
        r.token: r.get_held() * quantum[r.key]
        for r in PublishedLedger.decode(report.market_proof.ledger).reserves
        if r.chain_id == CHAIN_ID
    }
    with AnvilNode(CHAIN_ID, extra_args=("--timestamp", str(report_s - 1000))) as node:
        chain = connect(node.url, CHAIN_ID)
        for n, (token, amount) in enumerate(sorted(owed.items())):
            chain.request("anvil_setCode", ["0x" + token.hex(), BALANCE_OF_SLOT_CODE])
            _set_balance(chain, token, RICH, amount + EXTRA)
            _set_balance(chain, token, POOR, amount - SHORT if n == 0 else amount)
        _mine_at(chain, report_s - 10)
        # anvil's setStorageAt changes the latest block's state: block 1 is kept as it
        # was by mining block 2 (after the report) first, whose state is then emptied
        _mine_at(chain, report_s + 100)
        for token in owed:
            _set_balance(chain, token, RICH, 0)
            _set_balance(chain, token, POOR, 0)
        yield node


def _genesis_with_vault(tmp_path: Path, vault: bytes) -> Path:
    """The vectors' genesis with `vault` on chain 31337 and another on 31338."""
    doc = json.loads((REPORTS / "genesis.json").read_text())
    doc["vaults"] = [
        {"chain_id": CHAIN_ID, "address": "0x" + vault.hex()},
        {"chain_id": OTHER_CHAIN_ID, "address": "0x" + "77" * 20},
    ]
    path = tmp_path / f"genesis-{vault.hex()[:4]}.json"
    path.write_text(json.dumps(doc))
    return path


def _reserves(text: str) -> list[str]:
    """The verdict, the reserves section, and the could-not and not-asked lines of reserves."""
    lines = text.splitlines()
    start = lines.index("reserves") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("  "))
    rest = [line for line in lines[end:] if "reserves" in line or "vault" in line]
    return [lines[0], *lines[start:end], *rest]


def _verify_call(report: str, genesis: str | None, rpc: str) -> str:
    """The page's verify of `report` (hex) with a genesis, no openings, and RPC lines."""
    given = "undefined" if genesis is None else json.dumps(genesis)
    return (
        f"window.clearnodeVerifier.verify({json.dumps(report)}, {given}, '', undefined, "
        f"{json.dumps(rpc)}, {{nowMs: {NOW_MS}}})"
    )


def _cli(capsys: pytest.CaptureFixture[str], genesis: Path, rpc: list[str]) -> list[str]:
    argv = ["verify", str(REPORT), "--genesis", str(genesis), "--now", str(NOW_MS)]
    for option in rpc:
        argv += ["--rpc", option]
    clearnode_main(argv)
    return _reserves(capsys.readouterr().out)


def test_the_page_reads_the_vaults_as_the_cli_does(
    node_url: str,
    anvil: AnvilNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rich, poor = _genesis_with_vault(tmp_path, RICH), _genesis_with_vault(tmp_path, POOR)
    nobody = f"http://127.0.0.1:{get_free_port()}"  # nothing listens there
    cases = [
        (rich, [f"{CHAIN_ID}={anvil.url}"]),
        (poor, [f"{CHAIN_ID}={anvil.url}", f"{OTHER_CHAIN_ID}={anvil.url}"]),
        (rich, [f"{CHAIN_ID}={nobody}"]),
    ]
    report = REPORT.read_bytes().hex()
    with open_browser() as browser:
        tab = browser.open_page(f"{node_url}/verify")
        shown: list[list[str]] = []
        for genesis, rpc in cases:
            expression = _verify_call(report, genesis.read_text(), "\n".join(rpc))
            result: dict[str, Any] = browser.evaluate(tab, expression)
            assert result["outcome"] != "ERROR", result
            text = browser.evaluate(tab, "document.getElementById('as-text').textContent")
            shown.append(_reserves(text))
        # RPCs the page cannot use: no verdict, as the CLI's usage errors
        for genesis_text, rpc_text, refusal in [
            (rich.read_text(), "31337", 'chain RPC "31337": expected CHAIN_ID=URL'),
            (None, f"{CHAIN_ID}={anvil.url}", "the full check needs the chain's genesis"),
        ]:
            refused = browser.evaluate(tab, _verify_call(report, genesis_text, rpc_text))
            assert refused["outcome"] == "ERROR" and refused["headline"].startswith(refusal)
    printed = [_cli(capsys, genesis, rpc) for genesis, rpc in cases]
    assert shown[:2] == printed[:2]
    enough, short, unreachable = printed
    # an RPC that does not answer: a "could not" line, its cause in each runtime's words
    cause = f"  could not  reserves on chain {CHAIN_ID}: {nobody}: ConnectionError: "
    for lines in (shown[2], unreachable):
        assert lines[0] == "VERDICT: NOT CHECKED (1 check(s) asked for could not be made)"
        assert lines[1] == enough[1] and lines[2].startswith(cause)
        assert lines[3:] == printed[0][4:]
    rich_at = f"chain {CHAIN_ID} vault 0x{RICH.hex()} at block 1 holds "
    assert enough[0] == "VERDICT: VALID"
    assert enough[1].startswith("  ok    the report's collateral totals are the ledger's")
    assert all(line.startswith(f"  ok    {rich_at}") for line in enough[2:4])
    assert f"; the {EXTRA} more is deposits not yet credited" in enough[2]
    not_read = f"reserves on chain {OTHER_CHAIN_ID}: not read (give --rpc {OTHER_CHAIN_ID}=URL)"
    assert enough[4:] == [f"  not asked  {not_read}"]
    poor_at = f"chain {CHAIN_ID} vault 0x{POOR.hex()} at block 1 holds "
    assert short[0] == "VERDICT: INVALID (1 failure)"
    failures = [line for line in short if line.startswith("  FAIL  ")]
    assert len(failures) == 1 and failures[0].startswith(f"  FAIL  {poor_at}")
    assert failures[0].endswith(f"short by {SHORT}")
    mismatch = f"{anvil.url} serves chain id {CHAIN_ID}, configured {OTHER_CHAIN_ID}"
    assert (
        f"  could not  reserves on chain {OTHER_CHAIN_ID}: {anvil.url}: ChainIdMismatch: {mismatch}"
        in short
    )
