"""Who plays on the devnet, printed at its start: each simulated member's and client's
name, role and the one command that prints its public test key, the venue's, and the
anvil account that deposits for them and relays their withdrawals. A member trying the
devnet signs as any of them with those keys; the log and the summary name them so."""

from __future__ import annotations

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import account_from_key
from devnet.clients import CLIENTS, GUARANTOR_ROLE, Client
from devnet.genesis import VENUE_ID
from devnet.market import Member, get_role

KEY_COMMAND = "clearnode keys sandbox"


def describe_roster(members: list[Member]) -> list[str]:
    rows = [(m.name, f"clearing member: {m.role}", f"{KEY_COMMAND} {m.name}") for m in members]
    rows += [(c.name, describe_client(c, members), f"{KEY_COMMAND} {c.name}") for c in CLIENTS]
    rows.append((VENUE_ID, "venue: signs the trade batches", f"{KEY_COMMAND} --venue {VENUE_ID}"))
    widths = [max(len(row[n]) for row in rows) for n in (0, 1)]
    relayer = account_from_key(DEV_PRIVATE_KEY).address
    return [
        "the devnet's members and venue, each with the command that prints its PUBLIC TEST "
        "KEY (anyone can sign as them):",
        *(f"  {name:<{widths[0]}}  {role:<{widths[1]}}  {command}" for name, role, command in rows),
        f"  the anvil chains' dev account {relayer} deposits for the members and relays their "
        f"withdrawals; its key, as public: {DEV_PRIVATE_KEY}",
    ]


def describe_client(client: Client, members: list[Member]) -> str:
    guarantor = get_role(members, GUARANTOR_ROLE).name
    if client.backup_role is None:
        return f"{client.model} client of {guarantor}, no backup"
    backup = get_role(members, client.backup_role).name
    return f"{client.model} client of {guarantor}, backup {backup}"
