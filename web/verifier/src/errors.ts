/** Typed errors of the verifier (proofs/errors.py). */

/** Bytes that are not a valid encoding (wrong length, not on the curve, bad field). */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** A value outside the range the honest prover could prove ([0, 2^64)). */
export class ProverError extends Error {
  constructor(
    message: string,
    readonly index: number,
    readonly value: bigint,
  ) {
    super(`${message}: value #${index} = ${value} is not in [0, 2^64)`);
    this.name = "ProverError";
  }
}
