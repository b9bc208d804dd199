"""`clearnode gov propose|vote|list|show`: an operator's governance through a node's API.

`propose` and `vote` sign with the validator key of the node home (`--home`), send the
transaction to the node's API (`--api`, default the home's own node), wait until a
block includes it and print the outcome; `list` and `show` read proposals. Exit codes:
0 done, 1 refused (by this tool's checks, the API or the block), 2 bad arguments, files
or keys."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_ballot
from clearing.governance_proposal import VoteChoice
from clearing.transition.tx import encode_tx
from clearing.tx_kind import TxRecord
from node.change_file import ChangeFileError, load_change_file
from node.commands.status import get_api_url
from node.config import load_config
from node.config_table import ConfigError
from node.keys import VALIDATOR_KEY, KeyFileError, load_key

DEFAULT_VOTING_BLOCKS = 7_200
"""Blocks until the vote closes when neither --deadline-height nor --voting-blocks is given
(clipped to the genesis `governance.max_voting_blocks`)."""
POLL_S = 0.5


class GovCommandError(Exception):
    """Why a gov command stopped; ``exit_code`` 1 for a refusal, 2 for bad input."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


SUMMARY = "governance: propose changes, vote, list and show proposals"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("gov", help=SUMMARY)
    actions = parser.add_subparsers(dest="gov_command", metavar="ACTION", required=True)
    propose = actions.add_parser("propose", help="propose changes (a validator)")
    add_node_arguments(propose, signs=True)
    propose.add_argument(
        "--change",
        type=Path,
        action="append",
        required=True,
        help="change file (.toml or .json; repeatable): docs/governance.md",
    )
    propose.add_argument("--deadline-height", type=int, help="the vote closes after this block")
    propose.add_argument(
        "--voting-blocks",
        type=int,
        help=f"or: the vote closes this many blocks from now (default {DEFAULT_VOTING_BLOCKS})",
    )
    propose.add_argument(
        "--execute-height",
        type=int,
        help="delayed changes execute at this height (default: the deadline "
        "plus the genesis governance.min_delay_blocks)",
    )
    propose.set_defaults(handler=run_propose)
    vote = actions.add_parser("vote", help="vote on a proposal (a validator)")
    add_node_arguments(vote, signs=True)
    vote.add_argument("id", type=int, help="proposal id")
    vote.add_argument("choice", choices=[c.value for c in VoteChoice])
    vote.set_defaults(handler=run_vote)
    show_list = actions.add_parser("list", help="list proposals with their tally")
    add_node_arguments(show_list, signs=False)
    show_list.add_argument("--json", action="store_true", help="the API's JSON")
    show_list.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="one proposal with its ballots and outcome")
    add_node_arguments(show, signs=False)
    show.add_argument("id", type=int, help="proposal id")
    show.set_defaults(handler=run_show)  # fmt: skip


def add_node_arguments(parser: argparse.ArgumentParser, signs: bool) -> None:
    help_home = "node home: its validator key signs" if signs else "node home: its API"
    parser.add_argument("--home", type=Path, required=signs, help=help_home)
    parser.add_argument("--api", help="API base URL (default: the home's node)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for inclusion (default 60)")  # fmt: skip


@dataclass
class Api:
    url: str
    timeout: float

    def get(self, path: str) -> Any:
        return self._answer(path, lambda: httpx.get(self.url + path, timeout=10.0))

    def post_tx(self, path: str, record: TxRecord) -> str:
        raw = encode_tx(record)
        body = {"tx": "0x" + raw.hex()}
        answer = self._answer(path, lambda: httpx.post(self.url + path, json=body, timeout=10.0))
        return str(answer["tx_hash"])

    def _answer(self, path: str, send: Callable[[], httpx.Response]) -> Any:
        try:
            response = send()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GovCommandError(f"no answer from {self.url}{path} ({exc})") from None
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            details = error.get("details") or {}
            numbers = "".join(f"\n  {k}: {v}" for k, v in details.items())
            raise GovCommandError(
                f"refused by {self.url}: {error.get('type')}: {error.get('message')}{numbers}"
            )
        return body

    def wait_for(self, tx_hash: str) -> dict[str, Any]:
        """The committed outcome of ``tx_hash``; raises once ``timeout`` passes."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            outcome: dict[str, Any] = self.get(f"/v1/txs/{tx_hash}")
            if outcome["status"] == "committed":
                return outcome
            time.sleep(POLL_S)
        raise GovCommandError(f"{tx_hash} not included within {self.timeout} s")


def open_api(args: argparse.Namespace) -> Api:
    if args.api is None and args.home is None:
        raise GovCommandError("give --home (its node's API) or --api URL", 2)
    try:
        return Api(get_api_url(args), args.timeout)
    except ConfigError as exc:
        raise GovCommandError(str(exc), 2) from None


def load_signer(args: argparse.Namespace, api: Api) -> tuple[Ed25519PrivateKey, int]:
    """The home's validator key and chain id, checked against the node and its validator
    set (the API would refuse NotAValidator; this says which key and set)."""
    try:
        config = load_config(args.home)
        key = load_key(config.validator_key_file, VALIDATOR_KEY).ed25519()
    except (ConfigError, KeyFileError) as exc:
        raise GovCommandError(str(exc), 2) from None
    status = api.get("/v1/status")
    if status["chain_id"] != config.chain_id:
        raise GovCommandError(
            f"{api.url} is chain {status['chain_id']}, {args.home} is chain {config.chain_id}", 2
        )
    pubkey = "0x" + key.public_key().public_bytes_raw().hex()
    validators = api.get("/v1/validators")["validators"]
    if pubkey not in {v["pubkey"] for v in validators}:
        raise GovCommandError(
            f"not a validator: {args.home}'s key {pubkey} is not among the "
            f"{len(validators)} validators at height {status['height']}"
        )
    return key, config.chain_id


def run_propose(args: argparse.Namespace) -> int:
    return run(args, propose)


def run_vote(args: argparse.Namespace) -> int:
    return run(args, vote)


def run_list(args: argparse.Namespace) -> int:
    return run(args, list_proposals)


def run_show(args: argparse.Namespace) -> int:
    return run(args, show_proposal)


def run(args: argparse.Namespace, action: Callable[[argparse.Namespace, Api], None]) -> int:
    try:
        action(args, open_api(args))
    except GovCommandError as exc:
        print(f"clearnode gov {args.gov_command}: {exc}")
        return exc.exit_code
    return 0


def propose(args: argparse.Namespace, api: Api) -> None:
    try:
        changes = tuple(c for path in args.change for c in load_change_file(path))
    except ChangeFileError as exc:
        raise GovCommandError(f"bad change file {exc}", 2) from None
    key, chain_id = load_signer(args, api)
    config = api.get("/v1/governance/configuration")
    periods, height = config["governance"], config["height"]
    deadline = args.deadline_height
    if deadline is None:
        voting = args.voting_blocks or min(DEFAULT_VOTING_BLOCKS, periods["max_voting_blocks"])
        deadline = height + voting
    emergency = all(c.EMERGENCY for c in changes)
    execute = args.execute_height
    if execute is None:
        execute = 0 if emergency else deadline + periods["min_delay_blocks"]
    tx = sign_proposal(key, chain_id, changes, deadline, execute)
    outcome = include(api, "/v1/governance/proposals", tx)
    submitted = next(
        e["fields"] for e in outcome["events"] if e["kind"] == "gov_proposal_submitted"
    )
    shown = {**summarize(outcome), "proposal": submitted["proposal"]}
    print(json.dumps({**shown, "deadline_height": deadline, "execute_height": execute}, indent=2))


def vote(args: argparse.Namespace, api: Api) -> None:
    key, chain_id = load_signer(args, api)
    proposal = get_proposal(api, args.id)
    if proposal["status"] != "voting" or proposal["height"] >= proposal["deadline_height"]:
        raise GovCommandError(
            f"the vote on proposal {args.id} is closed: status {proposal['status']}, deadline "
            f"height {proposal['deadline_height']}, height now {proposal['height']}"
        )
    pubkey = "0x" + key.public_key().public_bytes_raw().hex()
    mine = [b["sequence"] for b in proposal["ballots"] if b["voter"] == pubkey]
    digest = bytes.fromhex(proposal["digest"][2:])
    choice = VoteChoice(args.choice)
    tx = sign_ballot(key, chain_id, args.id, digest, choice, mine[0] + 1 if mine else 0)
    outcome = include(api, "/v1/governance/votes", tx)
    print(json.dumps({**summarize(outcome), "proposal": args.id, "choice": choice.value},
                     indent=2))  # fmt: skip


def include(api: Api, path: str, tx: TxRecord) -> dict[str, Any]:
    """Submit ``tx`` and wait for its block; a refusal in the block is an error."""
    outcome = api.wait_for(api.post_tx(path, tx))
    if outcome["code"] != "ok":
        raise GovCommandError(
            f"refused in block {outcome['height']}: {outcome['code']}: {outcome['detail']}"
        )
    return outcome


def summarize(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"tx_hash": outcome["tx_hash"], "height": outcome["height"], "code": outcome["code"]}


def get_proposal(api: Api, proposal_id: int) -> dict[str, Any]:
    try:
        proposal: dict[str, Any] = api.get(f"/v1/governance/proposals/{proposal_id}")
    except GovCommandError as exc:
        if "UnknownProposal" in str(exc):
            raise GovCommandError(f"unknown proposal {proposal_id}") from None
        raise
    return proposal


def list_proposals(args: argparse.Namespace, api: Api) -> None:
    answer = api.get("/v1/governance/proposals")
    if args.json:
        print(json.dumps(answer, indent=2))
        return
    print(f"height {answer['height']}")
    for line in format_proposals(answer["proposals"]):
        print(line)


def format_proposals(proposals: list[dict[str, Any]]) -> list[str]:
    """One line per proposal: id, status, heights, tally, the kinds of its changes."""
    row = "{:>4}  {:<9} {:>9} {:>9}  {:<24} {}"
    lines = [
        row.format("id", "status", "deadline", "executes", "yes/no/abstain of total", "changes")
    ]
    for p in proposals:
        t = p["tally"]
        lines.append(
            row.format(
                p["id"],
                p["status"],
                p["deadline_height"],
                "on pass" if p["emergency"] else p["execute_height"],
                f"{t['yes']}/{t['no']}/{t['abstain']} of {t['total_power']}",
                ", ".join(c["kind"] for c in p["changes"]),
            )
        )
    return lines


def show_proposal(args: argparse.Namespace, api: Api) -> None:
    print(json.dumps(get_proposal(api, args.id), indent=2))
