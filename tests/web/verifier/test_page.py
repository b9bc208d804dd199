"""The browser verifier agrees with `clearnode verify` on every committed vector, in the
full check and in a partial one the member asks for by name; it requires the genesis,
pinned by its hash when fetched from the node.

One headless Chromium loads the built page from a loopback server that answers as a
node does (node/verifier/service.py: the page with its Content-Security-Policy, and
`/v1/reports/latest`), then verifies every vector in that tab through the page's own
path and compares the verdict and the failing checks with `expected.json`. The server
records every request: the page needs nothing but itself."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest

from lightclient.validators import ValidatorPowers
from node.verifier.service import PAGE
from tests.vectors.make_reports import (
    NOW_MS,
    OPENINGS,
    PAGE_OUTCOMES,
    REPORTS,
    TAMPERS,
    VARIANTS,
)
from tests.web.verifier.cdp import Browser, open_browser
from tests.web.verifier.conftest import Node

# Given the genesis, the page checks what `clearnode verify --genesis GENESIS` checks (on the
# vectors' clock); with the statement skipped, what `--skip statement` checks.
MODE = "genesis"
NOT_MSGPACK = "report is not msgpack"
ON_TIME = {"nowMs": NOW_MS}


def _comparable(lines: list[str]) -> list[str]:
    """The lines, the msgpack library's own words cut off (they differ by library)."""
    return [NOT_MSGPACK if line.startswith(NOT_MSGPACK + ":") else line for line in lines]


def _js(value: object) -> str:
    return "undefined" if value is None else json.dumps(value)


def _verify(
    browser: Browser,
    tab: str,
    report: bytes,
    genesis: str | None = None,
    member: str | None = None,
    openings: str | None = None,
    options: dict[str, Any] | None = None,
    call: str = "verify",
) -> dict[str, Any]:
    """The page's result for `report` and its other inputs (genesis, member, openings)."""
    if call == "verify":
        given = (report.hex(), genesis, member, openings, None, options or ON_TIME)
    else:
        given = (report.hex(), options)
    args = ", ".join(_js(x) for x in given)
    result: dict[str, Any] = browser.evaluate(tab, f"window.clearnodeVerifier.{call}({args})")
    shown = browser.evaluate(tab, "document.getElementById('verdict').textContent")
    assert shown == result["headline"]  # what the page shows is what it returned
    text = browser.evaluate(tab, "document.getElementById('as-text').textContent")
    if result["outcome"] == "ERROR":  # no verdict, nothing checked
        assert text == ""
    else:
        assert all(f"  FAIL  {line}" in text for line in _failures(result))
        assert (
            browser.evaluate(tab, "document.getElementById('genesis-used').textContent")
            == (result["genesis"])
        )
    return result


def _printed(browser: Browser, tab: str) -> list[str]:
    """The page's result as text, up to what was not checked."""
    lines: list[str] = browser.evaluate(tab, "document.getElementById('as-text').textContent")
    printed = str(lines).splitlines()
    return printed[: printed.index("not checked")] if "not checked" in printed else printed


def _not_checked(browser: Browser, tab: str) -> list[str]:
    lines = str(browser.evaluate(tab, "document.getElementById('as-text').textContent"))
    printed = lines.splitlines()
    return printed[printed.index("not checked") + 1 :] if "not checked" in printed else []


def _section_lines(result: dict[str, Any], title: str) -> list[str]:
    """One section's lines as the CLI prints them."""
    (verdict,) = [s["verdict"] for s in result["sections"] if s["title"].startswith(title)]
    return [f"ok    {x}" for x in verdict["passed"]] + [f"FAIL  {x}" for x in verdict["failures"]]


def _failures(result: dict[str, Any]) -> list[str]:
    return [line for s in result["sections"] for line in s["verdict"]["failures"]]


def _wait_for_verdict(browser: Browser, tab: str) -> str:
    shown: str = browser.evaluate(
        tab,
        """new Promise(resolve => {
        const verdict = document.getElementById('verdict');
        const done = () => verdict.dataset.outcome && verdict.textContent;
        if (done()) return resolve(verdict.textContent);
        new MutationObserver(() => done() && resolve(verdict.textContent))
            .observe(verdict, {childList: true, characterData: true, subtree: true});
    })""",
    )
    return shown


@pytest.mark.slow
def test_the_page_agrees_with_the_cli_on_every_vector(node_url: str) -> None:
    genesis = (REPORTS / "genesis.json").read_text()
    valid = (REPORTS / "valid" / "report.bin").read_bytes()
    published = hashlib.sha256(genesis.encode()).hexdigest()
    with open_browser() as browser:
        tab = browser.open_page(f"{node_url}/verify")
        assert browser.evaluate(tab, "typeof window.clearnodeVerifier") == "object"
        for name in ["valid", *TAMPERS, *VARIANTS, *OPENINGS]:
            folder = REPORTS / name
            vector = json.loads((folder / "expected.json").read_text())
            expected = vector["modes"][MODE]
            member = vector.get("member")
            address = None if member is None else member["address"]
            openings = None if member is None else (folder / member["openings"]).read_text()
            result = _verify(browser, tab, (folder / "report.bin").read_bytes(), genesis,
                             address, openings)  # fmt: skip
            assert result["outcome"] == PAGE_OUTCOMES[expected["verdict"]], (name, result)
            assert _comparable(_failures(result)) == _comparable(expected["failures"]), name
            if member is not None:
                assert _section_lines(result, "member ") == expected["member"], name
            if "output" in expected:  # every check as the CLI prints it, up to "not checked"
                assert _printed(browser, tab) == expected["output"], name
        # a partial check, asked for by name: the CLI's `--skip statement`, line for line
        for name in ("valid", "zeroed-risk-arrays", "no-anchor"):
            expected = json.loads((REPORTS / name / "expected.json").read_text())["modes"]
            partial = expected["validators"]
            skip = {**ON_TIME, "skip": ["statement"]}
            result = _verify(browser, tab, (REPORTS / name / "report.bin").read_bytes(), genesis,
                             options=skip)  # fmt: skip
            assert result["outcome"] == PAGE_OUTCOMES[partial["verdict"]], (name, result)
            assert _printed(browser, tab) == partial["output"], name
        assert _not_checked(browser, tab)[-1] == (
            "  not asked  the statement recomputed from the genesis: skipped (--skip statement)"
        )
        skip_both = {**ON_TIME, "skip": ["statement", "anchor"]}
        weak = _verify(browser, tab, valid, genesis, options=skip_both)
        assert weak["outcome"] == "PARTIAL"
        assert weak["headline"] == (
            "VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: the statement recomputed from "
            "the genesis; the state root followed to the chain within the trusting period"
        )
        # without a genesis: no verdict, and it says what to add
        bare = _verify(browser, tab, valid)
        assert bare["outcome"] == "ERROR"
        assert bare["headline"].startswith("the full check needs the chain's genesis: choose its ")
        # a genesis the statement cannot be computed from: no verdict (the CLI's usage error)
        wrong = json.dumps({**json.loads(genesis), "version": 99})
        refused = _verify(browser, tab, valid, wrong)
        assert refused["outcome"] == "ERROR"
        assert refused["headline"].startswith("genesis: not a valid genesis: GenesisError(key=")
        # the genesis pinned by its hash: given as a file of another hash, refused; fetched
        # from this node, checked against the hash and named in the verdict
        other = _verify(browser, tab, valid, genesis + " ",
                        options={**ON_TIME, "genesisHash": published})  # fmt: skip
        assert other["headline"].startswith("the genesis given is genesis 0x")
        assert other["headline"].endswith(f"not 0x{published} as the genesis hash says: not the "
                                          "network's genesis")  # fmt: skip
        fetched = _verify(browser, tab, valid, options={**ON_TIME, "genesisHash": published},
                          call="verifyFetched")  # fmt: skip
        assert fetched["headline"] == "VERDICT: VALID"
        assert fetched["genesis"] == (
            f"genesis 0x{published} (fetched from {node_url}, as the genesis hash pins)"
        )
        elsewhere = {**ON_TIME, "genesisHash": "ab" * 32}
        pinned_elsewhere = _verify(browser, tab, valid, options=elsewhere, call="verifyFetched")
        assert pinned_elsewhere["headline"] == (
            f"this node serves genesis 0x{published}, not 0x{'ab' * 32} as the genesis hash says"
        )
        # the form: the node's latest report and its genesis pinned by the hash in the link,
        # followed from a checkpoint of the genesis's set taken now (the page's own clock)
        linked = browser.open_page(f"{node_url}/verify?genesis={published}")
        assert (
            browser.evaluate(linked, "document.getElementById('genesis-hash').value") == published
        )
        genesis_set = ValidatorPowers.of(
            (bytes.fromhex(v["pubkey"][2:]), v["power"]) for v in json.loads(genesis)["validators"]
        )
        checkpoint = f"1:{time.time_ns() // 1_000_000}:0x{genesis_set.hash.hex()}"
        browser.evaluate(
            linked, f"document.getElementById('checkpoint').value = {json.dumps(checkpoint)}"
        )
        browser.evaluate(linked, "document.getElementById('load-latest').click()")
        assert _wait_for_verdict(browser, linked) == "VERDICT: VALID"
        text = str(browser.evaluate(linked, "document.getElementById('as-text').textContent"))
        assert "  ok    validator set taken from the checkpoint of block 1 (set 0x" in text
        # the partial check is a choice on the form too, and its headline says so
        browser.evaluate(linked, "document.getElementById('verdict').dataset.outcome = ''")
        browser.evaluate(linked, "document.getElementById('skip-statement').click()")
        browser.evaluate(linked, "document.getElementById('load-latest').click()")
        assert _wait_for_verdict(browser, linked).startswith(
            "VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: the statement recomputed from "
            "the genesis"
        )
        # a saved copy, opened from a file: the same verdict, and no node to ask
        saved = browser.open_page(PAGE.resolve().as_uri())
        offline = _verify(browser, saved, valid, genesis)
        assert offline["headline"] == "VERDICT: VALID"
        assert browser.evaluate(saved, "document.getElementById('load-latest').hidden") is True
    assert sorted(set(Node.requests) - {"/favicon.ico"}) == [
        "/v1/genesis", "/v1/reports/latest", "/verify", f"/verify?genesis={published}"
    ]  # fmt: skip
