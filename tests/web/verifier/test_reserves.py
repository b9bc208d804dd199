"""The browser verifier reads the vaults on a real anvil chain and says what `clearnode
verify --genesis G --rpc CHAIN=URL` says, line for line: a vault holding enough passes,
one holding less fails with the same numbers, a chain serving another id could not be
read. The page is served with the node's Content-Security-Policy, so these reads also
show that it lets the page reach an RPC URL the visitor typed. The chain is the valid
vector's around its time (tests/vectors/reserves_chain.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.anvil import AnvilNode
from bridge.loopback import get_free_port
from node.commands import main as clearnode_main
from tests.vectors.make_reports import NOW_MS
from tests.vectors.reserves_chain import (
    CHAIN_ID,
    EXTRA,
    OTHER_CHAIN_ID,
    POOR,
    RICH,
    SHORT,
    SKIPPED,
    run_reserves_chain,
    write_genesis_with_vault,
    write_report_anchored_to,
)
from tests.web.verifier.cdp import open_browser

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_reserves_chain() as node:
        yield node


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
        f"{json.dumps(rpc)}, {{nowMs: {NOW_MS}, skip: ['anchor']}})"
    )


def _cli(
    capsys: pytest.CaptureFixture[str], report: Path, genesis: Path, rpc: list[str]
) -> list[str]:
    argv = ["verify", str(report), "--genesis", str(genesis), "--now", str(NOW_MS)]
    argv += ["--skip", "anchor"]
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
    rich, poor = write_genesis_with_vault(tmp_path, RICH), write_genesis_with_vault(tmp_path, POOR)
    nobody = f"http://127.0.0.1:{get_free_port()}"  # nothing listens there
    cases = [
        (rich, [f"{CHAIN_ID}={anvil.url}"]),
        (poor, [f"{CHAIN_ID}={anvil.url}", f"{OTHER_CHAIN_ID}={anvil.url}"]),
        (rich, [f"{CHAIN_ID}={nobody}"]),
    ]
    reports = {g: write_report_anchored_to(g) for g in (rich, poor)}
    report = reports[rich].read_bytes().hex()
    with open_browser() as browser:
        tab = browser.open_page(f"{node_url}/verify")
        shown: list[list[str]] = []
        for genesis, rpc in cases:
            anchored = reports[genesis].read_bytes().hex()
            expression = _verify_call(anchored, genesis.read_text(), "\n".join(rpc))
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
    printed = [_cli(capsys, reports[genesis], genesis, rpc) for genesis, rpc in cases]
    assert shown[:2] == printed[:2]
    enough, short, unreachable = printed
    # an RPC that does not answer: a "could not" line, its cause in each runtime's words
    cause = f"  could not  reserves on chain {CHAIN_ID}: {nobody}: ConnectionError: "
    for lines in (shown[2], unreachable):
        assert lines[0] == "VERDICT: NOT CHECKED (1 check(s) asked for could not be made)"
        assert lines[1] == enough[1] and lines[2].startswith(cause)
        assert lines[3:] == printed[0][4:]
    rich_at = f"chain {CHAIN_ID} vault 0x{RICH.hex()} at block 1 holds "
    assert enough[0] == f"VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: {SKIPPED}"
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
