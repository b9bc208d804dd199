/** The validators' signatures (proofs/checks.py check_signatures): Ed25519 over the
 * report's signing bytes, more than 2/3 of the validator set's power. */

import { ed25519 } from "@noble/curves/ed25519.js";
import { toHex } from "./bytes";
import { type Report, getSigningBytes } from "./report";

/** A validator as the verifier counts it: its key and voting power (proofs/report.py VotingPower). */
export interface VotingPower {
  publicKey: Uint8Array;
  power: bigint;
}

/** Strict RFC 8032 verification, as OpenSSL does for the Python verifier. */
export function isValidSignature(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Validator public key (hex) -> power, and their total, as lightclient's ValidatorPowers. */
export function getPowers(validators: VotingPower[]): { powers: Map<string, bigint>; total: bigint } {
  const powers = new Map(validators.map((v) => [toHex(v.publicKey), v.power]));
  return { powers, total: validators.reduce((a, v) => a + v.power, 0n) };
}

/** Failures of the quorum check: > 2/3 of total power, cross-multiplied. */
export function checkSignatures(report: Report, validators: VotingPower[]): string[] {
  const failures: string[] = [];
  const { powers } = getPowers(validators);
  const message = getSigningBytes(report);
  let signed = 0n;
  const seen = new Set<string>();
  for (const s of report.signatures) {
    const name = toHex(s.publicKey);
    if (seen.has(name)) {
      failures.push(`duplicate signature by ${name}`);
      continue;
    }
    seen.add(name);
    const weight = powers.get(name);
    if (weight === undefined) {
      failures.push(`signature by ${name}, not in the validator set`);
      continue;
    }
    if (!isValidSignature(s.publicKey, s.signature, message)) {
      failures.push(`invalid signature by ${name}`);
      continue;
    }
    signed += weight;
  }
  const total = [...powers.values()].reduce((a, b) => a + b, 0n); // over distinct keys, as Python's dict
  if (!(3n * signed > 2n * total)) failures.push(`signed power ${signed} of ${total} is not more than 2/3`);
  return failures;
}
