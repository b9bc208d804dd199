/** The solvency report (proofs/report.py, layout in proofs/FORMAT.md): its decoding,
 * every check of `decode_report` with the same words, its hash, what validators sign,
 * and what each account's proof is bound to. All of a report's decoding is here, so a
 * new field is added in one place. */

import { sha3_256 } from "@noble/hashes/sha3.js";
import { compare, concat, equal, toHex, u16be, u64be, utf8 } from "./bytes";
import { MAX_UINT64, expectBytes, expectInt, expectList, reprValue } from "./codec";
import { DecodeError } from "./errors";
import { POINT_BYTES, decodeScalar } from "./group";
import { type Market, type MarketProof, decodeMarket, decodeMarketProof } from "./market";
import { type StateAnchor, decodeAnchor } from "./anchor";
import { type Value, decodeMsgpack, encodeMsgpack } from "./msgpack";
import { type Statement, decodeStatement } from "./statement";

export const REPORT_VERSION = 11n;
const MAX_PROOF_STEPS = 64; // an accounts tree of 2^64 leaves
const REPORT_HASH_DOMAIN = utf8("clearnode-solvency-report-v1");
const MIN_INT64 = -(1n << 63n);

export const DEFAULT_LAYERS = [
  "collateral",
  "own default fund",
  "insurance fund",
  "others' default fund",
  "assessments",
  "deleveraging",
  "uncovered",
] as const;

export interface AccountEntry {
  owner: Uint8Array;
  subaccount: bigint;
  commitments: Uint8Array[];
  proof: Uint8Array;
}

/** An account that fails the statement, published in the clear. */
export interface DefaultEntry {
  owner: Uint8Array;
  subaccount: bigint;
  inputs: bigint[];
}

export interface AggregateEntry {
  label: string;
  total: bigint;
  blindingSum: bigint;
}

/** A sub-account that defaulted in block `height` and what each layer paid. */
export interface DefaultRecord {
  height: bigint;
  member: Uint8Array;
  subAccount: bigint;
  deficit: bigint;
  layers: bigint[]; // DEFAULT_LAYERS order
}

/** The account record of an owner with a sub-account in default and its path to the
 * accounts root of the market proof (field 11). */
export interface DefaultAccount {
  owner: Uint8Array;
  account: Uint8Array;
  steps: [boolean, Uint8Array][];
}

export interface ValidatorSignature {
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export interface Report {
  version: bigint;
  chainId: bigint;
  epoch: bigint;
  /** Field 12: the epoch's last block, whose state `stateRoot` is. */
  height: bigint;
  stateRoot: Uint8Array;
  statement: Statement;
  accounts: AccountEntry[];
  aggregates: AggregateEntry[];
  inDefault: DefaultEntry[];
  defaults: DefaultRecord[];
  market: Market;
  marketProof: MarketProof;
  defaultAccounts: DefaultAccount[];
  signatures: ValidatorSignature[];
  /** Field 14: block H+1's header and commit certificate (not hashed), or null. */
  anchor: StateAnchor | null;
  /** SHA3-256 over the domain and fields 0..12: what the validators sign. */
  hash: Uint8Array;
}

export const HOUSE_OWNER = new Uint8Array(20); // the clearing house's account, sub-account 0

/** What every account holds of `label`: the proven accounts' aggregate plus the inputs
 * published of the accounts in default (Report.get_total); null without that aggregate or
 * that label in the statement (the aggregates check fails such a report, naming it). */
export function getTotal(report: Report, label: string): bigint | null {
  const entry = report.aggregates.find((e) => e.label === label);
  const column = report.statement.inputLabels.indexOf(label);
  if (entry === undefined || column < 0) return null;
  return entry.total + report.inDefault.reduce((sum, d) => sum + d.inputs[column]!, 0n);
}

/** When the chain committed the report's state root: its anchor's header's time (block
 * H+1's); null without an anchor, the state root committing to no time (Report.get_time_ms). */
export function getReportTimeMs(report: Report): bigint | null {
  return report.anchor === null ? null : report.anchor.header.timeMs;
}

export function describeAccount(owner: Uint8Array, subaccount: bigint): string {
  return `account 0x${toHex(owner)}/${subaccount}`;
}

// What each refused version lacks, for the error a member reads.
const REFUSED_VERSIONS: Record<string, string> = {
  "1": "its signatures are not bound to the chain",
  "2": "one insolvent account stopped it",
  "3": "it does not publish the epoch's defaults",
  "4": "it does not carry the marks its statement is computed from, so the statement cannot be recomputed",
  "5": "it has no place for the anchor that ties its state root to the chain",
  "6": "it does not carry the configuration its statement is computed from, so the statement cannot be " +
    "recomputed once governance changed it",
  "7": "it does not carry the clearing members and their clients, so it cannot show each clearing member's " +
    "house and client accounts",
  "8": "nothing ties its defaults and its accounts in default to the state root",
  "9": "nothing shows it covers every account under the state root: it could leave out an insolvent account",
  "10": "its market's height and block time are ones the state root no longer commits to",
};

/** A report in a format this verifier does not read. */
export class UnsupportedReportVersion extends DecodeError {
  constructor(readonly version: Value) {
    const reason = typeof version === "bigint" ? REFUSED_VERSIONS[String(version)] : undefined;
    const why = reason ? `: ${reason}` : "";
    super(`report version ${reprValue(version)} is not supported${why} (this reads version ${REPORT_VERSION})`);
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new DecodeError(what);
}

function checkKey(owner: Uint8Array, sub: bigint): void {
  expect(owner.length === 20, `owner must be a 20-byte address, got ${owner.length} bytes`);
  expect(sub >= 0n && sub <= MAX_UINT64, `sub-account ${sub} does not fit in uint64`);
}

/** (owner, sub) keys strictly increasing: sorted and unique. */
function isStrictlySorted(keys: [Uint8Array, bigint][]): boolean {
  for (let i = 1; i < keys.length; i++) {
    const [a, s] = keys[i - 1]!;
    const [b, t] = keys[i]!;
    const c = compare(a, b);
    if (c > 0 || (c === 0 && s >= t)) return false;
  }
  return true;
}

function decodeInDefault(obj: Value, width: number): DefaultEntry[] {
  expect(Array.isArray(obj), "accounts in default must be a list");
  return (obj as Value[]).map((d, i) => {
    expect(Array.isArray(d) && d.length === 3, `default #${i} must be [owner, sub, inputs]`);
    const [owner, sub, inputs] = d as [Value, Value, Value];
    expect(owner instanceof Uint8Array && typeof sub === "bigint", `default #${i}: bad owner/sub`);
    checkKey(owner as Uint8Array, sub as bigint);
    expect(
      Array.isArray(inputs) && inputs.length === width && inputs.every((x) => typeof x === "bigint"),
      `default #${i}: ${width} integer inputs`,
    );
    return { owner: owner as Uint8Array, subaccount: sub as bigint, inputs: inputs as bigint[] };
  });
}

export function decodeDefaultRecord(obj: Value): DefaultRecord {
  const f = expectList(obj, "DefaultRecord", 4 + DEFAULT_LAYERS.length);
  return {
    height: expectInt(f[0]!, "height", 1n),
    member: expectBytes(f[1]!, "member", 20),
    subAccount: expectInt(f[2]!, "sub_account"),
    deficit: expectInt(f[3]!, "deficit", 1n),
    layers: DEFAULT_LAYERS.map((layer, k) => expectInt(f[4 + k]!, layer)),
  };
}

function decodeDefaults(obj: Value): DefaultRecord[] {
  expect(Array.isArray(obj), "defaults must be a list");
  return (obj as Value[]).map((fields, i) => {
    try {
      return decodeDefaultRecord(fields);
    } catch (exc) {
      throw new DecodeError(`default #${i}: ${(exc as Error).message}`);
    }
  });
}

/** Well-formed records sorted by owner (_decode_default_accounts); whether each is under
 * the root and gives the published inputs is disclosed.ts's check. */
function decodeDefaultAccounts(obj: Value): DefaultAccount[] {
  expect(Array.isArray(obj), "accounts of owners in default must be a list");
  const found = (obj as Value[]).map((a, i): DefaultAccount => {
    const what = `account of owner in default #${i}`;
    expect(Array.isArray(a) && a.length === 3, `${what} must be [owner, account, steps]`);
    const [owner, account, steps] = a as [Value, Value, Value];
    expect(owner instanceof Uint8Array && owner.length === 20, `${what}: owner 20 bytes`);
    expect(account instanceof Uint8Array, `${what}: account must be bytes`);
    expect(Array.isArray(steps) && steps.length <= MAX_PROOF_STEPS, `${what}: at most ${MAX_PROOF_STEPS} steps`);
    const parsed = (steps as Value[]).map((step): [boolean, Uint8Array] => {
      expect(Array.isArray(step) && step.length === 2, `${what}: step [left, sibling]`);
      const [left, sibling] = step as [Value, Value];
      expect(typeof left === "boolean" && sibling instanceof Uint8Array && sibling.length === 32, `${what}: step [bool, 32 bytes]`);
      return [left as boolean, sibling as Uint8Array];
    });
    return { owner: owner as Uint8Array, account: account as Uint8Array, steps: parsed };
  });
  for (let i = 1; i < found.length; i++) {
    expect(compare(found[i - 1]!.owner, found[i]!.owner) < 0, "accounts of owners in default must be sorted, unique");
  }
  return found;
}

/** The report from its encoding; DecodeError names the first bad field. */
export function decodeReport(data: Uint8Array): Report {
  const obj = decodeMsgpack(data);
  expect(Array.isArray(obj) && obj.length >= 1, "report must be a list of fields");
  const fields = obj as Value[];
  if (fields[0] !== REPORT_VERSION) throw new UnsupportedReportVersion(fields[0]!);
  expect(fields.length === 15, "report must be a list of 15 fields");
  const [version, chainId, epoch, stateRoot, statementObj, accountsObj, aggregatesObj] = fields as Value[];
  const [defaultObj, defaultsObj, marketObj, marketProofObj, recordsObj, height, sigs, anchorObj] = fields.slice(7) as Value[];
  expect(
    typeof chainId === "bigint" && typeof epoch === "bigint" && typeof height === "bigint" &&
      stateRoot instanceof Uint8Array,
    "bad chain id, epoch, height or state root",
  );
  const chain = chainId as bigint;
  const ep = epoch as bigint;
  const at = height as bigint;
  const root = stateRoot as Uint8Array;
  expect(chain >= 0n && chain <= MAX_UINT64, `chain id ${chain} does not fit in uint64`);
  expect(ep >= 0n && ep <= MAX_UINT64, `epoch ${ep} does not fit in uint64`);
  expect(at >= 0n && at <= MAX_UINT64, `height ${at} does not fit in uint64`);
  expect(root.length === 32, `state root must be 32 bytes, got ${root.length}`);
  const statement = decodeStatement(statementObj!);
  const width = statement.inputLabels.length * POINT_BYTES;
  expect(Array.isArray(accountsObj), "accounts must be a list");
  const accounts = (accountsObj as Value[]).map((a, i): AccountEntry => {
    expect(Array.isArray(a) && a.length === 4, `account #${i} must be a list of 4 fields`);
    const [owner, sub, blob, proof] = a as [Value, Value, Value, Value];
    expect(owner instanceof Uint8Array && typeof sub === "bigint", `account #${i}: bad owner/sub`);
    checkKey(owner as Uint8Array, sub as bigint);
    expect(blob instanceof Uint8Array && blob.length === width, `account #${i}: commitments`);
    expect(proof instanceof Uint8Array, `account #${i}: proof must be bytes`);
    const commitments: Uint8Array[] = [];
    for (let k = 0; k < width; k += POINT_BYTES) commitments.push((blob as Uint8Array).slice(k, k + POINT_BYTES));
    return { owner: owner as Uint8Array, subaccount: sub as bigint, commitments, proof: proof as Uint8Array };
  });
  const keys = accounts.map((a): [Uint8Array, bigint] => [a.owner, a.subaccount]);
  expect(isStrictlySorted(keys), "accounts must be sorted by (owner, sub) and unique");
  expect(Array.isArray(aggregatesObj), "aggregates must be a list");
  const aggregates = (aggregatesObj as Value[]).map((e, i): AggregateEntry => {
    expect(Array.isArray(e) && e.length === 3, `aggregate #${i} must be a list of 3`);
    const [label, total, blinding] = e as [Value, Value, Value];
    expect(typeof label === "string" && typeof total === "bigint", `aggregate #${i}: bad fields`);
    const t = total as bigint;
    expect(t >= MIN_INT64 && t <= MAX_UINT64, `aggregate #${i}: total out of range`);
    expect(blinding instanceof Uint8Array, `aggregate #${i}: blinding sum must be bytes`);
    return { label: label as string, total: t, blindingSum: decodeScalar(blinding as Uint8Array) };
  });
  const inDefault = decodeInDefault(defaultObj!, statement.inputLabels.length);
  const clearKeys = inDefault.map((d): [Uint8Array, bigint] => [d.owner, d.subaccount]);
  expect(isStrictlySorted(clearKeys), "accounts in default must be sorted, unique");
  const both = clearKeys.some(([o, s]) => keys.some(([p, t]) => equal(o, p) && s === t));
  expect(!both, "an account is both proven and in default");
  const defaults = decodeDefaults(defaultsObj!);
  let market: Market;
  let marketProof: MarketProof;
  try {
    market = decodeMarket(marketObj!);
    marketProof = decodeMarketProof(marketProofObj!);
  } catch (exc) {
    throw new DecodeError(`market: ${(exc as Error).message}`);
  }
  const defaultAccounts = decodeDefaultAccounts(recordsObj!);
  expect(Array.isArray(sigs), "signatures must be a list");
  const signatures = (sigs as Value[]).map((s, i): ValidatorSignature => {
    expect(Array.isArray(s) && s.length === 2, `signature #${i} must be [key, sig]`);
    const [key, sig] = s as [Value, Value];
    expect(key instanceof Uint8Array && key.length === 32, `signature #${i}: key 32 bytes`);
    expect(sig instanceof Uint8Array && sig.length === 64, `signature #${i}: sig 64 bytes`);
    return { publicKey: key as Uint8Array, signature: sig as Uint8Array };
  });
  const anchor = decodeAnchor(anchorObj!);
  // Every field has been read as the types above, so the tree re-encodes.
  expect(equal(encodeMsgpack(fields), data), "report encoding is not canonical");
  const hash = sha3_256(concat(REPORT_HASH_DOMAIN, encodeMsgpack(fields.slice(0, 13))));
  return {
    version: version as bigint, chainId: chain, epoch: ep, height: at, stateRoot: root, statement, accounts, aggregates,
    inDefault, defaults, market, marketProof, defaultAccounts, signatures, anchor, hash,
  };
}

/** What each validator signs (clearing.report_commitment.compute_report_signing_bytes). */
export function getSigningBytes(report: Report): Uint8Array {
  return encodeMsgpack(["clearnode", "solvency-report", report.chainId, [report.epoch, report.hash]]);
}

/** What an account's proof is bound to, besides the statement and its commitments. */
export function computeAccountContext(report: Report, owner: Uint8Array, sub: bigint): Uint8Array {
  return concat(u16be(report.version), u64be(report.epoch), report.stateRoot, owner, u64be(sub));
}
