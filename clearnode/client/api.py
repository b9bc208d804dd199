"""`Client`: one node's HTTP API, for members, venues, bridges and relayers.

Async (httpx), so that one process follows streams and talks to several nodes at once
under asyncio or trio alike; the package imports neither (httpx picks the running one).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any, Unpack

import anyio
import httpx
from eth_account.signers.local import LocalAccount

from bridge.withdrawal_relay import RelayOutcome, relay_withdrawals
from clearing.collateral import CollateralCredit
from clearing.genesis import Genesis
from clearing.transition.trade import Trade, TradeBatch
from clearing.transition.tx import encode_tx
from clearing.transition.withdrawal import WithdrawalPaid
from clearing.withdrawal_expiry import WithdrawalExpired
from clearnode.client.errors import (
    CheckRefused,
    NotFound,
    UnexpectedResponse,
    Unreachable,
    get_api_error,
)
from clearnode.client.jsonrpc import JsonRpc
from clearnode.client.signers import Member, MemberRequest, Venue, get_member_request_body, hex0x
from clearnode.client.sse import ServerEvent, read_events
from clearnode.client.vault import RpcVaults
from clearnode.client.verify import (
    CheckOptions,
    GivenGenesis,
    ReportCheck,
    pin_genesis,
    verify_report,
)
from clearnode.client.views import (
    Account,
    AccountEvent,
    AccountEvents,
    ClientAccountView,
    ClientsRisk,
    Cursor,
    HistoryCsv,
    MarginCall,
    ReportView,
    Submitted,
    TxOutcome,
)
from proofs.account_proof import AccountProofFile
from proofs.openings import MemberOpenings

TIMEOUT_S = 20.0
MSGPACK = {"content-type": "application/msgpack"}
BridgeEvent = CollateralCredit | WithdrawalPaid | WithdrawalExpired


class Client:
    """The API of the node at `url` (`http://HOST:PORT`) of the network `chain_id`.

    `Client.connect(url)` reads the chain id from the node. Pass `http` to share one
    connection pool between clients of several nodes (it is then yours to close)."""

    def __init__(
        self, url: str, chain_id: int, http: httpx.AsyncClient | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self._owns_http = http is None
        self.http = httpx.AsyncClient() if http is None else http

    @classmethod
    async def connect(
        cls, url: str, http: httpx.AsyncClient | None = None, timeout_s: float = TIMEOUT_S
    ) -> Client:
        """A client of the node at `url`, for the network whose chain id the node
        reports (`GET /v1/status`): what every signature is bound to."""
        client = cls(url, 0, http, timeout_s)
        client.chain_id = int((await client.status())["chain_id"])
        return client

    async def aclose(self) -> None:
        """Close the connection pool, unless it was passed in (`async with` closes it)."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # transport

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer to one request; a refusal raises its typed error (errors.py)."""
        try:
            response = await self.http.request(
                method, self.url + path, timeout=self.timeout_s, **kwargs
            )
        except httpx.TransportError as exc:
            raise Unreachable(self.url + path, exc) from exc
        if response.status_code >= 400:
            raise get_api_error(response)
        return response

    async def get_json(self, path: str) -> Any:
        """The JSON answer to `GET path` (a route this class has no call for)."""
        return _json(await self.request("GET", path))

    async def post_json(self, path: str, **kwargs: Any) -> Any:
        """The JSON answer to `POST path` (`json=` a body, or `content=` and `headers=`)."""
        return _json(await self.request("POST", path, **kwargs))

    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[ServerEvent]:
        """The Server-Sent Events of `path` until the node closes the stream."""
        request = self.http.build_request(method, self.url + path, timeout=None, **kwargs)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise Unreachable(self.url + path, exc) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                raise get_api_error(response)
            async for event in read_events(response.aiter_lines()):
                yield event
        except httpx.TransportError as exc:  # the stream broke off: reconnect after the last id
            raise Unreachable(self.url + path, exc) from exc
        finally:
            await response.aclose()

    # public reads

    async def status(self) -> dict[str, Any]:
        """`GET /v1/status`: chain id, height, time, mempool, clearing house."""
        status: dict[str, Any] = await self.get_json("/v1/status")
        return status

    async def height(self) -> int:
        """The node's latest committed height."""
        return int((await self.status())["height"])

    async def prices(self) -> dict[str, Any]:
        """Committed `index` and `mark` prices by instrument, and their `time_ms`."""
        prices: dict[str, Any] = await self.get_json("/v1/prices")
        return prices

    async def validators(self) -> dict[str, Any]:
        """`GET /v1/validators`: the validator set in force, each `pubkey` and `power`."""
        validators: dict[str, Any] = await self.get_json("/v1/validators")
        return validators

    async def genesis(self, expected_hash: bytes) -> Genesis:
        """The genesis the node runs (`GET /v1/genesis`), pinned by the hash the network
        publishes (SHA-256 of the file): GenesisMismatch for any other."""
        return (await self.pinned_genesis(expected_hash)).genesis

    async def pinned_genesis(self, expected_hash: bytes) -> GivenGenesis:
        """The genesis the node runs with its hash and where it came from, pinned by the
        hash the network publishes (GenesisMismatch for any other): what `verify_report`
        starts from."""
        where = self.url + "/v1/genesis"
        response = await self.request("GET", "/v1/genesis")
        try:
            return pin_genesis(response.content, expected_hash, f"fetched from {where}, "
                               "pinned by its hash")  # fmt: skip
        except CheckRefused as exc:
            raise UnexpectedResponse(where, response.status_code, f"not a genesis: {exc}") from None

    async def block(self, height: int) -> dict[str, Any]:
        """`GET /v1/blocks/{height}`: a committed block's header, the engine that committed
        it and, on a validator's API, its transactions (NotFound: no such height)."""
        block: dict[str, Any] = await self.get_json(f"/v1/blocks/{height}")
        return block

    async def tx(self, tx_hash: str) -> TxOutcome:
        """What happened to a transaction one submitted: pending, or committed with its
        result code and events (NotFound: neither, in the node's recent window)."""
        outcome: TxOutcome = await self.get_json(f"/v1/txs/{tx_hash}")
        return outcome

    async def wait_for_tx(
        self, tx_hash: str, timeout_s: float = 60.0, poll_s: float = 0.25
    ) -> TxOutcome:
        """The outcome once a block committed the transaction (TimeoutError after
        `timeout_s`). Committed is not accepted: read its `code` ("ok" or the refusal)."""
        with anyio.fail_after(timeout_s):
            while (outcome := await self.tx(tx_hash))["status"] != "committed":
                await anyio.sleep(poll_s)
        return outcome

    async def wait_for_height(
        self, height: int, timeout_s: float = 60.0, poll_s: float = 0.25
    ) -> int:
        """The node's height once it reached `height` (TimeoutError after `timeout_s`)."""
        with anyio.fail_after(timeout_s):
            while (now := await self.height()) < height:
                await anyio.sleep(poll_s)
        return now

    def events(self) -> AsyncIterator[ServerEvent]:
        """`GET /v1/events`: committed blocks' headers, price updates and governance steps, as
        they commit."""
        return self.stream("GET", "/v1/events")

    # member requests

    async def submit(self, record: MemberRequest) -> Submitted:
        """`POST /v1/member-requests` of a request `Member` signed for this network."""
        body = get_member_request_body(record, self.chain_id)
        submitted: Submitted = await self.post_json("/v1/member-requests", json=body)
        return submitted

    async def _nonce(self, member: Member, nonce: int | None) -> int:
        return await self.next_nonce(member) if nonce is None else nonce

    async def authorise_venue(
        self, member: Member, venue_id: str, authorised: bool = True, nonce: int | None = None,
        expires_ms: int | None = None, issued_at_ms: int | None = None,
    ) -> Submitted:  # fmt: skip
        """Let `venue_id` clear `member`'s trades (or stop it: `authorised=False`)."""
        nonce = await self._nonce(member, nonce)
        record = member.authorise_venue(
            self.chain_id, nonce, venue_id, authorised, expires_ms, issued_at_ms
        )
        return await self.submit(record)

    async def withdraw(
        self,
        member: Member,
        asset_chain_id: int,
        token: bytes,
        quanta: int,
        recipient: bytes | None = None,
        sub_account: int = 0,
        nonce: int | None = None,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> Submitted:
        """Withdraw `quanta` of `token` to `recipient` on the chain `asset_chain_id` one
        chooses (a settlement token pays positive cash out on any chain whose reserve
        covers it); then the validators sign it and anyone relays it (`relay`)."""
        nonce = await self._nonce(member, nonce)
        record = member.withdrawal(
            self.chain_id, nonce, asset_chain_id, token, quanta, recipient, sub_account,
            expires_ms, issued_at_ms,
        )  # fmt: skip
        return await self.submit(record)

    async def transfer(
        self,
        member: Member,
        from_sub_account: int,
        to_sub_account: int,
        asset_chain_id: int,
        token: bytes,
        amount: int,
        nonce: int | None = None,
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> Submitted:
        """Move collateral (or cash: chain 0, token of zeros) between one's sub-accounts."""
        nonce = await self._nonce(member, nonce)
        record = member.transfer(
            self.chain_id, nonce, from_sub_account, to_sub_account, asset_chain_id, token,
            amount, expires_ms, issued_at_ms,
        )  # fmt: skip
        return await self.submit(record)

    async def register_bidder(
        self, member: Member, registered: bool = True, nonce: int | None = None,
        expires_ms: int | None = None, issued_at_ms: int | None = None,
    ) -> Submitted:  # fmt: skip
        """Register for the default auctions (see their lots in `account`, bid with `bid`)."""
        nonce = await self._nonce(member, nonce)
        record = member.register_bidder(self.chain_id, nonce, registered, expires_ms, issued_at_ms)
        return await self.submit(record)

    async def bid(
        self, member: Member, auction: int, premium: int, sub_account: int = 0,
        nonce: int | None = None, expires_ms: int | None = None, issued_at_ms: int | None = None,
    ) -> Submitted:  # fmt: skip
        """Bid `premium` for every lot of default auction `auction` (a registered bidder,
        `register_bidder`; see the lots in `account`)."""
        nonce = await self._nonce(member, nonce)
        record = member.auction_bid(
            self.chain_id, nonce, auction, premium, sub_account, expires_ms, issued_at_ms
        )
        return await self.submit(record)

    async def offer_client_account(
        self, member: Member, client: bytes, model: str, backup: bytes | None = None,
        nonce: int | None = None, expires_ms: int | None = None, issued_at_ms: int | None = None,
    ) -> Submitted:  # fmt: skip
        """As a clearing member, offer `client` an account under it (docs/clearing-members.md);
        it opens when the client accepts the same terms (`accept_client_account`)."""
        nonce = await self._nonce(member, nonce)
        return await self.submit(
            member.offer_client_account(
                self.chain_id, nonce, client, model, backup, expires_ms, issued_at_ms
            )
        )

    async def accept_client_account(
        self, client: Member, clearing_member: bytes, model: str, backup: bytes | None = None,
        nonce: int | None = None, expires_ms: int | None = None, issued_at_ms: int | None = None,
    ) -> Submitted:  # fmt: skip
        """As a client, accept the account `clearing_member` offered on these terms."""
        nonce = await self._nonce(client, nonce)
        record = client.accept_client_account(
            self.chain_id, nonce, clearing_member, model, backup, expires_ms, issued_at_ms
        )
        return await self.submit(record)

    # member reads

    async def account(self, member: Member, sub_account: int = 0) -> Account | None:
        """One's own sub-account, margin, liquidation prices, margin call and next nonce
        at the committed height; None before the sub-account exists."""
        body = member.account_query(self.chain_id, sub_account)
        try:
            account: Account = await self.post_json("/v1/accounts/query", json=body)
        except NotFound as exc:
            if exc.type == "UnknownSubAccount":
                return None
            raise
        return account

    async def client_risk(self, member: Member, offset: int = 0) -> ClientsRisk:
        """As a clearing member: its clients' risk from the `offset`-th (never their keys)."""
        body = member.client_risk_query(self.chain_id, offset)
        risk: ClientsRisk = await self.post_json("/v1/clearing-members/clients", json=body)
        return risk

    async def client_account(self, client: Member, offset: int = 0) -> ClientAccountView:
        """As a client: its clearing member, model and backup, and the offers made to it."""
        body = client.client_account_query(self.chain_id, offset)
        view: ClientAccountView = await self.post_json("/v1/clients/account", json=body)
        return view

    async def next_nonce(self, member: Member) -> int:
        """One above the highest nonce of one's committed requests (0 if none), those a
        block refused included (a refusal spends its nonce). Requests still pending are not
        counted: count up from it for those one sends meanwhile."""
        body = member.account_query(self.chain_id)
        try:
            account: Account = await self.post_json("/v1/accounts/query", json=body)
        except NotFound as exc:  # no sub-account 0, yet maybe nonces spent
            if exc.type == "UnknownSubAccount":
                return int(exc.details["next_nonce"])
            raise
        return account["nextNonce"]

    async def margin_call(self, member: Member, sub_account: int = 0) -> MarginCall | None:
        """The sub-account's open margin call (amount due, deadline), or None."""
        account = await self.account(member, sub_account)
        return None if account is None else account["marginCall"]

    async def history(
        self, member: Member, from_height: int = 0, cursor: Cursor | None = None
    ) -> AccountEvents:
        """One page of one's history from `from_height` (or after `cursor`)."""
        body: dict[str, Any] = member.events_query(self.chain_id, from_height)
        if cursor is not None:
            body["cursor"] = cursor
        page: AccountEvents = await self.post_json("/v1/accounts/events", json=body)
        return page

    async def iter_history(
        self, member: Member, from_height: int = 0
    ) -> AsyncIterator[AccountEvent]:
        """Every event of one's history from `from_height`, page after page."""
        cursor: Cursor | None = None
        while True:
            page = await self.history(member, from_height, cursor)
            for event in page["events"]:
                yield event
            cursor = page["nextCursor"]
            if cursor is None:
                return

    async def history_csv(
        self, member: Member, from_height: int = 0, cursor: Cursor | None = None
    ) -> HistoryCsv:
        """One page of one's history from `from_height` (or after `cursor`) as CSV, the
        spreadsheet export: the header row `height,seq,source,tx_index,kind,sub_account,
        fields`, then a row per event, oldest first (`fields`, the event's other fields, a
        JSON object of integers in smallest units and 0x-hex addresses)."""
        body: dict[str, Any] = {**member.events_query(self.chain_id, from_height), "format": "csv"}
        if cursor is not None:
            body["cursor"] = cursor
        response = await self.request("POST", "/v1/accounts/events", json=body)
        url = str(response.request.url)
        if not response.headers.get("content-type", "").startswith("text/csv"):
            raise UnexpectedResponse(url, response.status_code, response.text)
        return HistoryCsv(response.text, read_cursor(response))

    async def iter_history_csv(self, member: Member, from_height: int = 0) -> AsyncIterator[str]:
        """Every event of one's history from `from_height` as one CSV document, page after
        page: the header row and the first page's rows, then each next page's rows (write
        the pieces to a file in order)."""
        page = await self.history_csv(member, from_height)
        header = page.text.partition("\n")[0]
        yield page.text
        while page.next_cursor is not None:
            page = await self.history_csv(member, from_height, page.next_cursor)
            first, _, rows = page.text.partition("\n")
            if first != header:
                raise UnexpectedResponse(self.url, 200, f"a page headed {first!r}, not {header!r}")
            yield rows

    def stream_history(
        self, member: Member, from_height: int = 0, last_event_id: str | None = None
    ) -> AsyncIterator[ServerEvent]:
        """One's own events as blocks commit (`account_event`, data as in `history`),
        resumed after `last_event_id` (a previous event's `id`). Each call signs anew:
        the node opens one stream per signature."""
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        body = member.stream_query(self.chain_id, from_height)
        return self.stream("POST", "/v1/accounts/stream", json=body, headers=headers)

    async def account_proof(self, member: Member) -> AccountProofFile:
        """A Merkle proof of one's account in the latest committed state root (check it
        with `clearnode.client.verify.check_account_proof`)."""
        obj = await self.post_json("/v1/accounts/proof", json=member.proof_query(self.chain_id))
        return AccountProofFile.from_object(obj)

    # reports

    async def report(self, epoch: int | None = None) -> ReportView:
        """The solvency report of `epoch` (None: the newest complete one)."""
        path = "/v1/reports/latest" if epoch is None else f"/v1/reports/{epoch}"
        view: ReportView = await self.get_json(path)
        return view

    async def openings(self, member: Member, epoch: int) -> MemberOpenings:
        """One's own commitments' openings in `epoch`'s report (a validator answers)."""
        body = member.openings_query(self.chain_id, epoch)
        return MemberOpenings.from_json(await self.post_json(f"/v1/reports/{epoch}/openings",
                                                             json=body))  # fmt: skip

    async def verify_report(
        self,
        genesis_hash: bytes,
        epoch: int | None = None,
        member: Member | None = None,
        **options: Unpack[CheckOptions],
    ) -> ReportCheck:
        """`clearnode verify`'s full check of this node's report of `epoch` (None: the
        newest complete one), from the genesis it serves pinned by `genesis_hash`, the hash
        the network publishes (GenesisMismatch for any other); with `member`, one's own
        openings too (asked for with its signature, a validator answers); `options` as
        `verify_report`'s (`CheckOptions`: `rpc`, the vaults' reserves read on each chain).
        The checks run in a worker thread. Print the result for the whole verdict."""
        given = await self.pinned_genesis(genesis_hash)
        view = await self.report(epoch)
        openings = None if member is None else await self.openings(member, view["epoch"])
        address = None if member is None else member.address
        check = functools.partial(verify_report, view, given, address, openings, **options)
        return await anyio.to_thread.run_sync(check)

    # venues and bridges

    async def submit_tx(self, path: str, record: TradeBatch | BridgeEvent) -> Submitted:
        """`POST path` of a signed record in its msgpack encoding (clearing/transition/tx.py)."""
        submitted: Submitted = await self.post_json(
            path, content=encode_tx(record), headers=MSGPACK
        )
        return submitted

    async def submit_trade_batch(self, batch: TradeBatch) -> Submitted:
        """`POST /v1/trade-batches` of a batch its venue signed."""
        return await self.submit_tx("/v1/trade-batches", batch)

    async def submit_trades(
        self,
        venue: Venue,
        trades: list[Trade],
        expires_ms: int | None = None,
        issued_at_ms: int | None = None,
    ) -> Submitted:
        """`venue`'s next batch of `trades`, signed and submitted (issued at `issued_at_ms`,
        default now, valid up to the block time `expires_ms`; default: `BATCH_LIFETIME_MS`
        after the issue)."""
        batch = venue.batch(self.chain_id, trades, expires_ms, issued_at_ms)
        return await self.submit_trade_batch(batch)

    async def submit_bridge_event(self, record: BridgeEvent) -> Submitted:
        """`POST /v1/bridge/collateral-events`: a credit, payout or expiry the validators
        attested (their signatures are the authorisation, not the sender)."""
        return await self.submit_tx("/v1/bridge/collateral-events", record)

    # withdrawals on chain

    async def pending_withdrawals(self) -> list[dict[str, Any]]:
        """Every pending withdrawal with the validators' vault signatures so far
        (`complete` once they carry more than 2/3 of the power)."""
        found: list[dict[str, Any]] = (await self.get_json("/v1/withdrawals/pending"))[
            "withdrawals"
        ]
        return found

    async def withdrawal(self, member: bytes, nonce: int) -> dict[str, Any]:
        """One pending withdrawal's vault call (NotFound once paid, refunded or unknown)."""
        found: dict[str, Any] = await self.get_json(f"/v1/withdrawals/{hex0x(member)}/{nonce}")
        return found

    async def relay(self, chain: JsonRpc, sender: LocalAccount) -> list[RelayOutcome]:
        """Pay every complete withdrawal pending for `chain` (`vault.connect`) to its vault,
        from `sender` (anyone may: the signatures authorise it, the sender pays gas), by
        the node's relayer's rules (bridge/withdrawal_relay.py): each checked against the
        validator set the vault trusts before it is sent, one already paid skipped. The
        chain's calls block, so they run in a worker thread."""
        pending = await self.pending_withdrawals()
        return await anyio.to_thread.run_sync(relay_withdrawals, RpcVaults(chain), sender, pending)


def read_cursor(response: httpx.Response) -> Cursor | None:
    """The `X-Next-Cursor` header of a CSV page: the cursor of the next (None: the last)."""
    header = response.headers.get("x-next-cursor")
    if header is None:
        return None
    try:
        found = json.loads(header)
    except ValueError:
        found = None
    if isinstance(found, dict) and set(found) == {"height", "seq"}:
        if all(type(v) is int for v in found.values()):
            return Cursor(height=found["height"], seq=found["seq"])
    url = str(response.request.url)
    raise UnexpectedResponse(url, response.status_code, f"X-Next-Cursor: {header}")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        url = str(response.request.url)
        raise UnexpectedResponse(url, response.status_code, response.text) from None
