"""The devnet's privacy audit: what a stranger reads from a node holds no member's data.

At the end of a run the audit reads every route a node's public listener lists in its
/openapi.json: GET routes with every path parameter filled from the run, POST routes
with no body and, for member routes, signed by another member; the event stream for a
few seconds; the status page. It fails the run if an answer carries a member's address,
a committed transaction's bytes, a member's position, or one of its balances, margins
or P&L (docs/privacy.md says who may see what). Then it asks each member route with the
member's own signature and checks that the same scan finds the member there: a scan
that sees the member's own data would see a leak, so its silence elsewhere means
something.

A route the audit cannot fill (a new path parameter, a new member route it has no
signed request for) fails the run as well: a route nobody reads could leak unnoticed.

On CometBFT, devnet/cometbft_privacy.py audits what a stranger reaches of CometBFT
with the same secrets.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, TypeVar, cast

import httpx
import trio

from clearing.eip712 import compute_signable, sign_typed
from clearing.governance.queries import get_configuration_view
from clearing.risk.engine import get_member_risk
from clearing.state import ClearingState
from clearing.transition.member_requests import (
    ACCOUNT_EVENTS_FIELDS,
    ACCOUNT_PROOF_FIELDS,
    ACCOUNT_QUERY_FIELDS,
    CLIENTS_QUERY_FIELDS,
    OPENINGS_QUERY,
    OPENINGS_QUERY_FIELDS,
)
from clearing.transition.tx import get_tx_kind
from clearnode.client import Member
from consensus.compact import compute_tx_hash
from devnet.network import STEP_TIMEOUT_S, Devnet, StepTimeout, wait_for
from node.api.bodies import hex0x
from node.clock import wall_clock_ms
from node.storage.comet_compact import make_ref
from node.verifier.service import GENESIS_OPERATION, PAGE
from node.verifier.service import OPERATION as VERIFIER_OPERATION

SECRET_DIGITS = 6
"""A member's amount is looked for only from 6 digits up: smaller numbers (heights,
counts, lot sizes) turn up everywhere by coincidence. Balances, margins and P&L in the
ledger's smallest units are far larger."""
STREAM_READ_S = 3.0
"""How long the audit listens to an event stream: a few blocks' worth."""
READERS = 8
"""Routes the audit reads at once: one after another, its event streams alone took
`STREAM_READ_S` each, most of a devnet's audit (7.6 s of a CometBFT run's 10.6 s)."""
TIMEOUT_S = 20.0
NUMBER = re.compile(rf"(?<![0-9a-zA-Z])-?\d{{{SECRET_DIGITS},}}(?![0-9a-zA-Z])")
INTEGER = re.compile(r"-?\d+")
FORMATTED = re.compile(
    r"(?<![0-9a-zA-Z.,])\d{1,3}(?:,\d{3})*\.\d+|(?<![0-9a-zA-Z.,])\d{1,3}(?:,\d{3})+"
)
"""A number as the status page writes an amount in its unit (`1,234.50 USD`)."""
FORMATTED_DIGITS = 4
"""Significant digits a formatted amount needs to be looked for (1.00 is everywhere)."""


def get_significant_digits(value: int | str) -> str:
    """The digits of an amount without grouping, point, sign or zeros at either end: how an
    integer in smallest units and its figure in whole units (any decimals) compare."""
    digits = "".join(c for c in str(value) if c.isdigit())
    return digits.strip("0")


SignedQuery = tuple[str, list[dict[str, str]]]
"""The EIP-712 type a member signs for a member route, and its fields."""
SIGNED_QUERIES: dict[str, SignedQuery] = {
    "queryAccount": ("AccountQuery", ACCOUNT_QUERY_FIELDS),
    "queryAccountEvents": ("AccountEvents", ACCOUNT_EVENTS_FIELDS),
    "queryAccountProof": ("AccountProof", ACCOUNT_PROOF_FIELDS),
    "getReportOpenings": (OPENINGS_QUERY, OPENINGS_QUERY_FIELDS),
    "streamAccountEvents": ("AccountStream", ACCOUNT_EVENTS_FIELDS),
    "queryClientRisk": ("ClientRiskQuery", CLIENTS_QUERY_FIELDS),
    "queryClientAccount": ("ClientAccountQuery", CLIENTS_QUERY_FIELDS),
}
"""Member routes by operation id: the EIP-712 type the member signs and its fields
(member, one value, issuedAtMs). A member route missing here fails the audit."""


NAMES_ADDRESSES: dict[str, str] = {
    "getLatestReport": "a report names each account so its member finds its row; the "
    "address is on chain with the member's deposits, the values are commitments",
    "getReport": "as getLatestReport",
    "getPendingWithdrawals": "the vault pays each withdrawal on chain to this address",
    "getWithdrawal": "as getPendingWithdrawals",
}
"""Public routes that may show a member's address (never its amounts or positions),
by operation id, and why the address is no secret there (docs/privacy.md)."""


PUBLIC_TX_KINDS = frozenset({"PriceUpdate", "ReportCommitment"})
"""Transactions that carry only public facts (prices, a report's hash and the quorum's
signatures, which the report itself shows): their bytes may appear anywhere."""
STRANGERS_GUESS = "0x" + "ab" * 32
"""The transaction hash a stranger asks GET /v1/txs/{hash} for: it knows no real one."""
SUBMITTED = "202"
"""The status of a submission: the route answers a transaction hash, and reads nothing."""


class AuditError(Exception):
    """The audit cannot read a route the listener serves, so cannot vouch for it."""


@dataclass(frozen=True)
class Leak:
    where: str  # "GET /v1/blocks/12"
    what: str  # "member-3's address"

    def __str__(self) -> str:
        return f"privacy: {self.where} shows {self.what}"


@dataclass
class Secrets:
    """What a stranger must not read: each member's address, amounts and positions, and
    the committed transactions' bytes."""

    addresses: dict[str, str] = field(default_factory=dict)
    """Lowercase hex without 0x -> the member's name."""
    amounts: dict[int, str] = field(default_factory=dict)
    """A member's cash, collateral, P&L, equity or margin -> what it is."""
    amount_digits: dict[str, str] = field(default_factory=dict)
    """The same amounts by `get_significant_digits`, to find them written in their unit."""
    positions: dict[tuple[str, int], str] = field(default_factory=dict)
    """(instrument, signed quantity) -> whose position."""
    tx_fragments: dict[str, str] = field(default_factory=dict)
    """Hex of 24 bytes from a transaction's middle -> which transaction."""
    tx_base64: dict[str, str] = field(default_factory=dict)
    """Base64 of 24 bytes from a transaction's middle, at an offset that is a multiple of 3
    -> which: how the transaction's own base64 (CometBFT's RPC) shows them."""
    tx_hashes: dict[str, str] = field(default_factory=dict)
    """A transaction's hash (hex) -> which: it opens GET /v1/txs/{hash} to whoever has it."""
    tx_refs: dict[str, str] = field(default_factory=dict)
    """Base64 of a CometBFT block's reference to a transaction (node/storage/comet_compact.py),
    from its fourth byte -> which: how CometBFT's RPC shows a block naming it."""

    def add_amount(self, value: int, what: str) -> None:
        if len(str(abs(value))) >= SECRET_DIGITS:
            self.amounts.setdefault(value, what)
            digits = get_significant_digits(value)
            if len(digits) >= FORMATTED_DIGITS:
                self.amount_digits.setdefault(digits, what)

    def drop_public(self, figures: Iterable[int]) -> None:
        """Forget the amounts that equal a public figure or share its digits: an answer
        showing that figure could not be told from a leak. They coincide by construction,
        not by a leak: the initial margin of 200 lots of a perpetual at a 5% scan range is
        ten times its mark price, which the page writes with the same digits."""
        for figure in figures:
            self.amounts.pop(figure, None)
            self.amount_digits.pop(get_significant_digits(figure), None)

    def add(self, other: Secrets) -> None:
        """Add `other`'s secrets to these (a name already known for one stays)."""
        for record in fields(self):
            mine: dict[Any, str] = getattr(self, record.name)
            for key, what in getattr(other, record.name).items():
                mine.setdefault(key, what)

    def add_tx(self, tx: bytes, what: str) -> None:
        middle = len(tx) // 2
        fragment = tx[middle - 12 : middle + 12]
        if len(fragment) == 24:
            self.tx_fragments.setdefault(fragment.hex(), what)
        start = (middle - 12) // 3 * 3  # base64 maps each 3 bytes to 4 characters
        aligned = tx[start : start + 24]
        if start >= 0 and len(aligned) == 24:
            self.tx_base64.setdefault(base64.b64encode(aligned).decode(), what)
        self.tx_hashes.setdefault(compute_tx_hash(tx).hex(), what)
        self.tx_refs.setdefault(base64.b64encode(make_ref(tx)[3:]).decode(), what)


def collect_secrets(
    state: ClearingState,
    names: dict[bytes, str],
    txs: Sequence[bytes],
    on_chain: set[int],
    prices: Iterable[int] = (),
) -> Secrets:
    """The secrets of the members in `names` at `state`, and of `txs`.

    `on_chain` are amounts the chains show anyway (deposits, paid withdrawals): a
    collateral balance equal to one is not a secret the API could leak. `prices` are
    the prices the network published: no amount that a price's figure matches is looked
    for (`Secrets.drop_public`).
    """
    secrets = Secrets()
    for member, name in names.items():
        secrets.addresses[member.hex()] = name
        record = state.members.get(member)
        for sub_account, account in ({} if record is None else record.sub_accounts).items():
            secrets.add_amount(account.cash, f"{name}'s cash")
            for quanta in account.collateral.values():
                if quanta not in on_chain:
                    secrets.add_amount(quanta, f"{name}'s collateral balance")
            for iid, position in account.positions.items():
                if position.quantity:
                    secrets.positions[iid, position.quantity] = f"{name}'s {iid} position"
                secrets.add_amount(position.realised_pnl, f"{name}'s realised P&L on {iid}")
            risk = get_member_risk(state, member, sub_account)
            if risk is not None:
                secrets.add_amount(risk.equity, f"{name}'s equity")
                secrets.add_amount(risk.initial_margin, f"{name}'s initial margin")
                secrets.add_amount(risk.maintenance_margin, f"{name}'s maintenance margin")
    for tx in txs:
        kind = get_tx_kind(tx)
        if kind not in PUBLIC_TX_KINDS:
            secrets.add_tx(tx, f"{kind} 0x{compute_tx_hash(tx).hex()[:16]}")
    secrets.drop_public(prices)
    return secrets


def get_configuration_figures(state: ClearingState) -> list[int]:
    """The numbers of the configuration in force, as `GET /v1/governance/configuration`
    shows them: public, so a member's amount that equals one (a realised P&L of 100,800
    against the 100,800 blocks a governance vote may last) cannot be told from a leak
    (`Secrets.drop_public`)."""
    return list(_get_integers(get_configuration_view(state)))


def _get_integers(value: object) -> Iterator[int]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _get_integers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _get_integers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield value
    elif isinstance(value, str) and INTEGER.fullmatch(value):
        yield int(value)


def find_tx_leaks(body: str, secrets: Secrets) -> list[str]:
    """What `body` shows of the transactions and the members' addresses (in hex or, the
    transactions, base64): all a consensus engine's answers could hold of a member."""
    text = body.lower()
    found = [f"{name}'s address" for address, name in secrets.addresses.items() if address in text]
    found += [f"the bytes of {what}" for frag, what in secrets.tx_fragments.items() if frag in text]
    found += [f"the bytes of {what}" for frag, what in secrets.tx_base64.items() if frag in body]
    found += [f"the hash of {what}" for hash_, what in secrets.tx_hashes.items() if hash_ in text]
    found += [f"the reference to {what}" for ref, what in secrets.tx_refs.items() if ref in body]
    return found


def find_leaks(where: str, body: str, secrets: Secrets) -> list[Leak]:
    found = find_tx_leaks(body, secrets)
    found += [
        secrets.amounts[int(n)] + f" ({n})"
        for n in NUMBER.findall(body)
        if int(n) in secrets.amounts
    ]
    found += [
        secrets.amount_digits[digits] + f" ({figure})"
        for figure in FORMATTED.findall(body)
        if (digits := get_significant_digits(figure)) in secrets.amount_digits
    ]
    for item in _json_objects(body):
        quantity = item.get("quantity")
        instrument = item.get("instrument")
        if isinstance(instrument, str) and isinstance(quantity, int):
            what = secrets.positions.get((instrument, quantity))
            if what is not None:
                found.append(f"{what} ({quantity})")
    return [Leak(where, what) for what in dict.fromkeys(found)]


def _json_objects(body: str) -> Iterator[dict[str, Any]]:
    """Every JSON object in `body`: a JSON document, or an event stream's data lines."""
    documents = [body]
    if not body.lstrip().startswith(("{", "[")):
        documents = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    for document in documents:
        try:
            yield from _walk(json.loads(document))
        except ValueError:
            continue


def _walk(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@dataclass(frozen=True)
class Known:
    """Values from the run to fill path parameters with, per parameter name."""

    params: dict[str, list[str]]
    chain_id: int
    owner: Member
    """The member whose data the member routes are asked for."""
    other: Member
    """Another member, whose signature must get nothing of `owner`'s."""
    clock_ms: Callable[[], int] = wall_clock_ms
    """When the signed requests say they were signed (the node's clock, near enough)."""


@dataclass(frozen=True)
class Answer:
    where: str  # "POST /v1/accounts/query (another member's signature)"
    body: str
    operation: str  # the route's operation id
    sent: frozenset[str] = frozenset()
    """Addresses the request carried itself (the member asked about, the signer's own):
    an answer that repeats them tells the asker nothing new."""
    status: int = 200

    def describe_status(self) -> str:
        """The HTTP status and, of a refusal, its error type: what a failure may print of
        an owner's answer (never its body, which holds the owner's account)."""
        if self.status < 400:
            return str(self.status)
        try:
            refusal = json.loads(self.body)["error"]["type"]
        except (ValueError, KeyError, TypeError):
            refusal = "no typed error"
        return f"{self.status} {refusal}"

    def find_leaks(self, secrets: Secrets) -> list[Leak]:
        if self.operation == VERIFIER_OPERATION and self.body == read_verifier_page():
            return []  # the page as built before the run: it cannot hold the run's data
        if self.operation == GENESIS_OPERATION:
            # the file the node started with, written before the run: its numbers and the
            # clearing members it names are the network's published configuration
            return []
        leaks = find_leaks(self.where, self.body, secrets)
        if self.operation in NAMES_ADDRESSES:
            return [leak for leak in leaks if not leak.what.endswith("'s address")]
        echoed = {f"{secrets.addresses[a]}'s address" for a in self.sent if a in secrets.addresses}
        return [leak for leak in leaks if leak.what not in echoed]


def read_verifier_page() -> str | None:
    """The browser verifier as `make install` built it (node/verifier/service.py serves it);
    its minified code holds many long numbers, any of which a member's amount may equal."""
    return PAGE.read_text() if PAGE.exists() else None


RouteAnswers = tuple[list[Answer], list[Answer]]
"""A route's answers to strangers, and to the member whose data it holds."""
T = TypeVar("T")


@dataclass
class Crawl:
    """What the audit read, and how many routes it covered."""

    answers: list[Answer] = field(default_factory=list)
    routes: int = 0
    own: list[Answer] = field(default_factory=list)
    """The member routes' answers to their owner."""


async def crawl_public(http: httpx.AsyncClient, url: str, known: Known) -> Crawl:
    """Read every route `url`'s /openapi.json lists, as a stranger and as `known.other`,
    `READERS` at once. A route the audit cannot read fails it before any is read."""
    crawl = Crawl()
    document = (await http.get(url + "/openapi.json", timeout=TIMEOUT_S)).json()
    crawl.answers.append(Answer("GET /openapi.json", json.dumps(document), "getOpenApi"))
    reads: list[Callable[[], Awaitable[RouteAnswers]]] = []
    for template, operations in sorted(document["paths"].items()):
        for method, operation in sorted(operations.items()):
            crawl.routes += 1
            signed = _get_signed_query(template, method, operation)
            reads += [
                partial(_read_route, http, url, path, method, operation, signed, known)
                for path in _fill(template, known)
            ]
    for answers, own in await run_in_order(reads, READERS):
        crawl.answers += answers
        crawl.own += own
    return crawl


async def run_in_order(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Each call's result in the calls' order, at most `limit` of them running at once.
    The first call (in that order) that raised re-raises its exception as it was, not
    in an exception group, once every call has ended."""
    results: list[T | Exception | None] = [None] * len(calls)
    limiter = trio.CapacityLimiter(limit)

    async def run(index: int) -> None:
        async with limiter:
            try:
                results[index] = await calls[index]()
            except Exception as exc:  # re-raised below, the calls' first in order
                results[index] = exc

    async with trio.open_nursery() as nursery:
        for index in range(len(calls)):
            nursery.start_soon(run, index)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return cast(list[T], results)


def _fill(template: str, known: Known) -> list[str]:
    paths = [template]
    for name in re.findall(r"{(\w+)}", template):
        if name not in known.params:
            raise AuditError(f"{template}: the audit has no value for {{{name}}}; add one")
        paths = [p.replace("{" + name + "}", v) for p in paths for v in known.params[name]]
    return paths


def _get_signed_query(template: str, method: str, operation: dict[str, Any]) -> SignedQuery | None:
    """The signed query a member route is asked with; None for a route asked unsigned
    alone (a GET, a public route, a submission, which answers its hash and nothing of
    anyone's account)."""
    if (
        method == "get"
        or operation.get("x-tier") != "member"
        or SUBMITTED in operation["responses"]
    ):
        return None
    signed = SIGNED_QUERIES.get(operation["operationId"])
    if signed is None:
        raise AuditError(f"{template}: a member route the audit cannot sign a request for; add it")
    return signed


async def _read(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    """The answer's status and body; of an event stream, what it sent in `STREAM_READ_S`."""
    async with http.stream(method, url, timeout=TIMEOUT_S, **kwargs) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, (await response.aread()).decode(errors="replace")
        chunks: list[str] = []
        with trio.move_on_after(STREAM_READ_S):
            async for chunk in response.aiter_text():
                chunks.append(chunk)
        return response.status_code, "".join(chunks)


async def _read_route(
    http: httpx.AsyncClient,
    url: str,
    path: str,
    method: str,
    operation: dict[str, Any],
    signed: SignedQuery | None,
    known: Known,
) -> RouteAnswers:
    """A route's answers to strangers and, of a member route, its answer to the owner."""
    where, operation_id = f"{method.upper()} {path}", operation["operationId"]
    if method == "get":
        _, body = await _read(http, "GET", url + path)
        return [Answer(where, body, operation_id)], []
    _, bare = await _read(http, "POST", url + path)
    answers = [Answer(where + " (no body)", bare, operation_id)]
    if signed is None:
        return answers, []
    _, as_other = await _read(http, "POST", url + path, json=_sign(signed, known, known.other))
    sent = frozenset(key.address.hex() for key in (known.owner, known.other))
    answers.append(Answer(where + " (another member's signature)", as_other, operation_id, sent))
    status, own = await _read(http, "POST", url + path, json=_sign(signed, known, known.owner))
    where += " (the member's own signature)"
    return answers, [Answer(where, own, operation_id, status=status)]


def _sign(signed: SignedQuery, known: Known, signer: Member) -> dict[str, Any]:
    primary_type, fields = signed
    names = [f["name"] for f in fields]
    values = (hex0x(known.owner.address), _middle(names[1], known), known.clock_ms())
    message = dict(zip(names, values, strict=True))
    signable = compute_signable(known.chain_id, primary_type, fields, message)
    signature = hex0x(sign_typed(signer.private_key, signable))
    return {"chainId": known.chain_id, "message": message, "signature": signature}


def _middle(name: str, known: Known) -> int:
    """The signed value besides member and time: the first epoch for openings, else 0
    (sub-account 0, history from height 0, the proof at the latest height)."""
    return int(known.params["epoch"][0]) if name == "epoch" else 0


def audit(crawl: Crawl, secrets: Secrets, owner: str) -> list[str]:
    """The run's failures: each leak, and a scan blind to the owner's own answers."""
    failures = [str(leak) for answer in crawl.answers for leak in answer.find_leaks(secrets)]
    seen = [leak for answer in crawl.own for leak in find_leaks(answer.where, answer.body, secrets)]
    expected = [f"{owner}'s address"]
    positions = [what for what in secrets.positions.values() if what.startswith(f"{owner}'s ")]
    for what in expected + positions[:1]:
        if not any(leak.what.startswith(what) for leak in seen):
            failures.append(
                f"privacy: the scan did not find {what} in the member's own answers "
                f"({', '.join(f'{a.where}: {a.describe_status()}' for a in crawl.own) or 'none'})"
                ": it would miss a leak"
            )
    return failures


def collect_run_secrets(net: Devnet) -> Secrets:
    """The secrets of the run's members at the replica's state, and of its recent
    transactions."""
    return collect_secrets(
        net.state,
        {m.address: m.name for m in net.members},
        [tx for _, tx in net.replica.recent_txs],
        net.replica.on_chain_amounts,
        net.replica.prices,
    )


async def check_privacy(net: Devnet, http: httpx.AsyncClient) -> None:
    """Audit the first validator's public listener against the replica's state; each
    leak, and each route the audit could not read, is a failure of the run."""
    state = net.state
    owner, other = sorted(net.members, key=lambda m: -len(_positions_of(state, m.address)))[:2]
    known = Known(
        {
            "height": ["1", str(state.height)],
            "hash": [STRANGERS_GUESS],
            "epoch": [str(r.epoch) for r in net.reports[:1]] or ["1"],
            "member": [hex0x(owner.address)],
            "nonce": ["0"],
            "id": ["1"],  # a governance proposal
        },
        net.chain_id,
        owner.key,
        other.key,
    )
    # Members go on acting while the audit reads (a market maker's auction bids, a margin
    # call met) and the node answers at its own height, ahead of the replica's: the
    # secrets are those of every height from here to the node's height after the crawl
    # (a position changed in between once made the owner's answer look blind).
    secrets = collect_run_secrets(net)

    def add_block_secrets() -> None:
        secrets.add(collect_run_secrets(net))

    net.replica.block_observers.append(add_block_secrets)
    try:
        crawl = await crawl_public(http, net.homes[0].api_url, known)
        reached = await net.nodes[0].client.height()
        await wait_for(
            net,
            "the replica to reach the audited node's height",
            lambda: net.state.height >= reached,
            STEP_TIMEOUT_S,
        )
    except (AuditError, httpx.HTTPError, ValueError, StepTimeout) as exc:
        net.fail(f"privacy: {exc}")
        return
    finally:
        net.replica.block_observers.remove(add_block_secrets)
    secrets.drop_public([*net.replica.prices, *get_configuration_figures(net.state)])
    net.privacy_routes = crawl.routes
    for failure in audit(crawl, secrets, owner.name):
        net.fail(failure)


def _positions_of(state: ClearingState, member: bytes) -> list[str]:
    record = state.members.get(member)
    accounts = {} if record is None else record.sub_accounts
    return [iid for a in accounts.values() for iid, p in a.positions.items() if p.quantity]
