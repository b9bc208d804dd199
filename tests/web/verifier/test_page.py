"""The browser verifier agrees with `clearnode verify` on every committed vector.

One headless Chromium loads the built page from a loopback server that answers as a
node does (node/verifier/service.py: the page with its Content-Security-Policy, and
`/v1/reports/latest`), then verifies every vector in that tab through the page's own
path and compares the verdict and the failing checks with `expected.json`. The server
records every request: the page needs nothing but itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from node.verifier.service import PAGE
from tests.vectors.make_reports import OPENINGS, REPORTS, TAMPERS, VARIANTS
from tests.web.verifier.cdp import Browser, open_browser
from tests.web.verifier.conftest import Node

# Given the genesis, the page checks what `clearnode verify --genesis GENESIS` checks.
MODE = "genesis"
NOT_MSGPACK = "report is not msgpack"


def _comparable(lines: list[str]) -> list[str]:
    """The lines, the msgpack library's own words cut off (they differ by library)."""
    return [NOT_MSGPACK if line.startswith(NOT_MSGPACK + ":") else line for line in lines]


def _verify(browser: Browser, tab: str, report: bytes, *texts: str) -> dict[str, Any]:
    """The page's result for `report` and its other inputs (genesis, member, openings)."""
    args = ", ".join(json.dumps(x) for x in (report.hex(), *texts))
    result: dict[str, Any] = browser.evaluate(tab, f"window.clearnodeVerifier.verify({args})")
    shown = browser.evaluate(tab, "document.getElementById('verdict').textContent")
    assert shown == result["headline"]  # what the page shows is what it returned
    text = browser.evaluate(tab, "document.getElementById('as-text').textContent")
    if result["outcome"] == "ERROR":  # no verdict, nothing checked
        assert text == ""
    else:
        assert all(f"  FAIL  {line}" in text for line in _failures(result))
    return result


def _printed(browser: Browser, tab: str) -> list[str]:
    """The page's result as text, up to what was not checked."""
    lines: list[str] = browser.evaluate(tab, "document.getElementById('as-text').textContent")
    printed = str(lines).splitlines()
    return printed[: printed.index("not checked")] if "not checked" in printed else printed


def _section_lines(result: dict[str, Any], title: str) -> list[str]:
    """One section's lines as the CLI prints them."""
    (verdict,) = [s["verdict"] for s in result["sections"] if s["title"].startswith(title)]
    return [f"ok    {x}" for x in verdict["passed"]] + [f"FAIL  {x}" for x in verdict["failures"]]


def _failures(result: dict[str, Any]) -> list[str]:
    return [line for s in result["sections"] for line in s["verdict"]["failures"]]


@pytest.mark.slow
def test_the_page_agrees_with_the_cli_on_every_vector(node_url: str) -> None:
    genesis = (REPORTS / "genesis.json").read_text()
    with open_browser() as browser:
        tab = browser.open_page(f"{node_url}/verify")
        assert browser.evaluate(tab, "typeof window.clearnodeVerifier") == "object"
        for name in ["valid", *TAMPERS, *VARIANTS, *OPENINGS]:
            folder = REPORTS / name
            vector = json.loads((folder / "expected.json").read_text())
            expected = vector["modes"][MODE]
            texts = [genesis]
            if "member" in vector:
                member = vector["member"]
                texts += [member["address"], (folder / member["openings"]).read_text()]
            result = _verify(browser, tab, (folder / "report.bin").read_bytes(), *texts)
            assert result["outcome"] == expected["verdict"], (name, result)
            assert _comparable(_failures(result)) == _comparable(expected["failures"]), name
            if "member" in vector:
                assert _section_lines(result, "member ") == expected["member"], name
            if "output" in expected:  # every check as the CLI prints it, up to "not checked"
                assert _printed(browser, tab) == expected["output"], name
        # without a genesis: valid as far as checked, and it says what it did not check
        bare = _verify(browser, tab, (REPORTS / "valid" / "report.bin").read_bytes())
        assert bare["headline"] == "VERDICT: VALID as far as checked"
        not_checked = [line for s in bare["sections"] for line in s["verdict"]["notChecked"]]
        assert "signatures not checked: no validator set given" in not_checked
        # a genesis the statement cannot be computed from: no verdict (the CLI's usage error)
        wrong = json.dumps({**json.loads(genesis), "version": 99})
        refused = _verify(browser, tab, (REPORTS / "valid" / "report.bin").read_bytes(), wrong)
        assert refused["outcome"] == "ERROR"
        assert refused["headline"].startswith("genesis: not a valid genesis: GenesisError(key=")
        # the node's latest report, fetched from the page's own origin
        browser.evaluate(tab, "document.getElementById('verdict').textContent = ''")
        browser.evaluate(tab, "document.getElementById('load-latest').click()")
        shown = browser.evaluate(
            tab,
            """new Promise(resolve => {
            const verdict = document.getElementById('verdict');
            const done = () => verdict.dataset.outcome && verdict.textContent;
            if (done()) return resolve(verdict.textContent);
            new MutationObserver(() => done() && resolve(verdict.textContent))
                .observe(verdict, {childList: true, characterData: true, subtree: true});
        })""",
        )
        assert shown == "VERDICT: VALID as far as checked"
        # a saved copy, opened from a file: the same verdict, and no node to ask
        saved = browser.open_page(PAGE.resolve().as_uri())
        offline = _verify(browser, saved, (REPORTS / "valid" / "report.bin").read_bytes(), genesis)
        assert offline["headline"] == "VERDICT: VALID as far as checked"
        assert browser.evaluate(saved, "document.getElementById('load-latest').hidden") is True
    assert sorted(set(Node.requests) - {"/favicon.ico"}) == ["/v1/reports/latest", "/verify"]
