/** A state root followed to a CometBFT v0.38 chain (lightclient/cometbft.py): CometBFT's
 * header hash, validator-set hash and precommit sign bytes, with the few protobuf
 * encodings they need written out (a scalar field left out when zero, a non-nullable
 * message field always written), and `VerifyCommitLight`. The records are read from
 * their wire form as the Python writes it (`CometHeader.to_wire`, `CometCommit.to_wire`). */

import { sha256 } from "@noble/hashes/sha2.js";
import { compare, concat, equal, utf8 } from "./bytes";
import { type VotingPower, isValidSignature } from "./signatures";

const PRECOMMIT = 2n;
const FLAG_COMMIT = 2n;

function encodeUvarint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return new Uint8Array(out);
}

const encodeKey = (num: number, wireType: number): Uint8Array => encodeUvarint(BigInt((num << 3) | wireType));

/** A varint field; a negative int64 as its 64-bit two's complement. */
function encodeInt(num: number, value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array();
  return concat(encodeKey(num, 0), encodeUvarint(BigInt.asUintN(64, value)));
}

function encodeSfixed64(num: number, value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array();
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return concat(encodeKey(num, 1), out);
}

function encodeBytes(num: number, value: Uint8Array): Uint8Array {
  if (value.length === 0) return new Uint8Array();
  return concat(encodeKey(num, 2), encodeUvarint(BigInt(value.length)), value);
}

const encodeMessage = (num: number, body: Uint8Array): Uint8Array => concat(encodeKey(num, 2), encodeUvarint(BigInt(body.length)), body);

/** merkle.HashFromByteSlices: leaves prefixed 0, inner nodes 1, split at the largest power of two below the count. */
export function computeMerkleRoot(items: Uint8Array[]): Uint8Array {
  if (items.length === 0) return sha256(new Uint8Array());
  if (items.length === 1) return sha256(concat(new Uint8Array([0]), items[0]!));
  let split = 1;
  while (split * 2 < items.length) split *= 2;
  return sha256(concat(new Uint8Array([1]), computeMerkleRoot(items.slice(0, split)), computeMerkleRoot(items.slice(split))));
}

export interface Timestamp {
  seconds: bigint;
  nanos: bigint;
}

const encodeTimestamp = (t: Timestamp): Uint8Array => concat(encodeInt(1, t.seconds), encodeInt(2, t.nanos));

export interface BlockId {
  hash: Uint8Array;
  partsTotal: bigint;
  partsHash: Uint8Array;
}

function encodeBlockId(id: BlockId): Uint8Array {
  return concat(encodeBytes(1, id.hash), encodeMessage(2, concat(encodeInt(1, id.partsTotal), encodeBytes(2, id.partsHash))));
}

/** The header's byte fields, in the order its hash takes them (lightclient.cometbft.HEADER_HASHES). */
export const HEADER_HASHES = [
  "last_commit_hash", "data_hash", "validators_hash", "next_validators_hash", "consensus_hash",
  "app_hash", "last_results_hash", "evidence_hash", "proposer_address",
] as const;

export interface CometHeaderFields {
  versionBlock: bigint;
  versionApp: bigint;
  chainId: string;
  height: bigint;
  time: Timestamp;
  lastBlockId: BlockId;
  hashes: Uint8Array[]; // HEADER_HASHES, in order
}

/** Header.Hash: the Merkle root of its fields, the scalar and byte ones wrapped as
 * google.protobuf value messages. */
export function computeHeaderHash(h: CometHeaderFields): Uint8Array {
  return computeMerkleRoot([
    concat(encodeInt(1, h.versionBlock), encodeInt(2, h.versionApp)),
    encodeBytes(1, utf8(h.chainId)),
    encodeInt(1, h.height),
    encodeTimestamp(h.time),
    encodeBlockId(h.lastBlockId),
    ...h.hashes.map((value) => encodeBytes(1, value)),
  ]);
}

/** CometBFT's address of an Ed25519 key: the first 20 bytes of its SHA-256. */
export const getAddress = (publicKey: Uint8Array): Uint8Array => sha256(publicKey).slice(0, 20);

/** CometBFT's order of a set (ValidatorsByVotingPower): power descending, then address. */
export function orderValidators(validators: VotingPower[]): VotingPower[] {
  return [...validators].sort((a, b) =>
    a.power !== b.power ? (a.power > b.power ? -1 : 1) : compare(getAddress(a.publicKey), getAddress(b.publicKey)),
  );
}

/** ValidatorSet.Hash: the Merkle root of each SimpleValidator, in CometBFT's order. */
export function computeCometValidatorsHash(validators: VotingPower[]): Uint8Array {
  return computeMerkleRoot(
    orderValidators(validators).map((v) => concat(encodeMessage(1, encodeBytes(1, v.publicKey)), encodeInt(2, v.power))),
  );
}

export interface CommitSignature {
  flag: bigint;
  validatorAddress: Uint8Array;
  timestamp: Timestamp;
  signature: Uint8Array;
}

export interface CometCommitFields {
  height: bigint;
  round: bigint;
  blockId: BlockId;
  signatures: CommitSignature[];
}

/** VoteSignBytes of signature `index`'s precommit: CanonicalVote, varint length-prefixed. */
export function getVoteSignBytes(chainId: string, commit: CometCommitFields, index: number): Uint8Array {
  const vote = concat(
    encodeInt(1, PRECOMMIT),
    encodeSfixed64(2, commit.height),
    encodeSfixed64(3, commit.round),
    encodeMessage(4, encodeBlockId(commit.blockId)),
    encodeMessage(5, encodeTimestamp(commit.signatures[index]!.timestamp)),
    encodeBytes(6, utf8(chainId)),
  );
  return concat(encodeUvarint(BigInt(vote.length)), vote);
}

/** The validators, in the set's order, whose slots hold a precommit for the block. */
export function getCometSigners(commit: CometCommitFields, validators: VotingPower[]): VotingPower[] {
  const ordered = orderValidators(validators);
  return commit.signatures.flatMap((sig, i) => (sig.flag === FLAG_COMMIT && ordered[i] !== undefined ? [ordered[i]!] : []));
}

/** VerifyCommitLight's verdict in InvalidCommit's words, or null: one slot per validator in
 * the set's order, each precommit for the block by its slot's validator and valid, more
 * than 2/3 of the power together. */
export function verifyCometCommit(commit: CometCommitFields, chainId: string, validators: VotingPower[]): string | null {
  const invalid = (reason: string, signed = 0n, of = 0n): string =>
    `invalid commit at height ${commit.height}: ${reason} (signed power ${signed} of total ${of})`;
  const ordered = orderValidators(validators);
  if (commit.signatures.length !== ordered.length) {
    return invalid(`${commit.signatures.length} signature slots for a set of ${ordered.length}`);
  }
  let power = 0n;
  const total = ordered.reduce((a, v) => a + v.power, 0n);
  for (const [index, sig] of commit.signatures.entries()) {
    if (sig.flag !== FLAG_COMMIT) continue;
    const validator = ordered[index]!;
    if (!equal(sig.validatorAddress, getAddress(validator.publicKey))) {
      return invalid(`signature ${index} is not by the set's validator ${index}`);
    }
    if (!isValidSignature(validator.publicKey, sig.signature, getVoteSignBytes(chainId, commit, index))) {
      return invalid(`bad precommit signature ${index}`);
    }
    power += validator.power;
  }
  return 3n * power > 2n * total ? null : invalid("no quorum", power, total);
}
