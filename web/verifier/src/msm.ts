/** A deferred multi-scalar multiplication (proofs/msm.py): verifiers add terms, then
 * check Σ scalar·point = identity once, over the shared generators and every proof's
 * own points. Coefficients on g_i, h_i arrive as rank-1 tensors hi[j]·lo[t] for
 * i = j·n + t and are summed over the batch before the one msm. */

import type { Generators } from "./generators";
import { type Point, R, isIdentity, mod, msm } from "./group";

export type Tensor = [bigint[], bigint[]];

export class MsmCheck {
  G = 0n;
  H = 0n;
  U = 0n;
  gConst = 0n;
  hConst = 0n;
  private gCoeffs: bigint[] = [];
  private hCoeffs: bigint[] = [];
  private readonly points: Point[] = [];
  private readonly scalars: bigint[] = [];

  constructor(
    readonly gens: Generators,
    readonly n: number,
  ) {}

  addPoints(points: Point[], scalars: bigint[]): void {
    this.points.push(...points);
    this.scalars.push(...scalars);
  }

  /** Tensor terms on g_i, h_i for i < rows·n. */
  addVectorTerms(rows: number, g: Tensor[], h: Tensor[]): void {
    const size = rows * this.n;
    while (this.gCoeffs.length < size) {
      this.gCoeffs.push(0n);
      this.hCoeffs.push(0n);
    }
    accumulate(this.gCoeffs, g, this.n);
    accumulate(this.hCoeffs, h, this.n);
  }

  /** Evaluate the whole equation as one msm. */
  isIdentity(): boolean {
    const count = this.gCoeffs.length;
    const [g, h] = this.gens.vectors(count);
    const scalars = [
      ...this.gCoeffs.map((c) => mod(c + this.gConst)),
      ...this.hCoeffs.map((c) => mod(c + this.hConst)),
      mod(this.G),
      mod(this.H),
      mod(this.U),
      ...this.scalars,
    ];
    const points = [...g, ...h, this.gens.G, this.gens.H, this.gens.U, ...this.points];
    return isIdentity(msm(points, scalars));
  }
}

function accumulate(out: bigint[], terms: Tensor[], n: number): void {
  for (const [hi, lo] of terms) {
    for (let j = 0; j < hi.length; j++) {
      const a = hi[j]!;
      const base = j * n;
      for (let t = 0; t < n; t++) out[base + t] = out[base + t]! + a * lo[t]!;
    }
  }
  // Reduced once per batch of terms: the sums stay a few hundred bits.
  for (let i = 0; i < out.length; i++) out[i] = out[i]! % R;
}
