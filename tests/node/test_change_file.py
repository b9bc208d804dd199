"""Change files (node/change_file.py): the examples in docs/governance.md, each valid
against the example genesis, and bad files refused naming the file and the field."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from clearing.context import Equivocation
from clearing.governance.change_form import FIELD_NAMES, from_plain, to_plain
from clearing.governance.rules import build_draft
from clearing.governance_changes import CHANGE_TYPES
from clearing.upgrade_plan import UpgradePlan
from devnet.sandbox import Sandbox
from node.change_file import ChangeFileError, load_change_file
from records.codec import MAX_EVIDENCE_AGE_BLOCKS

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
GATEWAY = {"id": "gateway", "pubkey": "0x" + "11" * 32, "chains": [31337]}
ROLLING = {
    "id": "BTC-ROLLING", "prefix": "BTC", "cycle": "quarterly", "series": 1,
    "future": {"underlying": "BTC", "index_feed": "BTC/0.001", "contract_size": "0.001",
               "tick_size": 100, "price_band_bps": 500, "fee_bps": 5, "settlement": "cash"},
}  # fmt: skip
"""Installed at genesis, so that the example removing a template has one to remove."""


def get_doc_examples() -> list[tuple[str, str]]:
    """(suffix, text) of every fenced example in docs/governance.md's "Change files"."""
    text = (ROOT / "docs" / "governance.md").read_text()
    section = text.split("## Change files", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(toml|json)\n(.*?)```", section, re.S)


def test_every_doc_example_loads_and_is_valid_against_the_example_genesis(
    tmp_path: Path,
) -> None:
    doc = copy.deepcopy(GENESIS)
    doc["external_bridges"] = [GATEWAY]
    doc["listing_templates"] = [ROLLING]
    box = Sandbox.from_genesis_doc(doc)
    jailed = bytes.fromhex(doc["validators"][3]["pubkey"][2:])
    box.apply([], (Equivocation(jailed, 1),))  # jailed long enough ago to be unjailed
    for _ in range(MAX_EVIDENCE_AGE_BLOCKS + 1):
        box.apply([])
    box.state.upgrade_plan = UpgradePlan("v0.3.0", 10**9, "0.3.0")  # one to cancel
    kinds = []
    for n, (suffix, text) in enumerate(get_doc_examples()):
        path = tmp_path / f"example{n}.{suffix}"
        path.write_text(text)
        changes = load_change_file(path)
        build_draft(box.state, changes)  # raises the refusal the block would
        kinds += [c.NAME for c in changes]
        assert [from_plain(to_plain(c)) for c in changes] == list(changes)
    assert sorted(set(kinds)) == sorted(FIELD_NAMES) == sorted(CHANGE_TYPES)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ('[[changes]]\nkind = "add_venue"\nvenue = "b"\npubkey = "zz"', "changes[0].pubkey",
         "0x-hex"),
        ('[[changes]]\nkind = "add_venue"\nvenue = "b"\npubkey = "0x00"', "changes[0].pubkey",
         "32 bytes"),
        ('[[changes]]\nkind = "add_venue"\nvenue = "b"', "changes[0].pubkey", "missing"),
        ('[[changes]]\nkind = "add_venu"', "changes[0].kind", "is not one of"),
        # each refusal names the file's field, not the record's (`instrument_id`, the
        # `validator.peer_id` of the genesis record the change carries)
        ('[[changes]]\nkind = "set_fee"\ninstrument = ""\nfee_bps = 1', "changes[0].instrument",
         "1..64"),
        (f'[[changes]]\nkind = "add_validator"\nname = "v"\npubkey = "0x{"11" * 32}"\n'
         f'power = 1\nevm_address = "0x{"22" * 20}"\npeer_id = "{"p" * 257}"',
         "changes[0].peer_id", "1..256"),
        (f'[[changes]]\nkind = "add_external_bridge"\nbridge = "b"\npubkey = "0x{"11" * 32}"\n'
         "chains = [2, 1]", "changes[0].chains", "ascending"),
        ('[[changes]]\nkind = "remove_venue"\nvenue = "b"\nextra = 1', "changes[0].extra",
         "is not a field"),
        ('[[changes]]\nkind = "settle_perpetual"\ninstrument = "X"\nprice = -1',
         "changes[0].price", ""),
        ('[[changes]]\nkind = "list_instrument"\nmark_price = 5\ninstrument = "x"',
         "changes[0].instrument", "a table"),
        ("changes = []", "changes", "non-empty"),
        ("change = 1", "change", "unknown key"),
        ("[[changes]\n", "<file>", "not toml"),
    ],
)  # fmt: skip
def test_a_bad_change_file_names_its_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ChangeFileError) as raised:
        load_change_file(path)
    assert raised.value.field == field and reason in raised.value.reason, str(raised.value)
    assert str(raised.value).startswith(f"{path}: {field}: ")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ChangeFileError, match="cannot read it"):
        load_change_file(tmp_path / "absent.json")
