/** Verify a solvency report with public data only (proofs/report_check.py, proofs/checks.py
 * verify_report, proofs/recompute.py check_statement): the same checks, the same
 * lines, the same verdict. The output is a verdict, then each section's checks, then
 * what was not checked and why. */

import { checkAggregates } from "./aggregate";
import {
  type Checkpoint,
  type Trust,
  type ValidatorHistory,
  checkAnchor,
  checkTrustingPeriod,
  describeCheckpointAfterAnchor,
  followSetChanges,
  getConsensusChainId,
  getChangedAt,
  getSetAt,
  getSignedPower,
  OUR_ENGINE,
} from "./anchor";
import { equal, fromHex, toHex } from "./bytes";
import { describeDefaults, checkDefaults, checkInDefault, describeInDefault } from "./defaults";
import { DecodeError } from "./errors";
import { type Generators, getGenerators } from "./generators";
import { type Point, decodePoint, initGroup } from "./group";
import { getMarketRoot, hashConfiguration } from "./market";
import { MsmCheck } from "./msm";
import { N_BITS } from "./bulletproofs";
import { type AccountEntry, type Report, computeAccountContext, decodeReport, describeAccount, getReportTimeMs } from "./report";
import { checkMemberAccount } from "./account";
import { checkClearingMembers } from "./clearing";
import { checkCoverage } from "./coverage";
import { checkDisclosed } from "./disclosed";
import { readVaults } from "./chainread";
import { type ReserveGenesis, checkReserves, readReserveGenesis } from "./reserves";
import { type MemberOpenings, readOpenings, verifyMemberOpenings } from "./openings";
import { GenesisError, compareStatement, getScenarioNames } from "./recompute/index.js";
import { applyConfiguration } from "./configuration";
import { readFormGenesis } from "./recompute/genesis.js";
import { asInt, isObject } from "./recompute/json.js";
import { type VotingPower, checkSignatures, getPowers } from "./signatures";
import { addSolvencyCheck } from "./statement";

export interface Verdict {
  passed: string[];
  failures: string[];
  /** Checks not made, and why (nothing asked for them). */
  notChecked: string[];
  /** Checks asked for that could not be made. */
  unreadable: string[];
}

export interface Section {
  title: string;
  verdict: Verdict;
}

/** As `clearnode verify`'s exit codes: 0 valid, 1 invalid, 3 could not check, 4 valid
 * only as far as checked (the member skipped checks). */
export type Outcome = "VALID" | "INVALID" | "COULD-NOT-CHECK" | "PARTIAL";

export interface Result {
  outcome: Outcome;
  /** The CLI's first line, e.g. "VERDICT: VALID". */
  headline: string;
  /** The CLI's second line: the genesis checked against, e.g. "genesis 0x.. (the file given)". */
  genesis: string;
  sections: Section[];
}

/** What the member may skip, and how the headline names it (proofs.verify.SKIPPABLE). */
export const SKIPPABLE: Record<string, string> = {
  statement: "the statement recomputed from the genesis",
  anchor: "the state root followed to the chain within the trusting period",
};

/** A member's own check: its address and the openings JSON its node gave it. */
export interface MemberInput {
  member: Uint8Array;
  openings: unknown;
}

export interface Inputs {
  /** The parsed genesis JSON (recompute/json.ts parseJson: exact integers): the
   * validators, the chain id and what the statement is recomputed from. Required. */
  genesis?: unknown;
  /** SHA-256 of the genesis file's bytes (clearing.genesis.compute_genesis_hash) and where
   * the genesis came from, for the verdict's second line. */
  genesisHash?: Uint8Array;
  genesisSource?: string;
  /** The checks the member chose to skip (keys of SKIPPABLE): a partial check. */
  skip?: string[];
  /** Where following the root starts instead of the genesis. */
  checkpoint?: Checkpoint;
  /** The page's clock (ms), which the trusting period is measured to. */
  nowMs?: bigint;
  member?: MemberInput;
  /** Chain id -> JSON-RPC URL of the chains whose vaults to read (`--rpc`). */
  rpc?: Map<bigint, string>;
}

/** Input the page cannot use (a genesis that is not one): the CLI's usage error. */
export class UsageError extends Error {}

const newVerdict = (): Verdict => ({ passed: [], failures: [], notChecked: [], unreadable: [] });

/** The validator set, chain id and engine of a genesis (or a bare list of {pubkey, power}:
 * our engine's). */
export function readValidators(genesis: unknown): { validators: VotingPower[]; chainId: bigint | null; engine: string } {
  const entries = isObject(genesis) ? genesis["validators"] : genesis;
  if (!Array.isArray(entries)) throw new UsageError("genesis: not a validator set: no list of validators");
  const validators = entries.map((v: unknown, i): VotingPower => {
    const e = (v ?? {}) as Record<string, unknown>;
    const key = e["pubkey"] ?? e["public_key"];
    const power = asInt(e["power"]);
    if (typeof key !== "string" || power === null) {
      throw new UsageError(`genesis: validator #${i} needs a hex pubkey and an integer power`);
    }
    try {
      return { publicKey: fromHex(key), power };
    } catch {
      throw new UsageError(`genesis: validator #${i}: pubkey ${key} is not hex`);
    }
  });
  const given = isObject(genesis) ? genesis["chain_id"] : undefined;
  const chainId = given === undefined || given === null ? null : asInt(given);
  if (chainId === null && given !== undefined && given !== null) {
    throw new UsageError(`genesis: chain_id ${String(given)} is not an integer`);
  }
  const engine = isObject(genesis) && typeof genesis["engine"] === "string" ? genesis["engine"] : OUR_ENGINE;
  return { validators, chainId, engine };
}

/** A genesis the statement cannot be computed from is the CLI's usage error, not a
 * verdict on the report. */
function checkGenesis(genesis: unknown): void {
  try {
    readFormGenesis(genesis);
  } catch (exc) {
    if (exc instanceof GenesisError) throw new UsageError(`genesis: not a valid genesis: ${exc.message}`);
    throw exc;
  }
}

function readReserves(genesis: unknown): ReserveGenesis {
  try {
    return readReserveGenesis(genesis);
  } catch (exc) {
    if (exc instanceof GenesisError) throw new UsageError(`genesis: not a valid genesis: ${exc.message}`);
    throw exc;
  }
}

/** Every check that needs only public data; all proofs in one batch (verify_report). */
export function verifyReport(
  gens: Generators,
  report: Report,
  validators: VotingPower[] | null,
  chainId: bigint | null,
  trust: Trust | null = null,
  engine: string = OUR_ENGINE,
  genesisHash: Uint8Array | null = null,
): Verdict {
  const verdict = newVerdict();
  if (chainId === null) {
    verdict.notChecked.push(`chain id ${report.chainId} read from the report, not compared`);
  } else if (chainId !== report.chainId) {
    verdict.failures.push(`report is for chain ${report.chainId}, not chain ${chainId}`);
  } else {
    verdict.passed.push(`report is for chain ${chainId}`);
  }
  const { verdict: root, history } = checkRootOnChain(report, validators, trust, engine, genesisHash);
  if (validators === null) {
    verdict.notChecked.push("signatures not checked: no validator set given");
  } else {
    const failures = checkSignatures(report, history === null ? validators : history.sets[history.sets.length - 1]![1]);
    verdict.failures.push(...failures);
    const changed = history === null ? [] : getChangedAt(history);
    const followed = changed.length === 0 ? "" : `, by the validator set in force from block ${changed[changed.length - 1]! + 1n}`;
    if (failures.length === 0) {
      verdict.passed.push(
        `quorum of ${report.signatures.length} validator signatures over chain ` +
          `${report.chainId}, epoch ${report.epoch} and the report hash${followed}`,
      );
    }
  }
  verdict.passed.push(...root.passed);
  verdict.failures.push(...root.failures);
  verdict.notChecked.push(...root.notChecked);
  verdict.unreadable.push(...root.unreadable);
  const check = new MsmCheck(gens, N_BITS);
  const admitted: [AccountEntry, Point[]][] = [];
  for (const entry of report.accounts) {
    try {
      const points = entry.commitments.map(decodePoint);
      addAccount(check, report, entry, points);
      admitted.push([entry, points]);
    } catch (exc) {
      if (!(exc instanceof DecodeError)) throw exc;
      verdict.failures.push(`${describeAccount(entry.owner, entry.subaccount)}: malformed: ${exc.message}`);
    }
  }
  if (check.isIdentity()) {
    verdict.passed.push(`solvency proofs of ${admitted.length} accounts (batch)`);
  } else {
    for (const entry of findInvalid(gens, report, admitted)) {
      verdict.failures.push(`${describeAccount(entry.owner, entry.subaccount)}: solvency proof does not verify`);
    }
  }
  verdict.failures.push(...checkInDefault(report));
  verdict.passed.push(...describeInDefault(report));
  verdict.failures.push(...checkDefaults(report.defaults));
  verdict.passed.push(...describeDefaults(report.defaults));
  if (admitted.length === report.accounts.length) {
    const inClear = report.inDefault.map((d) => d.inputs);
    const points = admitted.map(([, p]) => p);
    const failures = checkAggregates(gens, report.statement, points, report.aggregates, inClear);
    verdict.failures.push(...failures);
    if (failures.length === 0) verdict.passed.push(`${report.aggregates.length} aggregate totals (book flat)`);
    for (const e of report.aggregates) {
      if (e.label.startsWith("collateral:")) verdict.passed.push(`total ${e.label} = ${e.total} quanta (compare with vault)`);
    }
  } else {
    verdict.failures.push("aggregates not checked: some accounts are malformed");
  }
  return verdict;
}

/** The light-client check: the report's state root is the chain's after the market's
 * height, committed by the next block's header under a quorum's precommits of the set
 * followed from `validators` (or `trust`'s checkpoint) through the anchor's set changes,
 * on the chain of the genesis whose hash is `genesisHash`; and that walk (null when the
 * anchor is missing or the walk fails). With `trust`, the check is asked for: what stops
 * it is a check that could not be made (check_root_on_chain). */
export function checkRootOnChain(
  report: Report,
  validators: VotingPower[] | null,
  trust: Trust | null = null,
  engine: string = OUR_ENGINE,
  genesisHash: Uint8Array | null = null,
): { verdict: Verdict; history: ValidatorHistory | null } {
  const verdict = newVerdict();
  const height = report.height;
  const notMade = trust === null ? verdict.notChecked : verdict.unreadable;
  if (validators === null) {
    verdict.notChecked.push("state root not followed to the chain: no validator set given");
    return { verdict, history: null };
  }
  if (report.anchor === null) {
    notMade.push(
      `state root not followed to the chain: the report carries no anchor (the header of block ${height + 1n} ` +
        "and its commit certificate; a node attaches them when it serves the report)",
    );
    return { verdict, history: null };
  }
  if (genesisHash === null) {
    notMade.push(
      "state root not followed to the chain: no genesis hash given (the chain's headers are signed under a name " +
        "that carries it: give the genesis, or its hash)",
    );
    return { verdict, history: null };
  }
  const chain = getConsensusChainId(report.chainId, genesisHash);
  if (report.anchor.engine !== engine) {
    verdict.failures.push(
      `state root not followed to the chain: the anchor follows a ${report.anchor.engine} chain, and the genesis's network runs ${engine}`,
    );
    return { verdict, history: null };
  }
  const checkpoint = trust === null ? null : trust.checkpoint;
  const expired = trust === null ? null : checkTrustingPeriod(trust);
  const late = checkpoint !== null && checkpoint.height > height + 1n ? describeCheckpointAfterAnchor(checkpoint.height, height + 1n) : null;
  if (expired !== null || late !== null) {
    notMade.push(`state root not followed to the chain: ${expired ?? late}`);
    return { verdict, history: null };
  }
  const walk = followSetChanges(report.anchor.setChanges, chain, validators, checkpoint, engine);
  if ("failure" in walk) {
    const start = checkpoint === null ? "the set given" : `the checkpoint of block ${checkpoint.height}`;
    verdict.failures.push(`validator set not followed from ${start}: ${walk.failure}`);
    return { verdict, history: null };
  }
  if (checkpoint !== null) {
    verdict.passed.push(
      `validator set taken from the checkpoint of block ${checkpoint.height} (set ` +
        `0x${toHex(checkpoint.validatorsHash).slice(0, 16)}..., time ${checkpoint.timeMs} ms), within the trusting period`,
    );
  }
  const changed = getChangedAt(walk);
  if (changed.length > 0) {
    verdict.passed.push(
      `validator set followed through ${changed.length} change${changed.length > 1 ? "s" : ""} since the set ` +
        `given, each committed by the set before it (the last in block ${changed[changed.length - 1]!})`,
    );
  }
  const powers = getSetAt(walk, height + 1n);
  const outcome = checkAnchor(report.anchor, chain, height, report.stateRoot, powers);
  if (outcome !== null && "notChecked" in outcome) {
    notMade.push(`state root not followed to the chain: ${outcome.notChecked}`);
  } else if (outcome !== null) {
    verdict.failures.push(`state root is not the chain's after block ${height}: ${outcome.failure}`);
  } else {
    const signers = report.anchor.commit.signers(powers).length;
    verdict.passed.push(
      `state root is the chain's after block ${height}: block ${height + 1n}'s header commits to it, and its ` +
        `certificate carries precommits of ${getSignedPower(report.anchor, powers)} of ` +
        `${getPowers(powers).total} voting power (${signers} validators)`,
    );
  }
  return { verdict, history: walk };
}

function addAccount(check: MsmCheck, report: Report, entry: AccountEntry, points: Point[]): void {
  const context = computeAccountContext(report, entry.owner, entry.subaccount);
  addSolvencyCheck(check, report.statement, context, entry.commitments, points, entry.proof);
}

/** The failing accounts among `failing` (well-formed accounts whose check failed
 * together), by bisection: only the halves are checked again, and the second not at all
 * when the first holds (proofs/statement.py _find_invalid). */
function findInvalid(gens: Generators, report: Report, failing: [AccountEntry, Point[]][]): AccountEntry[] {
  if (failing.length === 1) return [failing[0]![0]];
  const half = Math.floor(failing.length / 2);
  const [first, second] = [failing.slice(0, half), failing.slice(half)];
  if (checksTogether(gens, report, first)) return findInvalid(gens, report, second);
  const invalid = findInvalid(gens, report, first);
  if (!checksTogether(gens, report, second)) invalid.push(...findInvalid(gens, report, second));
  return invalid;
}

function checksTogether(gens: Generators, report: Report, items: [AccountEntry, Point[]][]): boolean {
  const check = new MsmCheck(gens, N_BITS);
  for (const [entry, points] of items) addAccount(check, report, entry, points);
  return check.isIdentity();
}

/** The market and the configuration under the state root; with a genesis, the
 * statement recomputed from it with that configuration and that market (check_statement). */
export function checkStatement(report: Report, genesis: unknown): Verdict {
  const verdict = newVerdict();
  const market = report.market;
  const proof = report.marketProof;
  const configuration = `configuration 0x${toHex(hashConfiguration(proof.configuration))}`;
  const root = getMarketRoot(proof, market);
  if (toHex(root) === toHex(report.stateRoot)) {
    verdict.passed.push(
      `market of height ${report.height} (${market.markPrices.length} marks, ` +
        `${market.indexPrices.length} index prices), ${configuration} and the published roles are under the state root`,
    );
  } else {
    verdict.failures.push(
      `market of height ${report.height}, ${configuration} and the published roles are not under the state root ` +
        `0x${toHex(report.stateRoot)}: their proof gives 0x${toHex(root)}`,
    );
  }
  const rows = "(risk arrays, haircut weights, maintenance fraction, stress days)";
  if (genesis === undefined) {
    verdict.notChecked.push(`statement not checked: its rows ${rows} are the report's word, not recomputed from the genesis`);
    return verdict;
  }
  let configured: Record<string, unknown>;
  let instruments: number;
  try {
    configured = applyConfiguration(genesis, proof.configuration);
    instruments = readFormGenesis(configured).instruments.length;
  } catch (exc) {
    if (!(exc instanceof GenesisError)) throw exc;
    verdict.failures.push(`the report's configuration is not one: ${exc}`);
    return verdict;
  }
  const failures = compareStatement(report.statement, market, report.chainId, report.epoch, report.height, configured);
  if (failures.length > 0) {
    verdict.failures.push(...failures);
  } else {
    verdict.passed.push(
      `statement recomputed from the genesis with the configuration of height ${report.height} ` +
        `(${instruments} instruments, ${configuration}) and the marks at that height: ` +
        `${report.statement.inputLabels.length} labels, ${report.statement.rows.length} scenario rows, equal to the report's`,
    );
  }
  return verdict;
}

/** The genesis with the report's configuration in force, or null (get_scenario_names). */
function getConfiguredGenesis(report: Report, genesis: unknown): unknown {
  try {
    return applyConfiguration(genesis, report.marketProof.configuration);
  } catch (exc) {
    if (exc instanceof GenesisError) return null;
    throw exc;
  }
}

/** The vaults read on the chains asked for, compared with the report (read_reserves). */
async function checkReservesOnChain(report: Report, genesis: ReserveGenesis | null, rpc: Map<bigint, string>): Promise<Verdict> {
  const readings = genesis === null || rpc.size === 0 ? new Map() : await readVaults(genesis, rpc, getReportTimeMs(report));
  return checkReserves(report, genesis, readings);
}

/** The verdict of print_report: INVALID on any failure, COULD-NOT-CHECK when a check
 * asked for could not be made, PARTIAL (its headline naming them) when the member skipped
 * checks, else VALID. The skipped checks are said among those not checked. */
export function summarise(sections: Section[], skipped: string[] = [], genesis = ""): Result {
  const failures = sections.reduce((n, s) => n + s.verdict.failures.length, 0);
  const unreadable = sections.reduce((n, s) => n + s.verdict.unreadable.length, 0);
  if (skipped.length > 0) {
    const verdict = { ...newVerdict(), notChecked: skipped.map((name) => `${SKIPPABLE[name]}: skipped (--skip ${name})`) };
    sections = [...sections, { title: "", verdict }];
  }
  if (failures) {
    return { outcome: "INVALID", headline: `VERDICT: INVALID (${failures} failure${failures > 1 ? "s" : ""})`, genesis, sections };
  }
  if (unreadable) {
    return { outcome: "COULD-NOT-CHECK", headline: `VERDICT: NOT CHECKED (${unreadable} check(s) asked for could not be made)`, genesis, sections };
  }
  if (skipped.length > 0) {
    const names = skipped.map((name) => SKIPPABLE[name]).join("; ");
    return { outcome: "PARTIAL", headline: `VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: ${names}`, genesis, sections };
  }
  return { outcome: "VALID", headline: "VERDICT: VALID", genesis, sections };
}

/** Verify report bytes; `inputs.genesis` supplies the validators, the chain id and
 * (with `compareStatement`) the statement's recomputation. UsageError for a genesis
 * that is not one; any report, however malformed, gets a verdict. */
export async function verifyReportBytes(data: Uint8Array, inputs: Inputs = {}): Promise<Result> {
  if (inputs.genesis === undefined) {
    throw new UsageError(
      "the full check needs the chain's genesis: choose its file, or fetch it from this node with the genesis hash " +
        "the network publishes; to check less, say so with a partial check",
    );
  }
  const skipped = Object.keys(SKIPPABLE).filter((name) => (inputs.skip ?? []).includes(name));
  const unknown = (inputs.skip ?? []).filter((name) => !(name in SKIPPABLE));
  if (unknown.length > 0) throw new UsageError(`no check ${unknown.join(", ")} to skip (the checks that may be: ${Object.keys(SKIPPABLE).join(", ")})`);
  const { validators, chainId, engine } = readValidators(inputs.genesis);
  checkGenesis(inputs.genesis);
  const trust = getTrust(inputs, skipped);
  const genesisLine = `genesis 0x${toHex(inputs.genesisHash ?? new Uint8Array())} (${inputs.genesisSource ?? "the file given"})`;
  const rpc = inputs.rpc ?? new Map<bigint, string>();
  const reserveGenesis = readReserves(inputs.genesis);
  await initGroup();
  let report: Report;
  try {
    report = decodeReport(data);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    const verdict = { ...newVerdict(), failures: [exc.message] };
    return {
      outcome: "INVALID",
      headline: "VERDICT: INVALID (undecodable report)",
      genesis: genesisLine,
      sections: [{ title: "report: cannot decode", verdict }],
    };
  }
  const gens = getGenerators();
  const title =
    `report of chain ${report.chainId}, epoch ${report.epoch}, state root 0x${toHex(report.stateRoot)}, ` +
    `${report.accounts.length} accounts, hash 0x${toHex(report.hash)}`;
  const sections = [
    { title, verdict: verifyReport(gens, report, validators, chainId, trust, engine, inputs.genesisHash ?? null) },
    { title: "statement", verdict: checkStatement(report, skipped.includes("statement") ? undefined : inputs.genesis) },
    { title: "reserves", verdict: await checkReservesOnChain(report, reserveGenesis, rpc) },
    { title: "clearing members", verdict: checkClearingMembers(report) },
    { title: "defaults and accounts in default", verdict: checkDisclosed(report) },
    { title: "accounts covered", verdict: checkCoverage(report) },
  ];
  if (inputs.member !== undefined) {
    sections.push({ title: `member 0x${toHex(inputs.member.member)}`, verdict: checkMember(gens, report, inputs) });
  }
  return summarise(sections, skipped, genesisLine);
}

/** Where following the root starts and the clock it is measured on; null when skipped
 * (get_trust). */
function getTrust(inputs: Inputs, skipped: string[]): Trust | null {
  if (skipped.includes("anchor")) {
    if (inputs.checkpoint !== undefined) throw new UsageError("a checkpoint is where following the root starts: not with the anchor skipped");
    return null;
  }
  if (inputs.nowMs === undefined) throw new UsageError("no clock to measure the trusting period on");
  const genesisTime = asInt(isObject(inputs.genesis) ? inputs.genesis["genesis_time_ms"] : undefined);
  if (genesisTime === null) throw new UsageError("genesis: no integer genesis_time_ms");
  return { nowMs: inputs.nowMs, genesisTimeMs: genesisTime, checkpoint: inputs.checkpoint ?? null };
}

function checkMember(gens: Generators, report: Report, inputs: Inputs): Verdict {
  const { member, openings } = inputs.member!;
  let opened: MemberOpenings;
  try {
    opened = readOpenings(openings);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    return { ...newVerdict(), failures: [`openings: ${exc.message}`] };
  }
  const configured = inputs.genesis === undefined ? null : getConfiguredGenesis(report, inputs.genesis);
  const names = configured === null ? null : getScenarioNames(report.market, report.chainId, configured);
  const verdict = verifyMemberOpenings(gens, report, member, opened, names ?? undefined);
  if (equal(opened.owner, member)) {
    const account = checkMemberAccount(report, opened);
    verdict.passed.push(...account.passed);
    verdict.failures.push(...account.failures);
    verdict.notChecked.push(...account.notChecked);
  }
  return verdict;
}

/** The result as the CLI prints it. */
export function formatResult(result: Result): string {
  const lines = [result.headline, result.genesis];
  for (const { title, verdict } of result.sections) {
    if (title === "") continue; // the checks skipped: said among those not checked
    lines.push(title);
    for (const line of verdict.passed) lines.push(`  ok    ${line}`);
    for (const line of verdict.failures) lines.push(`  FAIL  ${line}`);
  }
  const unreadable = result.sections.flatMap((s) => s.verdict.unreadable);
  const notChecked = result.sections.flatMap((s) => s.verdict.notChecked);
  if (unreadable.length || notChecked.length) {
    lines.push("not checked");
    for (const line of unreadable) lines.push(`  could not  ${line}`);
    for (const line of notChecked) lines.push(`  not asked  ${line}`);
  }
  return lines.join("\n");
}
