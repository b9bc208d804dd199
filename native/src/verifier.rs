//! Batch verification of solvency statements (proofs/statement.py) and their aggregated
//! range proofs (proofs/bulletproofs.py `add_range_check`): every proof's two equations,
//! with independent random 128-bit weights, summed into ONE multi-scalar multiplication.
//!
//! Per proof the coefficients on the shared generators are built with the recurrences
//! secp256k1-zkp uses: the inner-product challenges' tensor (one multiplication per entry,
//! doubling), with y^-i folded into the right-hand tensor's factors, and the z-term as a
//! product of a per-block and a per-bit vector. Decoding and these scalars run in
//! parallel over the proofs; the msm runs on all cores.

use rayon::prelude::*;

use crate::fr::Fr;
use crate::generators;
use crate::group::{decode, is_identity, msm, to_affine, Affine, PointError, POINT_BYTES};
use crate::prover::padded_count;
use crate::transcript::Transcript;

const SCALAR_BYTES: usize = 32;

/// The public statement: J inputs with offsets, S rows (FORMAT.md "Solvency statement").
/// A bare range proof over J commitments is the statement without rows or offsets.
pub struct Statement {
    pub n: usize,
    pub offsets: Vec<Fr>,
    pub rows: Vec<Vec<Fr>>,
}

impl Statement {
    fn inputs(&self) -> usize {
        self.offsets.len()
    }

    fn m(&self) -> usize {
        padded_count(self.inputs() + self.rows.len())
    }

    fn rounds(&self) -> usize {
        (self.m() * self.n).trailing_zeros() as usize
    }

    fn proof_size(&self) -> usize {
        (4 + 2 * self.rounds()) * POINT_BYTES + 5 * SCALAR_BYTES
    }
}

/// One account's claim: its transcript after the commitments, commitments, proof.
pub struct Claim {
    pub state: [u8; 32],
    pub commitments: Vec<u8>,
    pub proof: Vec<u8>,
}

/// A claim whose points are decoded and scalars checked canonical.
pub struct Decoded {
    state: [u8; 32],
    proof: Vec<u8>,
    pub commitments: Vec<Affine>,
    points: Vec<Affine>, // A, S, T1, T2, L_0..L_k-1, R_0..R_k-1
    tau_x: Fr,
    mu: Fr,
    t_hat: Fr,
    a: Fr,
    b: Fr,
}

fn describe(err: PointError, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match err {
        PointError::NotOnCurve => format!("not a point on BLS12-381 G1: {hex}"),
        PointError::NonCanonical => format!("non-canonical point encoding {hex}"),
    }
}

fn decode_scalar(bytes: &[u8]) -> Result<Fr, String> {
    Fr::from_be_canonical(bytes).ok_or_else(|| {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("scalar 0x{hex} is not reduced mod the group order")
    })
}

fn decode_points(blob: &[u8]) -> Result<Vec<Affine>, String> {
    blob.chunks(POINT_BYTES)
        .map(|c| decode(c).map_err(|e| describe(e, c)))
        .collect()
}

/// The claim's points and scalars, or why it is malformed (the Python verifier's words).
pub fn decode_claim(st: &Statement, claim: &Claim) -> Result<Decoded, String> {
    let count = st.inputs();
    if claim.commitments.len() != count * POINT_BYTES {
        return Err(format!(
            "{} commitments for {count} inputs",
            claim.commitments.len() / POINT_BYTES
        ));
    }
    let commitments = decode_points(&claim.commitments)?;
    let expected = st.proof_size();
    let p = &claim.proof;
    if p.len() != expected {
        return Err(format!(
            "range proof for m={}, n={} must be {expected} bytes, got {}",
            st.m(),
            st.n,
            p.len()
        ));
    }
    let pt = POINT_BYTES;
    let off = 4 * pt;
    let scalars = (0..3)
        .map(|i| decode_scalar(&p[off + 32 * i..off + 32 * (i + 1)]))
        .collect::<Result<Vec<_>, _>>()?;
    let lr_off = off + 96;
    let end = lr_off + 2 * st.rounds() * pt;
    let a = decode_scalar(&p[end..end + 32])?;
    let b = decode_scalar(&p[end + 32..end + 64])?;
    let mut raw = p[..4 * pt].to_vec();
    let lr = &p[lr_off..end];
    // L_j are the even entries of the L|R interleaving, R_j the odd ones.
    for j in 0..st.rounds() {
        raw.extend_from_slice(&lr[2 * j * pt..(2 * j + 1) * pt]);
    }
    for j in 0..st.rounds() {
        raw.extend_from_slice(&lr[(2 * j + 1) * pt..(2 * j + 2) * pt]);
    }
    let points = decode_points(&raw)?;
    Ok(Decoded {
        state: claim.state,
        proof: claim.proof.clone(),
        commitments,
        points,
        tau_x: scalars[0],
        mu: scalars[1],
        t_hat: scalars[2],
        a,
        b,
    })
}

/// The terms of a batch's single equation Σ scalar·point = O.
struct Terms {
    g: Vec<Fr>,
    h: Vec<Fr>,
    base: [Fr; 3], // on G, H, U
    points: Vec<Affine>,
    scalars: Vec<Fr>,
}

impl Terms {
    fn new(size: usize) -> Terms {
        Terms {
            g: vec![Fr::zero(); size],
            h: vec![Fr::zero(); size],
            base: [Fr::zero(); 3],
            points: Vec::new(),
            scalars: Vec::new(),
        }
    }

    fn merge(mut self, other: Terms) -> Terms {
        for (x, y) in self.g.iter_mut().zip(&other.g) {
            *x += *y;
        }
        for (x, y) in self.h.iter_mut().zip(&other.h) {
            *x += *y;
        }
        for i in 0..3 {
            self.base[i] += other.base[i];
        }
        self.points.extend(other.points);
        self.scalars.extend(other.scalars);
        self
    }
}

/// Entry i = Π over rounds r of u_r where bit (k-1-r) of i is `bit` (scaled by `first`).
fn tensor(first: Fr, factors: &[Fr], bit: bool) -> Vec<Fr> {
    let mut vec = Vec::with_capacity(1 << factors.len());
    vec.push(first);
    for u in factors.iter().rev() {
        let scaled: Vec<Fr> = vec.iter().map(|v| *v * *u).collect();
        if bit {
            vec.extend(scaled);
        } else {
            let old = std::mem::replace(&mut vec, scaled);
            vec.extend(old);
        }
    }
    vec
}

fn random_weight(bytes: &[u8]) -> Fr {
    let mut le = [0u8; 32];
    le[..16].copy_from_slice(bytes);
    le[0] |= 1;
    Fr::from_le_reduced(&le)
}

/// Add one proof's equations (weights from `weights`, 32 random bytes) to `terms`.
fn add_claim(st: &Statement, d: &Decoded, weights: &[u8], terms: &mut Terms) {
    let (n, m) = (st.n, st.m());
    let big_n = n * m;
    let rounds = st.rounds();
    let log_n = n.trailing_zeros() as usize;
    let p = &d.proof;
    let pt = POINT_BYTES;
    let mut t = Transcript::from_state(d.state);
    t.append_u64(b"rangeproof/n", n as u64);
    t.append_u64(b"rangeproof/m", m as u64);
    t.append(b"rangeproof/A", &p[0..pt]);
    t.append(b"rangeproof/S", &p[pt..2 * pt]);
    let y = t.challenge(b"rangeproof/y");
    let z = t.challenge(b"rangeproof/z");
    t.append(b"rangeproof/T1", &p[2 * pt..3 * pt]);
    t.append(b"rangeproof/T2", &p[3 * pt..4 * pt]);
    let x = t.challenge(b"rangeproof/x");
    t.append_scalar(b"rangeproof/tau_x", &d.tau_x);
    t.append_scalar(b"rangeproof/mu", &d.mu);
    t.append_scalar(b"rangeproof/t_hat", &d.t_hat);
    let w = t.challenge(b"rangeproof/w");
    let lr_off = 4 * pt + 96;
    let mut us = Vec::with_capacity(rounds);
    for j in 0..rounds {
        let l = &p[lr_off + 2 * j * pt..lr_off + (2 * j + 1) * pt];
        let r = &p[lr_off + (2 * j + 1) * pt..lr_off + (2 * j + 2) * pt];
        t.append(b"ipa/L", l);
        t.append(b"ipa/R", r);
        us.push(t.challenge_128(b"ipa/u").0);
    }

    let omega = random_weight(&weights[..16]);
    let c = random_weight(&weights[16..32]);
    let mut suffix = vec![Fr::one(); rounds]; // suffix[j] = Π_{t>j} u_t
    for j in (0..rounds.saturating_sub(1)).rev() {
        suffix[j] = suffix[j + 1] * us[j + 1];
    }
    let u_all = suffix[0] * us[0];
    let wu = omega * u_all;
    let z_pow = z.powers(m + 3);
    let (y_inv, sum_y) = if y.is_one() {
        (Fr::one(), Fr::from_u64(big_n as u64))
    } else {
        let inv = (y * (y - Fr::one())).inverse();
        (
            (y - Fr::one()) * inv,
            (y.pow(big_n as u64) - Fr::one()) * y * inv,
        )
    };
    let two_n_minus_1 = Fr::from_u64(2).pow(n as u64) - Fr::one();
    let z_sum: Fr = z_pow[3..3 + m].iter().fold(Fr::zero(), |acc, v| acc + *v);
    let delta = (z - z_pow[2]) * sum_y - z_sum * two_n_minus_1;

    terms.base[0] += c * (delta - d.t_hat);
    terms.base[1] -= wu * d.mu + c * d.tau_x;
    terms.base[2] += omega * w * (u_all * d.t_hat - d.a * d.b);
    let x2 = x * x;
    let mut scalars = vec![wu, wu * x, c * x, c * x2];
    scalars.extend(suffix.iter().map(|s| omega * *s));
    scalars.extend(suffix.iter().zip(&us).map(|(s, u)| omega * *s * *u * *u));
    terms.points.extend_from_slice(&d.points);
    terms.scalars.extend(scalars);

    // g_i: -ω·a·s_i - wu·z; h_i: wu·z + wu·z^{2+j}·2^t·y^-i - ω·b·s'_i·y^-i, i = j·n + t.
    // y^-i = Π over the set bits of i of y^-2^bit: it joins s'_i's factors.
    let mut y_inv_2k = vec![y_inv];
    for _ in 1..rounds {
        let last = *y_inv_2k.last().unwrap();
        y_inv_2k.push(last.square());
    }
    let hy: Vec<Fr> = us
        .iter()
        .enumerate()
        .map(|(r, u)| *u * y_inv_2k[rounds - 1 - r])
        .collect();
    let wz = wu * z;
    let s_left = tensor(-(omega * d.a), &us, false);
    let s_right = tensor(-(omega * d.b), &hy, true);
    let y_inv_n = y_inv.pow(n as u64);
    let hi = (z * y_inv_n).powers(m);
    let lo = (Fr::from_u64(2) * y_inv).powers(n);
    let z2wu = z_pow[2] * wu;
    for j in 0..m {
        let block = z2wu * hi[j];
        for tt in 0..n {
            let i = (j << log_n) + tt;
            terms.g[i] += s_left[i] - wz;
            terms.h[i] += s_right[i] + wz + block * lo[tt];
        }
    }

    // V_j = C_j + offset_j·G (inputs), Σ_j rows[s][j]·C_j (scenarios), O (padding).
    let count = st.inputs();
    let v: Vec<Fr> = (0..m).map(|j| c * z_pow[2 + j]).collect();
    for j in 0..count {
        let mut coeff = v[j];
        for (s, row) in st.rows.iter().enumerate() {
            coeff += row[j] * v[count + s];
        }
        terms.base[0] += v[j] * st.offsets[j];
        terms.points.push(d.commitments[j]);
        terms.scalars.push(coeff);
    }
    debug_assert!(terms.g.len() >= big_n);
}

/// Whether all these claims hold, as one msm.
pub fn check_batch(st: &Statement, claims: &[&Decoded]) -> bool {
    let big_n = st.n * st.m();
    let gens = generators::get(big_n);
    let mut weights = vec![0u8; 32 * claims.len()];
    getrandom::fill(&mut weights).expect("the operating system's random source failed");
    // One accumulator per thread: each holds 2·N scalars, so not one per rayon split.
    let share = claims.len().div_ceil(rayon::current_num_threads()).max(1);
    let terms = claims
        .par_chunks(share)
        .enumerate()
        .map(|(k, chunk)| {
            let mut acc = Terms::new(big_n);
            for (j, d) in chunk.iter().enumerate() {
                let i = k * share + j;
                add_claim(st, d, &weights[32 * i..32 * (i + 1)], &mut acc);
            }
            acc
        })
        .reduce(|| Terms::new(big_n), Terms::merge);
    let mut points = Vec::with_capacity(2 * big_n + 3 + terms.points.len());
    points.extend_from_slice(&gens.g[..big_n]);
    points.extend_from_slice(&gens.h[..big_n]);
    points.push(to_affine(&gens.g_base));
    points.push(to_affine(&gens.h_base));
    points.push(to_affine(&gens.u_base));
    points.extend(terms.points);
    let mut scalars = terms.g;
    scalars.extend(terms.h);
    scalars.extend(terms.base);
    scalars.extend(terms.scalars);
    is_identity(&msm(&points, &scalars))
}

/// The indices (into `claims`) of the claims that fail: none when the batch holds, else
/// found by bisecting it.
pub fn find_invalid(st: &Statement, claims: &[&Decoded], offset: usize) -> Vec<usize> {
    if claims.is_empty() || check_batch(st, claims) {
        return Vec::new();
    }
    bisect_failing(st, claims, offset)
}

/// The failing claims among `claims`, whose check failed together: only the halves are
/// checked again, and the second not at all when the first holds (the failure is then in
/// it), as proofs/statement.py's `_find_invalid`.
fn bisect_failing(st: &Statement, claims: &[&Decoded], offset: usize) -> Vec<usize> {
    if claims.len() == 1 {
        return vec![offset];
    }
    let half = claims.len() / 2;
    let (first, second) = claims.split_at(half);
    if check_batch(st, first) {
        return bisect_failing(st, second, offset + half);
    }
    let mut out = bisect_failing(st, first, offset);
    if !check_batch(st, second) {
        out.extend(bisect_failing(st, second, offset + half));
    }
    out
}

/// Decode every claim in parallel: each decoded, or why it is malformed.
pub fn decode_all(st: &Statement, claims: &[Claim]) -> Vec<Result<Decoded, String>> {
    claims.par_iter().map(|c| decode_claim(st, c)).collect()
}
