"""`GET /verify`: the browser verifier, one self-contained HTML page (web/verifier, built
by `make install` into this package as verify.html); `GET /v1/genesis`: the genesis file
this node runs, byte for byte, which a verifier pins by its hash (SHA-256 of the file,
`clearing.genesis.compute_genesis_hash`); and, in `GET /v1/status`, that hash and a
checkpoint of the latest block (`lightclient.anchor.Checkpoint`) to verify from.

The page verifies a solvency report in the visitor's browser with no help from this
node: signatures, proofs, aggregates, the market under the state root, and with the
genesis the statement. It holds nothing of any member, so every node serves it on its
public listener. Its Content-Security-Policy allows only its own inline script and
style, WebAssembly compiled from its inline bytes, and fetches (its "load this node's
latest report" button, and the chain RPCs a visitor types to read the vaults): a page
that verifies must not load code from elsewhere. Unbuilt (a checkout without `make
install`), it answers 503 saying so.
"""

from __future__ import annotations

from pathlib import Path

import trio

from clearing.genesis import compute_genesis_hash
from lightclient.anchor import Checkpoint
from node.api.counters import add_status_section
from node.api.errors import ApiError
from node.api.http import Request, Response
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.reports.anchor import read_signed_block
from node.services import NodeContext, RoutesService
from node.storage import NodeStore

PAGE = Path(__file__).with_name("verify.html")
OPERATION = "getVerifierPage"
GENESIS_OPERATION = "getGenesis"
# connect-src names any http(s) origin because the chain RPC URLs are the visitor's own
# choice, unknown here. What the page sends them is public reads only (the chain id, block
# headers, the vaults' balances); the report and a member's openings never leave the page,
# and scripts, styles and everything else stay confined to the page itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; "
    "style-src 'unsafe-inline'; connect-src 'self' http: https:; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)


class VerifierPage:
    """The built page, read once on first use (it does not change while a node runs)."""

    def __init__(self, path: Path = PAGE) -> None:
        self.path = path
        self._body: bytes | None = None

    def read(self) -> bytes:
        if self._body is None:
            try:
                self._body = self.path.read_bytes()
            except OSError as exc:
                raise ApiError(
                    503, "VerifierNotBuilt",
                    f"the browser verifier is not built ({self.path.name}: {exc.strerror}): "
                    "run `make install` in the clearnode checkout",
                ) from None  # fmt: skip
        return self._body

    async def get_page(self, _: Request, __: dict[str, str]) -> Response:
        return Response(200, self.read(), "text/html; charset=utf-8", HEADERS)

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("GET", "/verify", OPERATION,
                      "The browser verifier (HTML, self-contained): verifies a solvency report "
                      "in your browser, with no help from this node", content_type="text/html",
                      errors=(503,), tier="public"), self.get_page),
        ]  # fmt: skip


class GenesisFile:
    """The genesis file this node was started with, as read at start (the node holds no
    other: a changed file on disk is not the chain this node runs)."""

    def __init__(self, data: bytes, store: NodeStore, engine: str) -> None:
        self.data = data
        self.hash = compute_genesis_hash(data)
        self.store = store
        self.engine = engine

    async def get_genesis(self, _: Request, __: dict[str, str]) -> Response:
        return Response(200, self.data, "application/json")

    def get_trust_view(self) -> dict[str, object]:
        """The genesis hash and the newest block stored with its certificate as a checkpoint
        (HEIGHT:TIME_MS:HASH)."""
        view: dict[str, object] = {"genesis_hash": "0x" + self.hash.hex()}
        height = self.store.get_latest_certified_height()
        signed = read_signed_block(self.store, self.engine, height) if height else None
        if signed is not None:
            header = signed[0]
            view["checkpoint"] = str(Checkpoint(height, header.time_ms, header.validators_hash))
        return view

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("GET", "/v1/genesis", GENESIS_OPERATION,
                      "The genesis file this node runs, byte for byte: its SHA-256 is the "
                      "genesis hash the network publishes (`clearnode verify --node URL "
                      "--genesis-hash HEX` fetches it)", tier="public"), self.get_genesis),
        ]  # fmt: skip


class VerifierService(RoutesService):
    """The browser verifier page and the genesis it verifies from, wherever the API is on."""

    name = "verifier"

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        genesis = GenesisFile(ctx.config.genesis_file.read_bytes(), ctx.store, ctx.genesis.engine)
        ctx.api.add_routes(VerifierPage().routes())
        ctx.api.add_routes(genesis.routes())
        add_status_section(ctx.api, "trust", genesis.get_trust_view)
        task_status.started()
