"""A solvency report's verdict from everything that needs only public data (and, for a
member, its own openings): `check_report`, from a genesis or a bare validator set
(`GivenGenesis`, `GivenValidators`), the trust a walk to the chain starts from
(`get_trust`) and the checks a member skipped (`check_skip`), answers a `ReportCheck`,
which `python -m proofs.verify` and `clearnode verify` print (proofs/verify.py) and the
SDK's `verify_report` returns, so both say the same of the same report.

The full check is the default: the statement is recomputed from the genesis and the
state root followed to the chain from the genesis's set (or a checkpoint) within the
trusting period (lightclient/anchor.py). A member who wants less says so (SKIPPABLE),
and the verdict's headline names what was not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import DEFAULT_ENGINE, Genesis, parse_genesis
from clearing.risk.engine import compute_risk_setup
from lightclient.anchor import Checkpoint, Trust
from proofs.checks import Verdict, verify_report
from proofs.clearing_members import check_clearing_members
from proofs.coverage import check_coverage
from proofs.disclosed import check_disclosed
from proofs.errors import ReportDecodeError
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, verify_member_openings
from proofs.pedersen import Generators
from proofs.recompute import check_statement, get_configured_genesis, get_scenario_names
from proofs.report import Report, VotingPower
from proofs.reserves import Unreadable, VaultReading, check_reserves

EXIT_VALID = 0
"""Every check made and passed: the statement recomputed and the root followed."""


EXIT_INVALID = 1
"""A check failed, or the report does not decode."""


EXIT_USAGE = 2
"""Bad arguments, unreadable files, a genesis that is not the one pinned by its hash, or
the weak check without asking for it (the message names what to add)."""


EXIT_NOT_CHECKED = 3
"""No check failed, but one asked for could not be made: no anchor in the report, a
trusted point older than the trusting period, a chain or a node that did not answer, a
node's genesis that is not the one pinned."""


EXIT_PARTIAL = 4
"""No check failed, but the member skipped some (`--skip`): valid only as far as checked.
Not 0, so that a script testing for 0 never takes a partial check for the full one."""


SKIPPABLE = {
    "statement": "the statement recomputed from the genesis",
    "anchor": "the state root followed to the chain within the trusting period",
}
"""What `--skip` may leave out, and how the verdict's headline names it."""


class UsageError(Exception):
    """Bad arguments or unreadable input files (exit code 2)."""


class Outcome(StrEnum):
    """A verification's verdict, in the words of its headline."""

    VALID = "VALID"
    """Every check made and passed: the statement recomputed and the root followed."""
    INVALID = "INVALID"
    """A check failed."""
    NOT_CHECKED = "NOT CHECKED"
    """No check failed, but one asked for could not be made."""
    PARTIAL = "VALID ONLY AS FAR AS CHECKED"
    """No check failed, but the member skipped some: valid only as far as checked."""


@dataclass(frozen=True)
class GivenGenesis:
    """The genesis a verification starts from, its hash and where it came from."""

    genesis: Genesis
    hash: bytes
    source: str

    @property
    def validators(self) -> list[VotingPower]:
        """The genesis's validator set, from which the walk to the report's signers starts."""
        return [VotingPower(v.pubkey, v.power) for v in self.genesis.validators]

    @property
    def chain_id(self) -> int:
        """The chain the report must be of."""
        return self.genesis.chain_id

    def describe(self) -> str:
        """The verdict's line naming the genesis: its hash and where it came from."""
        return f"genesis 0x{self.hash.hex()} ({self.source})"


@dataclass(frozen=True)
class GivenValidators:
    """A bare validator set instead of a genesis (`--validators`, the statement skipped):
    no genesis time, no statement to recompute; the chain id, if the member knows it."""

    validators: list[VotingPower]
    chain_id: int | None
    hash: bytes
    """SHA-256 of the file the set was read from."""
    genesis_hash: bytes | None = None
    """The network's genesis hash (`--genesis-hash`): the chain's headers are signed under
    a name that carries it, so following the root needs it."""

    def describe(self) -> str:
        described = f"no genesis: the validator set of the file given (sha256 0x{self.hash.hex()})"
        if self.genesis_hash is None:
            return described
        return f"{described}, on the chain of genesis 0x{self.genesis_hash.hex()} (--genesis-hash)"


@dataclass(frozen=True)
class ReportCheck:
    """A report's verdict, as `clearnode verify` prints it: `headline` (`VERDICT: VALID`,
    `INVALID`, `NOT CHECKED` or `VALID ONLY AS FAR AS CHECKED`, naming what was
    skipped), the genesis it was checked against, each section's checks, then what was
    not checked; `str()` is that whole text, `lines()` its lines."""

    report: Report
    sections: list[tuple[str, Verdict]]
    """Each section's title and its checks (`passed`, `failures`, `not_checked`,
    `unreadable`)."""
    skipped: tuple[str, ...] = ()
    """The checks the member chose to skip (SKIPPABLE's names)."""
    genesis: str = ""
    """What the check started from: the genesis's hash and where it came from."""

    @property
    def verdict(self) -> Outcome:
        """VALID, INVALID, NOT CHECKED or VALID ONLY AS FAR AS CHECKED (a `str`)."""
        return get_outcome(self.sections, self.skipped)

    @property
    def headline(self) -> str:
        """The verdict's first line, naming the checks skipped."""
        return get_headline(self.sections, self.skipped)

    @property
    def ok(self) -> bool:
        """VALID: every check made and passed, none skipped (a partial check is not ok)."""
        return self.verdict is Outcome.VALID

    @property
    def passed(self) -> list[str]:
        """Every check that passed, one line each."""
        return [line for _, v in self.sections for line in v.passed]

    @property
    def failures(self) -> list[str]:
        """Every failed check, one line each (empty when none failed)."""
        return [line for _, v in self.sections for line in v.failures]

    @property
    def could_not(self) -> list[str]:
        """Checks asked for that could not be made (a chain that did not answer, no
        anchor), and why."""
        return [line for _, v in self.sections for line in v.unreadable]

    @property
    def not_checked(self) -> list[str]:
        """Checks not asked for or skipped, and why."""
        return get_not_asked(self.sections, self.skipped)

    @property
    def exit_code(self) -> int:
        """`clearnode verify`'s exit code for this verdict (EXIT_*)."""
        return get_exit_code(self.sections, self.skipped)

    def lines(self) -> list[str]:
        """What `clearnode verify` prints, line by line."""
        return get_lines(self.sections, self.skipped, self.genesis)

    def __str__(self) -> str:
        return "\n".join(self.lines())


def get_engine(genesis: Genesis | None) -> str:
    """The engine whose chain a report's anchor must follow: the genesis's (ours when a
    bare validator set was given instead)."""
    return DEFAULT_ENGINE if genesis is None else genesis.engine


def parse_genesis_bytes(data: bytes, where: str) -> Genesis:
    try:
        genesis = parse_genesis(json.loads(data))
        compute_risk_setup(genesis)
    except GenesisError as exc:
        raise UsageError(f"{where}: not a valid genesis: {exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON: {exc}") from exc
    return genesis


def check_skip(names: Iterable[str]) -> tuple[str, ...]:
    """The checks a member asked to skip, in SKIPPABLE's order; UsageError for a name
    that is none of them."""
    asked = set(names)
    unknown = sorted(asked - set(SKIPPABLE))
    if unknown:
        raise UsageError(f"no check {', '.join(unknown)} (the checks that may be skipped: "
                         f"{', '.join(SKIPPABLE)})")  # fmt: skip
    return tuple(n for n in SKIPPABLE if n in asked)


def get_trust(
    start: GivenGenesis | GivenValidators,
    checkpoint: Checkpoint | None,
    skipped: Sequence[str],
    now_ms: int,
) -> Trust | None:
    """Where following the root starts (the genesis's set, or `checkpoint`), and the clock
    it is measured on (`now_ms`, the caller's to read: proofs' checks take it as given);
    None when the member skipped it."""
    if "anchor" in skipped:
        if checkpoint is not None:
            raise UsageError("a checkpoint is where following the root starts: not with the "
                             "anchor skipped")  # fmt: skip
        return None
    if isinstance(start, GivenGenesis):
        return Trust(now_ms, start.genesis.genesis_time_ms, checkpoint)
    if checkpoint is None:
        raise UsageError(
            "--validators carries no genesis time to measure the trusting period from: add "
            "--checkpoint HEIGHT:TIME_MS:HASH, or --skip anchor"
        )
    return Trust(now_ms, checkpoint.time_ms, checkpoint)


def get_outcome(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> Outcome:
    if any(v.failures for _, v in sections):
        return Outcome.INVALID
    if any(v.unreadable for _, v in sections):
        return Outcome.NOT_CHECKED
    return Outcome.PARTIAL if skipped else Outcome.VALID


def get_headline(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> str:
    """The verdict's first line: it names the checks the member skipped."""
    outcome = get_outcome(sections, skipped)
    if outcome is Outcome.INVALID:
        failures = sum(len(v.failures) for _, v in sections)
        return f"VERDICT: INVALID ({failures} failure{'s' if failures > 1 else ''})"
    if outcome is Outcome.NOT_CHECKED:
        unreadable = sum(len(v.unreadable) for _, v in sections)
        return f"VERDICT: NOT CHECKED ({unreadable} check(s) asked for could not be made)"
    if outcome is Outcome.PARTIAL:
        names = "; ".join(SKIPPABLE[name] for name in skipped)
        return f"VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: {names}"
    return "VERDICT: VALID"


def get_not_asked(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str]) -> list[str]:
    """The checks not asked for, and those the member skipped."""
    not_checked = [line for _, v in sections for line in v.not_checked]
    return not_checked + [f"{SKIPPABLE[name]}: skipped (--skip {name})" for name in skipped]


def get_lines(
    sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = (), genesis: str = ""
) -> list[str]:
    """The verdict, the genesis it was checked against, each section's checks, then what
    was not checked."""
    unreadable = [line for _, v in sections for line in v.unreadable]
    not_checked = get_not_asked(sections, skipped)
    lines = [get_headline(sections, skipped), *([genesis] if genesis else [])]
    for title, verdict in sections:
        lines.append(title)
        lines += [f"  ok    {line}" for line in verdict.passed]
        lines += [f"  FAIL  {line}" for line in verdict.failures]
    if unreadable or not_checked:
        lines.append("not checked")
        lines += [f"  could not  {line}" for line in unreadable]
        lines += [f"  not asked  {line}" for line in not_checked]
    return lines


def get_exit_code(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> int:
    return {
        Outcome.VALID: EXIT_VALID,
        Outcome.INVALID: EXIT_INVALID,
        Outcome.NOT_CHECKED: EXIT_NOT_CHECKED,
        Outcome.PARTIAL: EXIT_PARTIAL,
    }[get_outcome(sections, skipped)]


def check_report(
    gens: Generators[Any],
    report: Report,
    start: GivenGenesis | GivenValidators,
    trust: Trust | None,
    skipped: Sequence[str] = (),
    readings: Mapping[int, VaultReading | Unreadable] | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | ReportDecodeError | None = None,
    known: dict[int, dict[str, int]] | None = None,
) -> ReportCheck:
    """The verdict on `report` from `start` (the genesis, or a bare validator set with
    the statement skipped), following the root with `trust` (`get_trust`; None: the
    anchor skipped): what `clearnode verify` prints and the SDK's `verify_report`
    answers, from the same checks (`get_sections`)."""
    genesis = start.genesis if isinstance(start, GivenGenesis) else None
    recompute = "statement" not in skipped
    genesis_hash = start.hash if isinstance(start, GivenGenesis) else start.genesis_hash
    sections = get_sections(gens, report, start.validators, start.chain_id, genesis, readings,
                            member, openings, known, trust, recompute, genesis_hash)  # fmt: skip
    return ReportCheck(report, sections, tuple(skipped), start.describe())


def parse_openings(obj: Any) -> MemberOpenings | ReportDecodeError:
    """A member's openings (their JSON), or why they are not: a verdict's failure."""
    try:
        return MemberOpenings.from_json(obj)
    except ReportDecodeError as exc:
        return exc


def get_sections(
    gens: Generators[Any],
    report: Report,
    validators: Sequence[VotingPower] | None,
    chain_id: int | None,
    genesis: Genesis | None = None,
    readings: Mapping[int, VaultReading | Unreadable] | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | ReportDecodeError | None = None,
    known: dict[int, dict[str, int]] | None = None,
    trust: Trust | None = None,
    recompute: bool = True,
    genesis_hash: bytes | None = None,
) -> list[tuple[str, Verdict]]:
    """Every check of `report` the inputs allow, as (title, verdict) sections: the
    signatures and proofs and, with `trust`, the root followed to the chain of
    `genesis_hash` as a check asked for; the statement (with `genesis`, unless not to
    `recompute`), the reserves (`readings`), each clearing member's house and clients and,
    with `member` and its `openings`, the member's own commitments."""
    title = (
        f"report of chain {report.chain_id}, epoch {report.epoch}, "
        f"state root 0x{report.state_root.hex()}, "
        f"{len(report.accounts)} accounts, hash 0x{report.get_hash().hex()}"
    )
    engine = get_engine(genesis)
    sections = [
        (title, verify_report(gens, report, validators, chain_id, trust, engine, genesis_hash)),
        ("statement", check_statement(report, genesis if recompute else None)),
        ("reserves", check_reserves(report, genesis, readings or {})),
        ("clearing members", check_clearing_members(report)),
        ("defaults and accounts in default", check_disclosed(report)),
        ("accounts covered", check_coverage(report)),
    ]
    if member is not None:
        if isinstance(openings, MemberOpenings):
            names = get_scenario_names(report, get_configured_genesis(report, genesis))
            mine = verify_member_openings(gens, report, member, openings, known, names)
            if openings.owner == member:
                mine.add(check_member_account(report, openings))
        else:
            mine = Verdict(failures=[f"openings: {openings}"])
        sections.append((f"member 0x{member.hex()}", mine))
    return sections
