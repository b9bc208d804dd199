"""The devnet's roster: every simulated member, client and the venue, each with the one
command that prints its public test key, the key the devnet's genesis names and signs
with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devnet.clients import CLIENTS, add_clearing_members
from devnet.genesis import VENUE_ID, build_genesis_template
from devnet.market import make_members
from devnet.roster import KEY_COMMAND, describe_roster
from node.commands import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operator.md"


def test_each_one_listed_has_a_command_printing_the_key_the_devnet_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    members = make_members(9)  # a derivatives trader beyond the eight roles
    lines = describe_roster(members)
    for member in members:
        assert any(line.split()[:3] == [member.name, "clearing", "member:"]
                   and member.role in line for line in lines)  # fmt: skip
    shown = {}
    for line in lines:
        if KEY_COMMAND in line:
            assert main(line[line.index(KEY_COMMAND) :].split()[1:]) == 0
            printed = capsys.readouterr()
            assert "PUBLIC TEST KEY" in printed.err
            shown[line.split()[0]] = json.loads(printed.out)
    signers = {m.name: m.key for m in [*members, *CLIENTS]}
    assert set(shown) == {*signers, VENUE_ID}
    for name, key in signers.items():  # what each signs with
        assert shown[name] == {
            "name": name,
            "address": key.address_hex,
            "private_key": "0x" + key.private_key.hex(),
        }
    genesis = build_genesis_template([], 30)  # what the network knows them by
    add_clearing_members(genesis, members)
    assert genesis["clearing_members"] == [shown[m.name]["address"] for m in members]
    assert [c["address"] for c in genesis["clients"]] == [shown[c.name]["address"] for c in CLIENTS]
    assert genesis["venues"] == [{"id": VENUE_ID, "pubkey": shown[VENUE_ID]["public_key"]}]


def test_the_operator_guide_shows_the_roster_of_a_default_devnet() -> None:
    assert "\n".join(describe_roster(make_members(8))) in GUIDE.read_text()


def test_a_sandbox_key_needs_one_name() -> None:
    assert main(["keys", "sandbox"]) == 2
    assert main(["keys", "sandbox", "member-0", "--venue", VENUE_ID]) == 2
