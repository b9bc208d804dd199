"""The report's state root followed to the chain: `clearnode verify` fails a report
whose root no quorum committed, says it could not check one that carries no anchor, and
reads the anchor only through the validator set it was given, from a point within the
trusting period: a history forked by keys that have left the set is refused from a
checkpoint after they left."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.anchor import TRUSTING_PERIOD_MS
from lightclient.commit import CommitSig
from proofs.drafting import add_signatures, sign_report
from proofs.report import Report
from proofs.report_check import EXIT_INVALID, EXIT_NOT_CHECKED, EXIT_PARTIAL, EXIT_USAGE
from proofs.sample import SAMPLE_HEIGHT
from tests.lightclient.support import GENESIS_HASH, get_powers, make_anchor, make_set_change
from tests.node.reports.support import run_verify
from tests.proofs.conftest import CHAIN_ID, Fixture

HEIGHT = SAMPLE_HEIGHT
NOW_MS = 1_800_000_000_000
OTHER_GENESIS = bytes([GENESIS_HASH[0] ^ 1]) + GENESIS_HASH[1:]


def resign(report: Report, keys: list[Ed25519PrivateKey]) -> Report:
    unsigned = replace(report, signatures=())
    return add_signatures(unsigned, [sign_report(unsigned, k) for k in keys])


def _verify(
    signed: Fixture,
    report: Report,
    tmp_path: Path,
    checkpoint: str | None = None,
    genesis_hash: bytes | None = GENESIS_HASH,
) -> tuple[int, str]:
    """`clearnode verify` of a sample report (no genesis to recompute its statement from:
    `--skip statement`), its root followed from `checkpoint` (default: the sample's
    validators at block 1, a day old) on the chain of `genesis_hash`."""
    path = tmp_path / "report.bin"
    path.write_bytes(report.encode())
    genesis = tmp_path / "genesis.json"
    validators = [
        {"pubkey": "0x" + v.public_key.hex(), "power": v.power} for v in signed.validators
    ]
    genesis.write_text(json.dumps({"chain_id": CHAIN_ID, "validators": validators}))
    if checkpoint is None:
        checkpoint = f"1:{NOW_MS - 86_400_000}:0x{get_powers(signed.keys).hash.hex()}"
    pinned = [] if genesis_hash is None else ["--genesis-hash", genesis_hash.hex()]
    return run_verify([str(path), "--validators", str(genesis), "--skip", "statement",
                       "--checkpoint", checkpoint, "--now", str(NOW_MS), *pinned])  # fmt: skip


def test_an_anchored_root_passes_and_says_by_whom(signed: Fixture, tmp_path: Path) -> None:
    code, out = _verify(signed, signed.report, tmp_path)
    assert code == EXIT_PARTIAL, out
    assert (
        f"ok    state root is the chain's after block {HEIGHT}: block {HEIGHT + 1}'s header "
        "commits to it, and its certificate carries precommits of 30 of 40 voting power "
        "(3 validators)" in out
    )


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("below quorum", "no quorum (signed power 20 of total 40)"),
        ("another root", "commits to state root 0x" + bytes(32).hex()),
        ("forged signature", "bad precommit signature"),
        ("stranger", "signer outside the validator set"),
        ("another chain", "is of chain 'clearnode-1-"),
        ("another genesis", f"is of chain 'clearnode-{CHAIN_ID}-{OTHER_GENESIS[:8].hex()}', not"),
        ("another height", f"header is of height {HEIGHT + 2}"),
    ],
)
def test_a_root_no_quorum_committed_is_invalid(
    signed: Fixture, tmp_path: Path, case: str, reason: str
) -> None:
    root, keys = signed.report.state_root, signed.keys
    outsider = Ed25519PrivateKey.from_private_bytes(bytes([0x77]) * 32)
    anchor = {
        "below quorum": lambda: make_anchor(CHAIN_ID, HEIGHT, root, keys[:2], set_keys=keys),
        "another root": lambda: make_anchor(CHAIN_ID, HEIGHT, bytes(32), keys),
        "another chain": lambda: make_anchor(1, HEIGHT, root, keys),
        "another genesis": lambda: make_anchor(
            CHAIN_ID, HEIGHT, root, keys, genesis_hash=OTHER_GENESIS
        ),
        "another height": lambda: make_anchor(CHAIN_ID, HEIGHT + 1, root, keys),
        "stranger": lambda: make_anchor(
            CHAIN_ID, HEIGHT, root, [*keys[:2], outsider], set_keys=keys
        ),
        "forged signature": lambda: make_anchor(CHAIN_ID, HEIGHT, root, keys[:3], set_keys=keys),
    }[case]()
    if case == "forged signature":
        first, second, third = anchor.commit.signatures
        forged = (first, second, CommitSig(third.validator, bytes(64)))
        anchor = replace(anchor, commit=replace(anchor.commit, signatures=forged))
    report = replace(signed.report, anchor=anchor)
    code, out = _verify(signed, report, tmp_path)
    assert code == EXIT_INVALID, out
    assert f"FAIL  state root is not the chain's after block {HEIGHT}: " in out and reason in out
    assert "solvency proofs of 4 accounts" in out  # only the anchor fails


def test_without_the_genesis_hash_the_root_could_not_be_followed(
    signed: Fixture, tmp_path: Path
) -> None:
    """A bare validator set names no genesis: the chain its headers are signed under is
    not known, so following the root is a check that could not be made (exit 3)."""
    code, out = _verify(signed, signed.report, tmp_path, genesis_hash=None)
    assert code == EXIT_NOT_CHECKED, out
    assert (
        "could not  state root not followed to the chain: no genesis hash given (the chain's "
        "headers are signed under a name that carries it: give the genesis, or its hash)" in out
    )
    assert "ok    quorum of 3 validator signatures" in out


def test_a_report_without_an_anchor_is_not_valid(signed: Fixture, tmp_path: Path) -> None:
    """Following the root is asked for unless skipped: a report without an anchor could
    not be checked (exit 3); skipped by name, it is valid as far as checked."""
    report = replace(signed.report, anchor=None)
    code, out = _verify(signed, report, tmp_path)
    assert code == EXIT_NOT_CHECKED, out
    assert out.startswith("VERDICT: NOT CHECKED (1 check(s) asked for could not be made)")
    assert "could not  state root not followed to the chain: the report carries no anchor" in out
    path = tmp_path / "report.bin"
    validators = tmp_path / "genesis.json"
    weak = [str(path), "--validators", str(validators), "--skip", "statement,anchor"]
    code, out = run_verify(weak)
    assert code == EXIT_PARTIAL, out
    assert out.startswith("VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: the statement "
                          "recomputed from the genesis; the state root followed to the chain "
                          "within the trusting period\n")  # fmt: skip


def test_an_anchor_signed_by_a_changed_validator_set_could_not_be_checked(
    signed: Fixture, tmp_path: Path
) -> None:
    """Governance added a validator: block H+1 commits to (and is signed by) the new set,
    which the walk from the set given does not reach; the verifier says it could not
    check rather than fail the report or pass it."""
    fifth = Ed25519PrivateKey.from_private_bytes(bytes([0x55]) * 32)
    anchor = make_anchor(CHAIN_ID, HEIGHT, signed.report.state_root, [*signed.keys, fifth])
    code, out = _verify(signed, replace(signed.report, anchor=anchor), tmp_path)
    assert code == EXIT_NOT_CHECKED, out
    assert (
        "could not  state root not followed to the chain: block 71 is signed by the "
        "validator set 0x" in out
    )
    assert "the anchor does not carry the change of the validator set that leads to it" in out
    assert "FAIL" not in out and "state root is the chain's" not in out


def test_a_report_signed_after_set_changes_is_followed_to_its_signers(
    signed: Fixture, tmp_path: Path
) -> None:
    """Governance added a fifth validator before the epoch's block and then removed the
    first: the genesis set signs the first change, the set it made the second; block
    H+1 is signed by the second set's, the report by the last, none of which
    `--validators genesis.json` holds."""
    keys = signed.keys
    fifth, sixth = (Ed25519PrivateKey.from_private_bytes(bytes([b]) * 32) for b in (0x55, 0x56))
    added, removed = [*keys, fifth], [*keys[2:], fifth, sixth]
    first = make_set_change(CHAIN_ID, HEIGHT - 10, keys, added)
    second = make_set_change(CHAIN_ID, HEIGHT + 3, added, removed)
    report = resign(signed.report, removed)
    anchor = make_anchor(CHAIN_ID, HEIGHT, report.state_root, added, set_changes=[first, second])
    code, out = _verify(signed, replace(report, anchor=anchor), tmp_path)
    assert code == EXIT_PARTIAL, out
    assert (
        "ok    quorum of 4 validator signatures over chain 4242, epoch 42 and the report "
        f"hash, by the validator set in force from block {HEIGHT + 4}" in out
    )
    assert (
        "ok    validator set followed through 2 changes since the set given, each committed "
        f"by the set before it (the last in block {HEIGHT + 3})" in out
    )
    assert "precommits of 50 of 50 voting power (5 validators)" in out
    assert "state root not followed" not in out

    code, out = _verify(signed, replace(report, anchor=replace(anchor, set_changes=(first,))),
                        tmp_path)  # fmt: skip
    assert code == EXIT_INVALID, out  # the last set is not shown: its signature is a stranger's
    assert f"FAIL  signature by {sixth.public_key().public_bytes_raw().hex()}, not in" in out


def test_a_set_change_no_quorum_of_the_set_before_it_signed_is_invalid(
    signed: Fixture, tmp_path: Path
) -> None:
    """Strangers elect themselves: the change is signed by keys the genesis does not hold."""
    strangers = [Ed25519PrivateKey.from_private_bytes(bytes([0x60 + i]) * 32) for i in range(4)]
    forged = make_set_change(CHAIN_ID, HEIGHT - 10, strangers, strangers, set_keys=signed.keys)
    report = resign(signed.report, strangers)
    anchor = make_anchor(CHAIN_ID, HEIGHT, report.state_root, strangers, set_changes=[forged])
    code, out = _verify(signed, replace(report, anchor=anchor), tmp_path)
    assert code == EXIT_INVALID, out
    assert (
        f"FAIL  validator set not followed from the checkpoint of block 1: the validator-set "
        f"change in "
        f"block {HEIGHT - 10} is not the chain's: its header is not committed: invalid commit "
        f"at height {HEIGHT - 10}: signer outside the validator set" in out
    )
    assert "FAIL  signature by" in out  # checked against the genesis set: strangers


def test_the_walk_starts_within_the_trusting_period(signed: Fixture, tmp_path: Path) -> None:
    """A trusted point older than the trusting period on the verifier's clock is not
    walked from (exit 3, naming its age); the same one a day younger is."""
    power_hash = get_powers(signed.keys).hash.hex()
    old = NOW_MS - TRUSTING_PERIOD_MS - 1
    code, out = _verify(signed, signed.report, tmp_path, f"1:{old}:0x{power_hash}")
    assert code == EXIT_NOT_CHECKED, out
    assert (
        f"could not  state root not followed to the chain: the point the walk starts from "
        f"(time {old} ms) is 14.0 days old, more than the trusting period of 14 days: keys "
        f"that have left the validator set since could sign another history" in out
    )
    fresh = f"1:{old + 86_400_000}:0x{power_hash}"
    assert _verify(signed, signed.report, tmp_path, fresh)[0] == EXIT_PARTIAL
    code, out = _verify(signed, signed.report, tmp_path, f"{HEIGHT + 2}:{NOW_MS}:0x{power_hash}")
    assert code == EXIT_NOT_CHECKED, out
    assert f"the checkpoint is of block {HEIGHT + 2}, after the anchor's block {HEIGHT + 1}" in out
    assert _verify(signed, signed.report, tmp_path, "1:0x00")[0] == EXIT_USAGE


def test_a_long_range_fork_by_departed_keys_is_refused_from_a_checkpoint(
    signed: Fixture, tmp_path: Path
) -> None:
    """The chain replaced the first set at block 10; its keys, departed, sign a history of
    their own: a report of epoch 42 that says the set never changed. Walked from block 1
    nothing tells it from the chain's (the trusting period is what bounds that); from a
    checkpoint of block 20, which names the set the chain had there, it is refused."""
    departed = signed.keys
    successors = [Ed25519PrivateKey.from_private_bytes(bytes([0x80 + i]) * 32) for i in range(4)]
    fork = replace(signed.report, anchor=make_anchor(CHAIN_ID, HEIGHT, signed.report.state_root,
                                                     departed))  # fmt: skip
    code, out = _verify(signed, fork, tmp_path)
    assert code == EXIT_PARTIAL, out  # from block 1, the departed keys are the set
    checkpoint = f"20:{NOW_MS - 3_600_000}:0x{get_powers(successors).hash.hex()}"
    code, out = _verify(signed, fork, tmp_path, checkpoint)
    assert code == EXIT_INVALID, out
    assert (
        f"FAIL  validator set not followed from the checkpoint of block 20: the anchor's set "
        f"changes put the set 0x{get_powers(departed).hash.hex()} in force at block 20, and "
        f"the checkpoint says 0x{get_powers(successors).hash.hex()}: a history the "
        f"checkpoint's set did not sign" in out
    )
    # the chain's own report, signed by the successors, is followed from the same checkpoint
    change = make_set_change(CHAIN_ID, 10, departed, successors)
    report = resign(signed.report, successors)
    anchor = make_anchor(CHAIN_ID, HEIGHT, report.state_root, successors, set_changes=[change])
    code, out = _verify(signed, replace(report, anchor=anchor), tmp_path, checkpoint)
    assert code == EXIT_PARTIAL, out
    assert "ok    validator set taken from the checkpoint of block 20 (set 0x" in out
