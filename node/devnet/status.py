"""A status page per validator, served over HTTP on 127.0.0.1 while the devnet
runs: validators, recent blocks, chains and vault balances, members' margin
health (never their positions), waterfall events, the latest solvency report.

Pages are rendered on the devnet's own thread after each block and only the
finished HTML is handed to the server thread, so a request never reads state
that a block is changing.
"""

from __future__ import annotations

import html
import threading
from collections import deque
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from clearing.risk.engine import get_member_risk
from clearing.root import compute_state_root

if TYPE_CHECKING:
    from node.devnet.orchestrator import Devnet


def _table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = (
    "body{font-family:sans-serif;margin:1.5em;background:#fafafa}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
    "th{background:#e8eef7}.ok{color:#070}.bad{color:#b00;font-weight:bold}"
)


def render_page(net: Devnet, validator: int, blocks: list[str]) -> str:
    """The HTML of one validator's status page at the current height."""
    state = net.replicas[validator]
    names = [v.name for v in state.genesis.validators]
    validators = [
        [v.name, v.power, r.height, compute_state_root(r).hex()[:16]]
        for v, r in zip(state.genesis.validators, net.replicas, strict=True)
    ]
    chains = [
        [
            d.chain.chain_id,
            "0x" + d.deployed.vault.hex(),
            *[d.get_vault_balance(s) for s in d.deployed.tokens],
        ]
        for d in net.chains
    ]
    symbols = list(net.chains[0].deployed.tokens) if net.chains else []
    health: list[list[object]] = []
    for m in net.members:
        risk = get_member_risk(state, m.address, 0)
        if risk is None:
            health.append([m.name, "0x" + m.address.hex(), "-", "-", "no account"])
            continue
        status = "ok" if risk.equity >= risk.maintenance_margin else "below MM"
        health.append(
            [m.name, "0x" + m.address.hex(), risk.equity, risk.maintenance_margin, status]
        )
    report = net.reports[-1] if net.reports else None
    verdict = (
        "none yet"
        if report is None
        else f"epoch {report.epoch} at height {report.height}, {report.accounts} accounts: "
        + ("VALID" if report.verified and report.member_verified else "INVALID")
    )
    css = "ok" if report is None or (report.verified and report.member_verified) else "bad"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>clearnode {names[validator]}"
        f"</title><style>{STYLE}</style></head><body>"
        f"<h1>clearnode status: {html.escape(names[validator])}</h1>"
        f"<p id='height'>height {state.height}, chain id {state.genesis.chain_id}; "
        "validators run in-process in this devnet</p>"
        f"<h2>Validators</h2>{_table(['name', 'power', 'height', 'state root'], validators)}"
        f"<h2>Recent blocks</h2>{_table(['block'], [[b] for b in blocks])}"
        f"<h2>Chains and vault balances</h2>{_table(['chain', 'vault', *symbols], chains)}"
        f"<h2>Members' health</h2>{_table(['member', 'address', 'equity', 'MM', 'status'], health)}"
        f"<h2>Waterfall events</h2>{_table(['event'], [[e] for e in net.waterfall_log[-12:]])}"
        f"<h2>Latest solvency report</h2><p id='report' class='{css}'>{html.escape(verdict)}</p>"
        "</body></html>"
    )


class StatusServer:
    """Serves /validator/N (and / for validator 0) from the latest rendered pages."""

    def __init__(self, port: int = 0) -> None:
        self.pages: dict[int, str] = {}
        self.blocks: deque[str] = deque(maxlen=10)
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.rstrip("/") or "/validator/0"
                index = path.removeprefix("/validator/")
                page = pages.get(int(index)) if index.isdigit() else None
                if page is None:
                    self.send_error(404, f"no page {self.path}; try /validator/0")
                    return
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def log(self, line: str) -> None:
        if line.startswith("block "):
            self.blocks.appendleft(line)

    def update(self, net: Devnet) -> None:
        for n in range(len(net.replicas)):
            self.pages[n] = render_page(net, n, list(self.blocks))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
