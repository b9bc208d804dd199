/** The state root followed to the chain, as a light client follows it (lightclient/:
 * anchor.py, header.py, commit.py, codec.py): block H+1's header commits to the root
 * after H, and its commit certificate carries the precommits of more than 2/3 of the
 * validators' power for that header; the validator set that signs it is followed from
 * the genesis's through every set change the anchor carries, each signed by the set
 * before it. The chain is our engine's or CometBFT's (the anchor names its engine, which
 * must be the genesis's): each reads its headers, commits and sets by its own rules
 * (`RULES`; CometBFT's in cometbft.ts). Decoding and failures in the Python's words. */

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equal, toHex, u64be, utf8 } from "./bytes";
import { decodeError as fail, reprValue, typeName } from "./codec";
import { DecodeError } from "./errors";
import { type Value, encodeMsgpack } from "./msgpack";
import { reprStr } from "./recompute/pyrepr.js";
import {
  type CometCommitFields,
  HEADER_HASHES,
  type Timestamp,
  computeCometValidatorsHash,
  computeHeaderHash,
  getCometSigners,
  verifyCometCommit,
} from "./cometbft";
import { type VotingPower, getPowers, isValidSignature } from "./signatures";

const ANCHOR_VERSION = 3n;
const MAX_SET_CHANGES = 10_000;
const WIRE_VERSION = 1n;
const MAX_INT = (1n << 63n) - 1n;
const MAX_VALIDATORS = 1_000;
const MAX_CHAIN_ID_BYTES = 64;
const MAX_STATE_ROOT_BYTES = 64;
const DOMAIN_BLOCK_HEADER = utf8("clearnode/consensus/header/v1\x00");
const DOMAIN_VALIDATORS = utf8("clearnode/consensus/validators/v1\x00");
const DOMAIN_VOTE = utf8("clearnode/consensus/vote/v1\x00");
const PRECOMMIT = 2n;

export interface BlockHeader {
  chainId: string;
  height: bigint;
  timeMs: bigint;
  validatorsHash: Uint8Array; // the set that signs it
  nextValidatorsHash: Uint8Array; // the set that signs the next height
  hash: Uint8Array; // by its engine's rule, over the fields as received
}

/** Why an anchor was not checked (the header is signed by another set than the one given),
 * or why it does not prove the root; null when it does. */
export type AnchorOutcome = { notChecked: string } | { failure: string } | null;

/** A block's commit, of either engine: what the walk reads of it. */
export interface CommitCertificate {
  height: bigint;
  blockHash: Uint8Array;
  /** InvalidCommit's words, or null when more than 2/3 of `validators`' power signed. */
  verify(chain: string, validators: VotingPower[]): string | null;
  /** The members of `validators` whose precommits for the block it carries. */
  signers(validators: VotingPower[]): VotingPower[];
}

/** How an engine's chain is read (lightclient.anchor.EngineRecords). */
interface ChainRules {
  decodeHeader(obj: Value): [BlockHeader, Uint8Array];
  decodeCommit(obj: Value): CommitCertificate;
  validatorsHash(validators: VotingPower[]): Uint8Array;
}

/** Block h's header naming a next set other than its own, h's certificate, and that set. */
export interface SetChange {
  header: BlockHeader;
  commit: CommitCertificate;
  validators: VotingPower[];
}

export interface StateAnchor {
  engine: string;
  header: BlockHeader;
  prevStateRoot: Uint8Array;
  commit: CommitCertificate;
  setChanges: SetChange[];
}

/** The sets that signed the chain as the walk from the given set found them: [first height, set]. */
export interface ValidatorHistory {
  sets: [bigint, VotingPower[]][];
}

/* records/codec.py's checks with its words; its integers are int64 here (`MAX_INT`). */
function expectList(obj: Value, field: string, length?: number, maxLen = 1_000_000): Value[] {
  if (!Array.isArray(obj)) throw fail(field, `expected a list, got ${typeName(obj)}`);
  if (length !== undefined && obj.length !== length) throw fail(field, `expected ${length} fields, got ${obj.length}`);
  if (obj.length > maxLen) throw fail(field, `${obj.length} items exceeds cap ${maxLen}`);
  return obj;
}

function expectVersioned(obj: Value, field: string, length: number): Value[] {
  const items = expectList(obj, field, length);
  if (items[0] !== WIRE_VERSION) throw fail(field, `unsupported version ${reprValue(items[0]!)}, expected ${WIRE_VERSION}`);
  return items;
}

function expectInt(obj: Value, field: string, lo = 0n, hi = MAX_INT): bigint {
  if (typeof obj !== "bigint") throw fail(field, `expected an integer, got ${typeName(obj)}`);
  if (obj < lo || obj > hi) throw fail(field, `${obj} outside [${lo}, ${hi}]`);
  return obj;
}

function expectBytes(obj: Value, field: string, size?: number, maxLen = 64 * 1024 * 1024): Uint8Array {
  if (!(obj instanceof Uint8Array)) throw fail(field, `expected bytes, got ${typeName(obj)}`);
  if (size !== undefined && obj.length !== size) throw fail(field, `expected ${size} bytes, got ${obj.length}`);
  if (obj.length > maxLen) throw fail(field, `${obj.length} bytes exceeds cap ${maxLen}`);
  return obj;
}

function expectStr(obj: Value, field: string, maxLen: number): string {
  if (typeof obj !== "string") throw fail(field, `expected a string, got ${typeName(obj)}`);
  const n = utf8(obj).length;
  if (n > maxLen) throw fail(field, `${n} bytes exceeds cap ${maxLen}`);
  return obj;
}

function decodeHeader(obj: Value): [BlockHeader, Uint8Array] {
  const items = expectVersioned(obj, "header", 12);
  const chainId = expectStr(items[1]!, "header.chain_id", MAX_CHAIN_ID_BYTES);
  const height = expectInt(items[2]!, "header.height", 1n);
  const timeMs = expectInt(items[3]!, "header.time_ms", 0n);
  expectBytes(items[4]!, "header.prev_block_hash", 32);
  const root = expectBytes(items[5]!, "header.prev_state_root", undefined, MAX_STATE_ROOT_BYTES);
  expectBytes(items[6]!, "header.txs_hash", 32);
  expectBytes(items[7]!, "header.proposer", 32);
  expectBytes(items[8]!, "header.last_commit_hash", 32);
  expectBytes(items[9]!, "header.evidence_hash", 32);
  const validatorsHash = expectBytes(items[10]!, "header.validators_hash", 32);
  const nextValidatorsHash = expectBytes(items[11]!, "header.next_validators_hash", 32);
  const hash = computeHash(DOMAIN_BLOCK_HEADER, encodeMsgpack(items));
  return [{ chainId, height, timeMs, validatorsHash, nextValidatorsHash, hash }, root];
}

function decodeCommit(obj: Value): CommitCertificate {
  const items = expectVersioned(obj, "commit", 5);
  const signatures = expectList(items[4]!, "commit.signatures", undefined, MAX_VALIDATORS).map((pair) => {
    const [v, s] = expectList(pair, "commit.signature", 2);
    return { validator: expectBytes(v!, "commit.validator", 32), signature: expectBytes(s!, "commit.signature", 64) };
  });
  const commit = {
    height: expectInt(items[1]!, "commit.height", 1n),
    round: expectInt(items[2]!, "commit.round", 0n, 1n << 31n),
    blockHash: expectBytes(items[3]!, "commit.block_hash", 32),
  };
  return {
    ...commit,
    verify: (chain, validators) => verifyCommit(commit, signatures, chain, validators),
    signers: (validators) => validators.filter((v) => signatures.some((s) => equal(s.validator, v.publicKey))),
  };
}

const MAX_INT64 = (1n << 63n) - 1n;

function decodeTimestamp(obj: Value, field: string): Timestamp {
  const [seconds, nanos] = expectList(obj, field, 2);
  return { seconds: expectInt(seconds!, `${field}.seconds`, -(1n << 63n), MAX_INT64), nanos: expectInt(nanos!, `${field}.nanos`, 0n, 999_999_999n) };
}

function decodeBlockId(obj: Value, field: string) {
  const [hash, total, partsHash] = expectList(obj, field, 3);
  return {
    hash: expectBytes(hash!, `${field}.hash`, undefined, 32),
    partsTotal: expectInt(total!, `${field}.parts_total`, 0n, (1n << 32n) - 1n),
    partsHash: expectBytes(partsHash!, `${field}.parts_hash`, undefined, 32),
  };
}

/** A CometBFT header as CometHeader.to_wire writes it; its hash is CometBFT's, its
 * app_hash the root after the block before. */
function decodeCometHeader(obj: Value): [BlockHeader, Uint8Array] {
  const items = expectList(obj, "cometbft header", 6 + HEADER_HASHES.length);
  const hashes = HEADER_HASHES.map((name, i) => expectBytes(items[6 + i]!, `header.${name}`, undefined, 32));
  const fields = {
    versionBlock: expectInt(items[0]!, "header.version_block"),
    versionApp: expectInt(items[1]!, "header.version_app"),
    chainId: expectStr(items[2]!, "header.chain_id", MAX_CHAIN_ID_BYTES),
    height: expectInt(items[3]!, "header.height", 1n, MAX_INT64),
    time: decodeTimestamp(items[4]!, "header.time"),
    lastBlockId: decodeBlockId(items[5]!, "header.last_block_id"),
    hashes,
  };
  const at = (name: (typeof HEADER_HASHES)[number]): Uint8Array => hashes[HEADER_HASHES.indexOf(name)]!;
  const header = {
    chainId: fields.chainId,
    height: fields.height,
    timeMs: fields.time.seconds * 1000n + fields.time.nanos / 1_000_000n,
    validatorsHash: at("validators_hash"),
    nextValidatorsHash: at("next_validators_hash"),
    hash: computeHeaderHash(fields),
  };
  return [header, at("app_hash")];
}

/** A CometBFT commit as CometCommit.to_wire writes it. */
function decodeCometCommit(obj: Value): CommitCertificate {
  const [height, round, blockId, signatures] = expectList(obj, "cometbft commit", 4);
  const commit: CometCommitFields = {
    height: expectInt(height!, "commit.height", 1n, MAX_INT64),
    round: expectInt(round!, "commit.round", 0n, (1n << 31n) - 1n),
    blockId: decodeBlockId(blockId!, "commit.block_id"),
    signatures: expectList(signatures!, "commit.signatures", undefined, MAX_VALIDATORS).map((item) => {
      const [flag, address, timestamp, signature] = expectList(item, "commit signature", 4);
      return {
        flag: expectInt(flag!, "signature.flag", 1n, 3n),
        validatorAddress: expectBytes(address!, "signature.validator_address", undefined, 20),
        timestamp: decodeTimestamp(timestamp!, "signature.timestamp"),
        signature: expectBytes(signature!, "signature.signature", undefined, 64),
      };
    }),
  };
  return {
    height: commit.height,
    blockHash: commit.blockId.hash,
    verify: (chain, validators) => verifyCometCommit(commit, chain, validators),
    signers: (validators) => getCometSigners(commit, validators),
  };
}

/** The engine a network runs unless its genesis names another (genesis `engine`). */
export const OUR_ENGINE = "clearnode";

const RULES: Record<string, ChainRules> = {
  clearnode: { decodeHeader, decodeCommit, validatorsHash: (v) => computeValidatorsHash(v) },
  cometbft: { decodeHeader: decodeCometHeader, decodeCommit: decodeCometCommit, validatorsHash: computeCometValidatorsHash },
};

function getRules(engine: Value): ChainRules {
  const rules = typeof engine === "string" ? RULES[engine] : undefined;
  if (rules === undefined) {
    throw fail("anchor.engine", `${reprValue(engine)} is not one of [${Object.keys(RULES).map(reprStr).join(", ")}]`);
  }
  return rules;
}

/** A set as ValidatorPowers.from_wire reads it: keys strictly increasing, power at least 1. */
function decodeValidators(obj: Value): VotingPower[] {
  const validators = expectList(obj, "validators", undefined, MAX_VALIDATORS).map((item) => {
    const [key, power] = expectList(item, "validator", 2);
    return { publicKey: expectBytes(key!, "validator.key", 32), power: expectInt(power!, "validator.power", 1n) };
  });
  if (validators.length === 0) throw fail("validators", "an empty set");
  for (let i = 1; i < validators.length; i++) {
    if (toHex(validators[i - 1]!.publicKey) >= toHex(validators[i]!.publicKey)) {
      throw fail("validators", "keys not in strictly increasing order");
    }
  }
  return validators;
}

function decodeSetChange(obj: Value, rules: ChainRules): SetChange {
  const [header, commit, validators] = expectList(obj, "set change", 3);
  return { header: rules.decodeHeader(header!)[0], commit: rules.decodeCommit(commit!), validators: decodeValidators(validators!) };
}

/** Field 13: nil, or [3, engine, header, commit, set changes]; DecodeError("anchor: ...") otherwise. */
export function decodeAnchor(obj: Value): StateAnchor | null {
  if (obj === null) return null;
  try {
    const items = expectList(obj, "anchor");
    const version = items.length > 0 ? items[0]! : null;
    if (version !== ANCHOR_VERSION) throw new DecodeError(`anchor version ${reprValue(version)} is not ${ANCHOR_VERSION}`);
    const [, engine, header, commit, changes] = expectList(items, "anchor", 5);
    const rules = getRules(engine!);
    const [decoded, prevStateRoot] = rules.decodeHeader(header!);
    const commitDecoded = rules.decodeCommit(commit!);
    const setChanges = expectList(changes!, "anchor.set_changes", undefined, MAX_SET_CHANGES).map((c) => decodeSetChange(c, rules));
    return { engine: engine as string, header: decoded, prevStateRoot, commit: commitDecoded, setChanges };
  } catch (exc) {
    if (exc instanceof DecodeError) throw new DecodeError(`anchor: ${exc.message}`);
    throw exc;
  }
}

/** SHA-256 over length-prefixed parts (lightclient.crypto.compute_hash). */
function computeHash(...parts: Uint8Array[]): Uint8Array {
  return sha256(concat(...parts.flatMap((p) => [u64be(p.length), p])));
}

/** What a header signed by `validators` commits to (lightclient.header.compute_validators_hash):
 * (public key, power) pairs in key order. */
export function computeValidatorsHash(validators: VotingPower[]): Uint8Array {
  const pairs = validators.map((v): [string, Value[]] => [toHex(v.publicKey), [v.publicKey, v.power]]);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return computeHash(DOMAIN_VALIDATORS, encodeMsgpack(pairs.map(([, pair]) => pair)));
}

/** How much of the genesis hash the consensus chain id carries (lightclient.anchor.GENESIS_DIGEST_BYTES). */
const GENESIS_DIGEST_BYTES = 8;

/** The chain id consensus signs under: the genesis's chain id and the first bytes of its
 * hash, SHA-256 of the genesis file (get_consensus_chain_id). */
export const getConsensusChainId = (chainId: bigint, genesisHash: Uint8Array): string =>
  `clearnode-${chainId}-${toHex(genesisHash.slice(0, GENESIS_DIGEST_BYTES))}`;

/** The set that signs block `height` (the first one before any change). */
export function getSetAt(history: ValidatorHistory, height: bigint): VotingPower[] {
  let found = history.sets[0]![1];
  for (const [first, validators] of history.sets) {
    if (first > height) break;
    found = validators;
  }
  return found;
}

/** The blocks each of whose header named a new next set. */
export const getChangedAt = (history: ValidatorHistory): bigint[] => history.sets.slice(1).map(([first]) => first - 1n);

const short = (hash: Uint8Array): string => `0x${toHex(hash).slice(0, 16)}...`;

const DAY_MS = 86_400_000n;
/** How long after its time a trusted point (the genesis, a checkpoint) may be walked from
 * (lightclient.anchor.TRUSTING_PERIOD_MS). */
export const TRUSTING_PERIOD_MS = 14n * DAY_MS;

/** Block `height` as a member trusts it out of band: its header's time and the hash of the
 * set that signs it (lightclient.anchor.Checkpoint; written HEIGHT:TIME_MS:0xHASH). */
export interface Checkpoint {
  height: bigint;
  timeMs: bigint;
  validatorsHash: Uint8Array;
}

/** Where the walk starts and how old that is; `nowMs` is the page's clock (lightclient.anchor.Trust). */
export interface Trust {
  nowMs: bigint;
  genesisTimeMs: bigint;
  checkpoint: Checkpoint | null;
}

/** TrustExpired's words, or null within the trusting period (check_trusting_period). */
export function checkTrustingPeriod(trust: Trust): string | null {
  const time = trust.checkpoint === null ? trust.genesisTimeMs : trust.checkpoint.timeMs;
  if (trust.nowMs - time <= TRUSTING_PERIOD_MS) return null;
  const tenths = ((trust.nowMs - time) * 10n) / DAY_MS;
  return (
    `the point the walk starts from (time ${time} ms) is ${tenths / 10n}.${tenths % 10n} days old, more than the ` +
    `trusting period of ${TRUSTING_PERIOD_MS / DAY_MS} days: keys that have left the validator set since could sign another history`
  );
}

/** CheckpointAfterAnchor's words. */
export const describeCheckpointAfterAnchor = (checkpoint: bigint, anchor: bigint): string =>
  `the checkpoint is of block ${checkpoint}, after the anchor's block ${anchor}: the walk cannot reach back before its start (use an earlier checkpoint)`;

/** The walk on `chain` (getConsensusChainId's name) from `validators` (or, given a
 * `checkpoint`, from the set it names: the changes before it only read to find that set)
 * through `changes` (follow_set_changes), or the SetChangeError's (CheckpointMismatch's) words. */
export function followSetChanges(
  changes: SetChange[],
  chain: string,
  validators: VotingPower[],
  checkpoint: Checkpoint | null,
  engine: string,
): ValidatorHistory | { failure: string } {
  const rules = RULES[engine]!;
  let sets: [bigint, VotingPower[]][] = [[1n, validators]];
  let pending = changes;
  if (checkpoint !== null) {
    let read = 0;
    for (const change of changes) {
      if (change.header.height >= checkpoint.height) break;
      const first = sets[sets.length - 1]![0];
      if (change.header.height < first) {
        return {
          failure:
            `the validator-set change in block ${change.header.height} is not the chain's: the set before it signs ` +
            `from block ${first} on: changes must come in height order, one per block`,
        };
      }
      sets.push([change.header.height + 1n, change.validators]);
      read += 1;
    }
    pending = changes.slice(read);
    const held = sets[sets.length - 1]![1];
    const found = rules.validatorsHash(held);
    if (!equal(found, checkpoint.validatorsHash)) {
      return {
        failure:
          `the anchor's set changes put the set 0x${toHex(found)} in force at block ${checkpoint.height}, and the ` +
          `checkpoint says 0x${toHex(checkpoint.validatorsHash)}: a history the checkpoint's set did not sign`,
      };
    }
    sets = [[checkpoint.height, held]];
  }
  for (const change of pending) {
    const [first, held] = sets[sets.length - 1]!;
    const reason = checkSetChange(change, chain, first, held, rules);
    if (reason !== null) return { failure: `the validator-set change in block ${change.header.height} is not the chain's: ${reason}` };
    sets.push([change.header.height + 1n, change.validators]);
  }
  return { sets };
}

/** check_set_change's reason, or null when `change` is a block of `chain` at or after `first`,
 * signed by `held` and naming its set next. */
function checkSetChange(change: SetChange, chain: string, first: bigint, held: VotingPower[], rules: ChainRules): string | null {
  const { header, commit } = change;
  if (header.chainId !== chain) return `its header is of chain ${reprStr(header.chainId)}, not ${reprStr(chain)}`;
  if (header.height < first) return `the set before it signs from block ${first} on: changes must come in height order, one per block`;
  const headerHash = header.hash;
  if (commit.height !== header.height || !equal(commit.blockHash, headerHash)) {
    return `its certificate commits block 0x${toHex(commit.blockHash)} at height ${commit.height}, not its header 0x${toHex(headerHash)}`;
  }
  const heldHash = rules.validatorsHash(held);
  if (!equal(header.validatorsHash, heldHash)) {
    return `its header is signed by the set ${short(header.validatorsHash)}, not the one in force there (${short(heldHash)})`;
  }
  const nextHash = rules.validatorsHash(change.validators);
  if (!equal(header.nextValidatorsHash, nextHash)) {
    return `its header names the next set ${short(header.nextValidatorsHash)}, and the set it carries hashes to ${short(nextHash)}`;
  }
  if (equal(nextHash, heldHash)) return "its header names the set that signs it as the next one";
  const invalid = commit.verify(chain, held);
  return invalid === null ? null : `its header is not committed: ${invalid}`;
}

/** Whether `anchor` proves `stateRoot` is the state root of `chain` (getConsensusChainId's
 * name) after block `height`, committed by `validators`, the set that signs `height + 1`
 * (check_anchor: ValidatorSetChanged is `notChecked`, every other AnchorError a `failure`). */
export function checkAnchor(anchor: StateAnchor, chain: string, height: bigint, stateRoot: Uint8Array, validators: VotingPower[]): AnchorOutcome {
  const { header, commit } = anchor;
  const failure = (reason: string): AnchorOutcome => ({ failure: reason });
  if (header.chainId !== chain) {
    return failure(
      `the anchor's header is of chain ${reprStr(header.chainId)}, not ${reprStr(chain)} (the chain id and genesis hash of the genesis given)`,
    );
  }
  if (header.height !== height + 1n) {
    return failure(`the anchor's header is of height ${header.height}; the root after block ${height} is committed by the header of height ${height + 1n}`);
  }
  if (!equal(anchor.prevStateRoot, stateRoot)) {
    return failure(`the anchor's header commits to state root 0x${toHex(anchor.prevStateRoot)}, not 0x${toHex(stateRoot)}`);
  }
  const headerHash = header.hash;
  if (commit.height !== header.height || !equal(commit.blockHash, headerHash)) {
    return failure(
      `the certificate commits block 0x${toHex(commit.blockHash)} at height ${commit.height}, not the ` +
        `anchor's header 0x${toHex(headerHash)} at height ${header.height}`,
    );
  }
  const given = RULES[anchor.engine]!.validatorsHash(validators);
  if (!equal(header.validatorsHash, given)) {
    return {
      notChecked:
        `block ${header.height} is signed by the validator set ${short(header.validatorsHash)}, not the ` +
        `one followed from the set given (${short(given)}): the anchor does not carry the change of the ` +
        "validator set that leads to it",
    };
  }
  const invalid = commit.verify(chain, validators);
  return invalid === null ? null : failure(`the header is not committed: ${invalid}`);
}

/** InvalidCommit's words, or null: distinct members signed with more than 2/3 of power. */
function verifyCommit(
  commit: { height: bigint; round: bigint; blockHash: Uint8Array },
  signatures: { validator: Uint8Array; signature: Uint8Array }[],
  chain: string,
  validators: VotingPower[],
): string | null {
  const message = concat(DOMAIN_VOTE, encodeMsgpack([WIRE_VERSION, chain, PRECOMMIT, commit.height, commit.round, commit.blockHash]));
  const { powers, total } = getPowers(validators);
  const invalid = (reason: string, signed = 0n, of = 0n): string =>
    `invalid commit at height ${commit.height}: ${reason} (signed power ${signed} of total ${of})`;
  const seen = new Set<string>();
  let power = 0n;
  for (const sig of signatures) {
    const key = toHex(sig.validator);
    if (seen.has(key)) return invalid("duplicate signer");
    const weight = powers.get(key);
    if (weight === undefined) return invalid("signer outside the validator set");
    if (!isValidSignature(sig.validator, sig.signature, message)) return invalid("bad precommit signature");
    seen.add(key);
    power += weight;
  }
  return 3n * power > 2n * total ? null : invalid("no quorum", power, total);
}

/** The signers' power, for the line a member reads. */
export function getSignedPower(anchor: StateAnchor, validators: VotingPower[]): bigint {
  return anchor.commit.signers(validators).reduce((a, v) => a + v.power, 0n);
}
