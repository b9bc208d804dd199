/** BLS12-381 G1 through mcl-wasm (proofs/group.py): canonical point decoding, scalars
 * mod R, multi-scalar multiplication.

 * Points decode from their 48-byte compressed encoding (ZCash / IETF flags) and must
 * re-encode to the same bytes; subgroup membership is not required (proofs/FORMAT.md:
 * every check is an equality of linear combinations), so the order check is off, as
 * in the Python verifier. */

import * as mcl from "mcl-wasm";
import { DecodeError } from "./errors";
import { equal, fromBigEndian, toHex } from "./bytes";

export const R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;
export const POINT_BYTES = 48;
export const SCALAR_BYTES = 32;

export type Point = mcl.G1;

let ready: Promise<void> | null = null;

/** Load the wasm once: IETF serialization, the RFC 9380 map, no order check on decode. */
export function initGroup(): Promise<void> {
  ready ??= mcl.init(mcl.BLS12_381).then(() => {
    mcl.setETHserialization(true);
    mcl.setMapToMode(mcl.IRTF);
    mcl.verifyOrderG1(false);
  });
  return ready;
}

export function mod(k: bigint): bigint {
  const r = k % R;
  return r < 0n ? r + R : r;
}

export function powMod(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % R;
    b = (b * b) % R;
    e >>= 1n;
  }
  return result;
}

export const invert = (k: bigint): bigint => powMod(k, R - 2n);

export function toFr(k: bigint): mcl.Fr {
  const fr = new mcl.Fr();
  fr.setStr(mod(k).toString(16), 16);
  return fr;
}

export function identity(): Point {
  return new mcl.G1();
}

export function encodePoint(p: Point): Uint8Array {
  return p.serialize();
}

/** A point from its canonical compressed encoding, or DecodeError. */
export function decodePoint(data: Uint8Array): Point {
  if (data.length !== POINT_BYTES) {
    throw new DecodeError(`point must be ${POINT_BYTES} bytes, got ${data.length}`);
  }
  const p = new mcl.G1();
  try {
    p.deserialize(data);
  } catch (exc) {
    throw new DecodeError(`not a point on BLS12-381 G1: ${toHex(data)}: ${String(exc)}`);
  }
  if (!p.isValid()) throw new DecodeError(`not a point on BLS12-381 G1: ${toHex(data)}`);
  if (!equal(p.serialize(), data)) {
    throw new DecodeError(`non-canonical point encoding ${toHex(data)}`);
  }
  return p;
}

/** 32 bytes big-endian, < R. */
export function decodeScalar(data: Uint8Array): bigint {
  if (data.length !== SCALAR_BYTES) {
    throw new DecodeError(`scalar must be ${SCALAR_BYTES} bytes, got ${data.length}`);
  }
  const k = fromBigEndian(data);
  if (k >= R) throw new DecodeError(`scalar 0x${k.toString(16)} is not reduced mod the group order`);
  return k;
}

/** Σ scalars[i]·points[i] (scalars any bigints, reduced mod R). */
export function msm(points: Point[], scalars: bigint[]): Point {
  if (points.length !== scalars.length) {
    throw new Error(`msm of ${points.length} points and ${scalars.length} scalars`);
  }
  if (points.length === 0) return identity();
  return mcl.mulVec(points, scalars.map(toFr));
}

export function sum(points: Point[]): Point {
  let acc = identity();
  for (const p of points) acc = mcl.add(acc, p);
  return acc;
}

export const add = (a: Point, b: Point): Point => mcl.add(a, b);
export const isIdentity = (p: Point): boolean => p.isZero();
export const pointsEqual = (a: Point, b: Point): boolean => a.isEqual(b);
