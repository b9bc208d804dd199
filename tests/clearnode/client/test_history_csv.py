"""`Client.history_csv` and `iter_history_csv`: one's history as the API's CSV export,
page after page, over the real API on 127.0.0.1 with its history store, pages of two
events so that several are followed (tests/node/test_api_member_history.py's harness).
The live network's test reads a member's export there too (test_api.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from clearnode.client import Client, Member, UnexpectedResponse
from node.api import member_history
from tests.clearing.support import USDC
from tests.node.test_api import ALICE
from tests.node.test_api_member_history import Harness, open_call, serve_harness

MEMBER = Member(ALICE.private_key)


async def test_the_export_follows_every_page_with_one_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(member_history, "PAGE_EVENTS", 2)
    async with serve_harness(tmp_path) as parts:  # the API's clock is the wall clock
        api = Harness(*parts)
        open_call(api)
        api.commit([api.box.credit(ALICE.address, USDC, 10**6 + n) for n in range(5)])
        async with Client(str(api.client.base_url), api.box.chain_id) as node:
            first = await node.history_csv(MEMBER)
            pieces = [piece async for piece in node.iter_history_csv(MEMBER)]
            events = [e async for e in node.iter_history(MEMBER)]
            second = await node.history_csv(MEMBER, cursor=first.next_cursor)
    rows = list(csv.reader(io.StringIO("".join(pieces))))
    assert tuple(rows[0]) == member_history.CSV_COLUMNS and len(pieces) > 2
    assert [(int(r[0]), int(r[1]), r[4]) for r in rows[1:]] == [
        (e["height"], e["seq"], e["kind"]) for e in events
    ]
    assert first.text == pieces[0] and first.next_cursor == {
        "height": events[1]["height"], "seq": events[1]["seq"]
    }  # fmt: skip
    assert second.text.partition("\n")[2] == pieces[1]


async def test_an_answer_that_is_not_the_apis_csv_is_unexpected() -> None:
    answers = iter([
        httpx.Response(200, json={"events": []}),  # a node that ignored the format
        httpx.Response(200, text="h\n", headers={"content-type": "text/csv",
                                                  "x-next-cursor": "[1, 2]"}),
    ])  # fmt: skip
    transport = httpx.MockTransport(lambda _: next(answers))
    async with httpx.AsyncClient(transport=transport) as http:
        node = Client("http://127.0.0.1:1", 7, http)
        for _ in range(2):
            with pytest.raises(UnexpectedResponse):
                await node.history_csv(MEMBER)
