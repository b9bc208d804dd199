"""The reports' routes (node/reports/api.py) on a store of their own."""

from __future__ import annotations

from pathlib import Path

from node.reports.api import ReportsApi
from node.reports.store import ReportStore
from tests.node.reports.service_harness import call


async def test_a_report_older_than_the_node_keeps_is_gone_and_one_still_to_come_is_not_found(
    tmp_path: Path,
) -> None:
    store = ReportStore(tmp_path / "reports", keep=3)
    api = ReportsApi(None, store, None)  # type: ignore[arg-type]  # no report is read
    for epoch in (5, 6):
        store.save_report(epoch, b"report-%d" % epoch)
    # epoch 4's report is late (built or fetched after the newer ones): it may still come
    # and be kept, so it is not found, never "pruned"; nor is epoch 7's, not made yet
    assert await call(api.get_report, {"epoch": "4"}) == (404, "ReportNotFound")
    assert await call(api.get_report, {"epoch": "7"}) == (404, "ReportNotFound")
    store.save_report(7, b"report-7")
    # now older than the newest three epochs: gone here for good, as blocks below
    # first_height are
    assert await call(api.get_report, {"epoch": "4"}) == (410, "ReportPruned")
    assert await call(api.get_report, {"epoch": "8"}) == (404, "ReportNotFound")
