/** Aggregated range proofs, verification side (proofs/bulletproofs.py): decoding, and
 * each proof's two equations added to an MsmCheck with fresh random weights. */

import { DecodeError } from "./errors";
import { type Point, POINT_BYTES, R, SCALAR_BYTES, decodePoint, decodeScalar, invert, mod, powMod } from "./group";
import type { MsmCheck, Tensor } from "./msm";
import type { Transcript } from "./transcript";

export const N_BITS = 64;
const WEIGHT_BITS = 128;

export function computePaddedCount(count: number): number {
  let m = 1;
  while (m < count) m *= 2;
  return m;
}

export const computeRounds = (m: number, n: number): number => Math.log2(m * n);

export function computeProofSize(m: number, n: number = N_BITS): number {
  return (4 + 2 * computeRounds(m, n)) * POINT_BYTES + 5 * SCALAR_BYTES;
}

/** A|S|T1|T2|tau_x|mu|t_hat|L_0|R_0|...|a|b; points still encoded. */
export interface RangeProof {
  A: Uint8Array;
  S: Uint8Array;
  T1: Uint8Array;
  T2: Uint8Array;
  tauX: bigint;
  mu: bigint;
  tHat: bigint;
  L: Uint8Array[];
  R: Uint8Array[];
  a: bigint;
  b: bigint;
}

export function decodeRangeProof(data: Uint8Array, m: number, n: number = N_BITS): RangeProof {
  const expected = computeProofSize(m, n);
  if (data.length !== expected) {
    throw new DecodeError(`range proof for m=${m}, n=${n} must be ${expected} bytes, got ${data.length}`);
  }
  const pt = POINT_BYTES;
  const sc = SCALAR_BYTES;
  const point = (i: number): Uint8Array => data.slice(i * pt, (i + 1) * pt);
  let off = 4 * pt;
  const scalar = (): bigint => {
    const k = decodeScalar(data.slice(off, off + sc));
    off += sc;
    return k;
  };
  const [tauX, mu, tHat] = [scalar(), scalar(), scalar()];
  const rounds = computeRounds(m, n);
  const L: Uint8Array[] = [];
  const Rs: Uint8Array[] = [];
  for (let i = 0; i < rounds; i++) {
    L.push(data.slice(off, off + pt));
    Rs.push(data.slice(off + pt, off + 2 * pt));
    off += 2 * pt;
  }
  const [a, b] = [scalar(), scalar()];
  return { A: point(0), S: point(1), T1: point(2), T2: point(3), tauX, mu, tHat, L, R: Rs, a, b };
}

/** A range proof whose points were decoded (checked on the curve). */
export interface DecodedProof {
  proof: RangeProof;
  A: Point;
  S: Point;
  T1: Point;
  T2: Point;
  L: Point[];
  R: Point[];
}

export function decodeProofPoints(proof: RangeProof): DecodedProof {
  return {
    proof,
    A: decodePoint(proof.A),
    S: decodePoint(proof.S),
    T1: decodePoint(proof.T1),
    T2: decodePoint(proof.T2),
    L: proof.L.map(decodePoint),
    R: proof.R.map(decodePoint),
  };
}

/** [base^i mod R for i < count]. */
export function powers(base: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  let v = 1n;
  const b = mod(base);
  for (let i = 0; i < count; i++) {
    out.push(v);
    v = (v * b) % R;
  }
  return out;
}

/** Entry i = Π over rounds r (MSB first) of u_r where bit r of i is 0 (onLeft) or 1. */
function tensor(challenges: bigint[], onLeft: boolean): bigint[] {
  let vec = [1n];
  for (const u of [...challenges].reverse()) {
    const scaled = vec.map((v) => (v * u) % R);
    vec = onLeft ? [...scaled, ...vec] : [...vec, ...scaled];
  }
  return vec;
}

/** [base^(2^k) mod R for k < count]. */
function powersOfTwo(base: bigint, count: number): bigint[] {
  const out = [mod(base)];
  for (let k = 1; k < count; k++) out.push((out[k - 1]! * out[k - 1]!) % R);
  return out;
}

function randomWeight(): bigint {
  const bytes = new Uint8Array(WEIGHT_BITS / 8);
  crypto.getRandomValues(bytes);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v | 1n;
}

/** Add this proof's two equations to `check` with fresh random weights; the
 * coefficient the caller must put on each V_j (j < m). */
export function addRangeCheck(check: MsmCheck, transcript: Transcript, dp: DecodedProof, m: number, n: number = N_BITS): bigint[] {
  const proof = dp.proof;
  const N = m * n;
  const logM = Math.log2(m);
  const logN = Math.log2(n);
  if (proof.L.length !== logM + logN) {
    throw new DecodeError(`proof has ${proof.L.length} rounds, expected ${logM + logN}`);
  }
  transcript.appendU64("rangeproof/n", n);
  transcript.appendU64("rangeproof/m", m);
  transcript.append("rangeproof/A", proof.A);
  transcript.append("rangeproof/S", proof.S);
  const y = transcript.challenge("rangeproof/y");
  const z = transcript.challenge("rangeproof/z");
  transcript.append("rangeproof/T1", proof.T1);
  transcript.append("rangeproof/T2", proof.T2);
  const x = transcript.challenge("rangeproof/x");
  transcript.appendScalar("rangeproof/tau_x", proof.tauX);
  transcript.appendScalar("rangeproof/mu", proof.mu);
  transcript.appendScalar("rangeproof/t_hat", proof.tHat);
  const w = transcript.challenge("rangeproof/w");
  const us: bigint[] = [];
  for (let i = 0; i < proof.L.length; i++) {
    transcript.append("ipa/L", proof.L[i]!);
    transcript.append("ipa/R", proof.R[i]!);
    us.push(transcript.challenge128("ipa/u"));
  }

  const omega = randomWeight(); // weight of the inner-product equation
  const c = randomWeight(); // weight of the polynomial equation
  const suffix = us.map(() => 1n); // suffix[j] = Π_{t>j} u_t
  for (let j = us.length - 2; j >= 0; j--) suffix[j] = (suffix[j + 1]! * us[j + 1]!) % R;
  const uAll = (suffix[0]! * us[0]!) % R;
  const wu = (omega * uAll) % R;

  const zPow = powers(z, m + 3);
  let yInv: bigint;
  let sumY: bigint;
  if (y === 1n) {
    yInv = 1n;
    sumY = BigInt(N);
  } else {
    const inv = invert((y * (y - 1n)) % R);
    yInv = ((y - 1n) * inv) % R;
    sumY = (((powMod(y, BigInt(N)) - 1n) * y) % R) * inv % R;
  }
  const zSum = zPow.slice(3, 3 + m).reduce((acc, v) => acc + v, 0n);
  const delta = mod((z - zPow[2]!) * sumY - zSum * ((1n << BigInt(n)) - 1n));

  check.G += c * (delta - proof.tHat);
  check.H += -wu * proof.mu - c * proof.tauX;
  check.U += omega * w * (uAll * proof.tHat - proof.a * proof.b);
  check.addPoints(
    [dp.A, dp.S, dp.T1, dp.T2, ...dp.L, ...dp.R],
    [
      wu,
      wu * x,
      c * x,
      c * x * x,
      ...suffix.map((s) => omega * s),
      ...suffix.map((s, j) => omega * s * us[j]! * us[j]!),
    ].map(mod),
  );
  // Vector generators: i = j·n + t; the y^{-i} on h_i factor into the tensors.
  const uHi = us.slice(0, logM);
  const uLo = us.slice(logM);
  const yInv2k = powersOfTwo(yInv, logM + logN + 1); // y^{-2^k}
  const yInvN = yInv2k[logN]!;
  const hyHi = uHi.map((u, r) => (u * yInv2k[logN + logM - 1 - r]!) % R);
  const hyLo = uLo.map((u, r) => (u * yInv2k[logN - 1 - r]!) % R);
  check.gConst -= wu * z;
  check.hConst += wu * z;
  const gWeight = mod(-omega * proof.a);
  const hWeight = mod(-omega * proof.b);
  const z2wu = (zPow[2]! * wu) % R;
  const gTerms: Tensor[] = [[tensor(uHi, true).map((v) => (gWeight * v) % R), tensor(uLo, true)]];
  const hTerms: Tensor[] = [
    [powers((z * yInvN) % R, m).map((v) => (z2wu * v) % R), powers((2n * yInv) % R, n)],
    [tensor(hyHi, false).map((v) => (hWeight * v) % R), tensor(hyLo, false)],
  ];
  check.addVectorTerms(m, gTerms, hTerms);
  return Array.from({ length: m }, (_, j) => (c * zPow[2 + j]!) % R);
}
