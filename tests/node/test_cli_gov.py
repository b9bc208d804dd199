"""`clearnode gov` refusals, each in plain words with its numbers, against a real API
server (a real mempool and ledger state) and node homes as `clearnode init` lays out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearing.genesis import Venue
from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import AddVenue, RemoveVenue
from clearing.governance_proposal import VoteChoice
from devnet.sandbox import Sandbox
from node.commands import main
from tests.node.apiserver import serve_app_in_thread
from tests.node.netproc import NodeHome
from tests.node.test_api import GENESIS, MAX_BODY, make_app

CHANGE = '[[changes]]\nkind = "add_venue"\nvenue = "beta"\npubkey = "0x{}"\n'.format("ab" * 32)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box, _, store, app = make_app(tmp_path)
    with serve_app_in_thread(app, MAX_BODY) as url:
        yield box, url
    store.close()


def home(tmp_path: Path, validator: int) -> Path:
    node = NodeHome(tmp_path / f"home{validator}", f"n{validator}", validator)
    node.write(GENESIS, [])
    return node.path


def gov(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["gov", *args])
    return code, capsys.readouterr().out


def test_a_key_outside_the_validator_set_is_named(
    served: tuple[Sandbox, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box, url = served
    change = tmp_path / "c.toml"
    change.write_text(CHANGE)
    stranger = home(tmp_path, 9)
    code, out = gov(capsys, "propose", "--home", str(stranger), "--api", url, "--change",
                    str(change))  # fmt: skip
    assert code == 1 and "not a validator" in out and "among the 4 validators" in out, out
    assert box.state.proposals == {}


def test_bad_change_files_name_the_file_and_field(
    served: tuple[Sandbox, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    change = tmp_path / "c.toml"
    change.write_text(CHANGE.replace('"0x', '"'))
    code, out = gov(capsys, "propose", "--home", str(home(tmp_path, 0)), "--api", url,
                    "--change", str(change))  # fmt: skip
    assert code == 2 and f"bad change file {change}: changes[0].pubkey: expected 0x-hex" in out


def test_a_refusal_by_the_api_carries_its_numbers(
    served: tuple[Sandbox, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    change = tmp_path / "c.json"
    change.write_text('{"changes": [{"kind": "add_venue", "venue": "beta", "pubkey": "0x' +
                      "ab" * 32 + '"}]}')  # fmt: skip
    heights = ["--deadline-height", "4", "--execute-height", "5"]
    code, out = gov(capsys, "propose", "--home", str(home(tmp_path, 0)), "--api", url,
                    "--change", str(change), *heights)  # fmt: skip
    assert code == 1 and "DelayTooShort" in out and "earliest: 14404" in out, out


def test_unknown_proposals_and_closed_votes_are_named(
    served: tuple[Sandbox, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box, url = served
    v1 = str(home(tmp_path, 1))
    code, out = gov(capsys, "vote", "--home", v1, "--api", url, "4", "yes")
    assert code == 1 and "unknown proposal 4" in out
    code, out = gov(capsys, "show", "--api", url, "4")
    assert code == 1 and "unknown proposal 4" in out
    keys = box.validator_keys
    emergency = sign_proposal(keys[0], box.chain_id, (RemoveVenue("alpha"),), 2)
    later = sign_proposal(
        keys[0], box.chain_id, (AddVenue(Venue("beta", bytes(32))),), 9, 9 + 14_400
    )
    box.apply([emergency, later])
    box.apply([sign_vote(keys[2], box.chain_id, box.state.proposals[2], VoteChoice.NO)])
    box.apply([])  # the emergency proposal's vote closes without quorum
    code, out = gov(capsys, "vote", "--home", v1, "--api", url, "1", "yes")
    assert code == 1, out
    assert (
        "the vote on proposal 1 is closed: status rejected, deadline height 2, height now 3" in out
    )
    code, out = gov(capsys, "list", "--api", url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"height {box.state.height}"
    assert lines[2].split()[:4] == ["2", "voting", "9", str(9 + 14_400)]
    assert "0/10/0 of 40" in lines[2] and lines[2].endswith("add_venue")
    assert lines[3].split()[:5] == ["1", "rejected", "2", "on", "pass"]
