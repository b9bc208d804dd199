/** The nothing-up-my-sleeve generators (proofs/pedersen.py): RFC 9380 hash_to_curve,
 * suite BLS12381G1_XMD:SHA-256_SSWU_RO_, DST "clearnode-v1-generators".

 * mcl cannot take our DST, so the suite is split where it allows: noble's
 * hash_to_field (expand_message_xmd with SHA-256, two field elements) and mcl's
 * map_to_curve with cofactor clearing on each (mapToG1 in IRTF mode), summed:
 * clearing the cofactor is linear, so map(u0) + map(u1) cleared each equals the
 * RFC's clear(map(u0) + map(u1)). It agrees with noble's own hashToCurve and with
 * the Python generators (the committed vectors check it) at a fifth of noble's
 * time. Derived once per page and cached in memory. */

import * as mcl from "mcl-wasm";
import { hash_to_field } from "@noble/curves/abstract/hash-to-curve.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concat, u32be, utf8 } from "./bytes";
import { type Point, add, msm } from "./group";

export const GENERATOR_DST = "clearnode-v1-generators";
// The base field of BLS12-381.
const P = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaabn;
const H2F_OPTIONS = { DST: utf8(GENERATOR_DST), p: P, m: 1, k: 128, expand: "xmd" as const, hash: sha256 };

function toFp(u: bigint): mcl.Fp {
  const fp = new mcl.Fp();
  fp.setStr(u.toString(16), 16);
  return fp;
}

export function hashToPoint(message: Uint8Array): Point {
  const [u0, u1] = hash_to_field(message, 2, H2F_OPTIONS);
  return add(toFp(u0![0]!).mapToG1(), toFp(u1![0]!).mapToG1());
}

export function getVectorLabel(kind: "g" | "h", index: number): Uint8Array {
  return concat(utf8(`bulletproofs/${kind}/`), u32be(index));
}

/** G, H, U and the vectors g_i, h_i, grown on demand. */
export class Generators {
  readonly G = hashToPoint(utf8("pedersen/value"));
  readonly H = hashToPoint(utf8("pedersen/blinding"));
  readonly U = hashToPoint(utf8("ipa/u"));
  private readonly g: Point[] = [];
  private readonly h: Point[] = [];

  /** The first `count` of g and of h. */
  vectors(count: number): [Point[], Point[]] {
    while (this.g.length < count) {
      const i = this.g.length;
      this.g.push(hashToPoint(getVectorLabel("g", i)));
      this.h.push(hashToPoint(getVectorLabel("h", i)));
    }
    return [this.g.slice(0, count), this.h.slice(0, count)];
  }

  commit(value: bigint, blinding: bigint): Point {
    return msm([this.G, this.H], [value, blinding]);
  }
}

let cached: Generators | null = null;

/** The page's generators (call after initGroup). */
export function getGenerators(): Generators {
  cached ??= new Generators();
  return cached;
}
