//! The aggregated range prover of proofs/bulletproofs.py (`prove_range`), same transcript,
//! same nonces, so the same bytes.
//!
//! A is a sum of bit-selected generators (batched affine additions), S one msm over the
//! generators' window tables (group.rs); the inner-product rounds compute L and R side
//! by side (the first two over the same tables, later ones by Pippenger) and fold the
//! generators explicitly: G' = u·G_lo + G_hi (u is 128 bits), K' = K_lo + (u·y^-half)·K_hi.
//! The first two folds are one, from fixed-base tables of the generators (fixed.rs);
//! later ones cost one scalar multiplication per element, spread over the cores. For
//! m = 32 (one loaded core, docs/native-core.md) the first two folds cost ~53 ms of CPU
//! against ~110 ms folding one round at a time (36 from the tables, 74 by scalar
//! multiplications), for ~25 ms more in the second round's msms. The lazy fold of
//! proofs/bulletproofs.py (L and R as msms over an unfolded base, rebased every four
//! rounds) measured no cheaper over the same msms (bench proofs: python_path).

use rayon::prelude::*;

use crate::fixed;
use crate::fr::{inner, Fr};
use crate::generators;
use crate::group::{
    add, add_affine, encode, from_affine, msm_serial, mul_short, mul_subgroup, neg, sum_affine,
    to_affine, to_affines, Affine, Proj,
};
use crate::transcript::Transcript;

pub fn padded_count(count: usize) -> usize {
    count.max(1).next_power_of_two()
}

/// The encoded proof that every value < 2^n (the caller checked), given each value's
/// blinding; `t` continues the caller's transcript.
pub fn prove_range(t: &mut Transcript, values: &[u64], blindings: &[Fr], n: usize) -> Vec<u8> {
    let m = padded_count(values.len());
    let big_n = m * n;
    let mut vals = values.to_vec();
    vals.resize(m, 0);
    let mut gams = blindings.to_vec();
    gams.resize(m, Fr::zero());
    let gens = generators::get(big_n);
    let tables = fixed::get(big_n);
    let (g, h) = (&gens.g[..big_n], &gens.h[..big_n]);

    t.append_u64(b"rangeproof/n", n as u64);
    t.append_u64(b"rangeproof/m", m as u64);
    let mut witness = Vec::with_capacity(64 * m);
    for v in &vals {
        witness.extend_from_slice(&Fr::from_u64(*v).to_be_bytes());
    }
    for gam in &gams {
        witness.extend_from_slice(&gam.to_be_bytes());
    }
    let nonces = t.nonce_stream(b"rangeproof/nonces", &witness, 4 + 2 * big_n);
    let (alpha, rho, tau1, tau2) = (nonces[0], nonces[1], nonces[2], nonces[3]);
    let s_l = &nonces[4..4 + big_n];
    let s_r = &nonces[4 + big_n..];

    let bits: Vec<bool> = (0..big_n)
        .map(|i| (vals[i / n] >> (i % n)) & 1 == 1)
        .collect();
    let (a_point, s_point) = rayon::join(
        || {
            let ones: Vec<&Affine> = (0..big_n).filter(|&i| bits[i]).map(|i| &g[i]).collect();
            let zeros: Vec<&Affine> = (0..big_n).filter(|&i| !bits[i]).map(|i| &h[i]).collect();
            let blind = mul_subgroup(&gens.h_base, &alpha);
            add(&blind, &add(&sum_affine(&ones), &neg(&sum_affine(&zeros))))
        },
        || {
            // rows g_0.., h_0.., H of the tables
            let mut scalars = Vec::with_capacity(2 * big_n + 1);
            scalars.extend_from_slice(s_l);
            scalars.extend_from_slice(s_r);
            scalars.push(rho);
            let split = scalars.len() / 2;
            let (lo, hi) = rayon::join(
                || tables.generators.msm(0, &scalars[..split]),
                || tables.generators.msm(split, &scalars[split..]),
            );
            add(&lo, &hi)
        },
    );
    let a_bytes = encode(&a_point);
    let s_bytes = encode(&s_point);
    t.append(b"rangeproof/A", &a_bytes);
    t.append(b"rangeproof/S", &s_bytes);
    let y = t.challenge(b"rangeproof/y");
    let z = t.challenge(b"rangeproof/z");

    let y_pow = y.powers(big_n);
    let z_pow: Vec<Fr> = z.powers(m + 2)[2..].to_vec();
    let one = Fr::one();
    let two_pow: Vec<Fr> = Fr::from_u64(2).powers(n);
    let bit = |i: usize| if bits[i] { one } else { Fr::zero() };
    let l0: Vec<Fr> = (0..big_n).map(|i| bit(i) - z).collect();
    let r0: Vec<Fr> = (0..big_n)
        .map(|i| y_pow[i] * (bit(i) - one + z) + z_pow[i / n] * two_pow[i % n])
        .collect();
    let r1: Vec<Fr> = (0..big_n).map(|i| y_pow[i] * s_r[i]).collect();
    let t1 = inner(&l0, &r1) + inner(s_l, &r0);
    let t2 = inner(s_l, &r1);
    let commit = |v: &Fr, r: &Fr| {
        add(
            &mul_subgroup(&gens.g_base, v),
            &mul_subgroup(&gens.h_base, r),
        )
    };
    let t1_bytes = encode(&commit(&t1, &tau1));
    let t2_bytes = encode(&commit(&t2, &tau2));
    t.append(b"rangeproof/T1", &t1_bytes);
    t.append(b"rangeproof/T2", &t2_bytes);
    let x = t.challenge(b"rangeproof/x");

    let l_vec: Vec<Fr> = (0..big_n).map(|i| l0[i] + s_l[i] * x).collect();
    let r_vec: Vec<Fr> = (0..big_n).map(|i| r0[i] + r1[i] * x).collect();
    let t_hat = inner(&l_vec, &r_vec);
    let tau_x = tau2 * x * x + tau1 * x + inner(&z_pow, &gams);
    let mu = alpha + rho * x;
    t.append_scalar(b"rangeproof/tau_x", &tau_x);
    t.append_scalar(b"rangeproof/mu", &mu);
    t.append_scalar(b"rangeproof/t_hat", &t_hat);
    let w = t.challenge(b"rangeproof/w");
    let q = to_affine(&mul_subgroup(&gens.u_base, &w));
    let h_factor = y.inverse().powers(big_n);
    let (lr, a, b) = prove_inner_product(
        t,
        q,
        g.to_vec(),
        h.to_vec(),
        h_factor,
        l_vec,
        r_vec,
        &tables,
    );

    let mut out = Vec::with_capacity(48 * (4 + lr.len()) + 32 * 5);
    for p in [&a_bytes, &s_bytes, &t1_bytes, &t2_bytes] {
        out.extend_from_slice(p);
    }
    for s in [&tau_x, &mu, &t_hat] {
        out.extend_from_slice(&s.to_be_bytes());
    }
    for p in &lr {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(&a.to_be_bytes());
    out.extend_from_slice(&b.to_be_bytes());
    out
}

/// IPA on generators G and H_i = h_factor[i]·K[i]; returns [L_0, R_0, L_1, ...], a, b.
///
/// The first fold is deferred: the second round's L and R use the generators as they
/// are (G'_j = u0·g_j + g_{2h+j}, K'_j = k_j + ρ0·k_{2h+j}, both terms in the msm), and
/// then fixed.rs folds twice at once from its tables.
fn prove_inner_product(
    t: &mut Transcript,
    q: Affine,
    mut g: Vec<Affine>,
    mut k: Vec<Affine>,
    mut h_factor: Vec<Fr>,
    mut a: Vec<Fr>,
    mut b: Vec<Fr>,
    tables: &fixed::Tables,
) -> (Vec<[u8; 48]>, Fr, Fr) {
    let mut lr = Vec::new();
    let size = g.len();
    let mut originals = true; // g and k are still the generators
    let mut deferred: Option<(Fr, Fr)> = None; // (u0, ρ0) of the first round
    while a.len() > 1 {
        let half = a.len() / 2;
        let (a_lo, a_hi) = a.split_at(half);
        let (b_lo, b_hi) = b.split_at(half);
        // <av, G[g_at..]> + <bv∘hf, K[k_at..]> + <av, bv>·Q over `half` elements.
        let side = |g_at: usize, k_at: usize, av: &[Fr], bv: &[Fr], hf: &[Fr]| {
            let bh: Vec<Fr> = bv.iter().zip(hf).map(|(x, f)| *x * *f).collect();
            // (index into G or K, scalars) runs of terms
            let (mut g_terms, mut k_terms) = (Vec::new(), Vec::new());
            match deferred {
                None => {
                    g_terms.push((g_at, av.to_vec()));
                    k_terms.push((k_at, bh));
                }
                Some((u0, rho0)) => {
                    let far = 2 * half;
                    g_terms.push((g_at, av.iter().map(|x| *x * u0).collect()));
                    g_terms.push((far + g_at, av.to_vec()));
                    k_terms.push((far + k_at, bh.iter().map(|x| *x * rho0).collect()));
                    k_terms.push((k_at, bh));
                }
            }
            if originals {
                // g_j is row j of the tables, k_j row N + j
                let mut acc = mul_subgroup(&from_affine(&q), &inner(av, bv));
                for (at, s) in &g_terms {
                    acc = add(&acc, &tables.generators.msm(*at, s));
                }
                for (at, s) in &k_terms {
                    acc = add(&acc, &tables.generators.msm(size + *at, s));
                }
                return acc;
            }
            let mut points = vec![q];
            let mut scalars = vec![inner(av, bv)];
            for (at, s) in &g_terms {
                points.extend_from_slice(&g[*at..*at + s.len()]);
                scalars.extend_from_slice(s);
            }
            for (at, s) in &k_terms {
                points.extend_from_slice(&k[*at..*at + s.len()]);
                scalars.extend_from_slice(s);
            }
            msm_serial(&points, &scalars)
        };
        let (l, r) = rayon::join(
            || side(half, 0, a_lo, b_hi, &h_factor[..half]),
            || side(0, half, a_hi, b_lo, &h_factor[half..]),
        );
        let (l_bytes, r_bytes) = (encode(&l), encode(&r));
        t.append(b"ipa/L", &l_bytes);
        t.append(b"ipa/R", &r_bytes);
        lr.push(l_bytes);
        lr.push(r_bytes);
        let (u, u_short) = t.challenge_128(b"ipa/u");
        let ratio = u * h_factor[half];
        a = (0..half).map(|i| a_lo[i] + u * a_hi[i]).collect();
        b = (0..half).map(|i| u * b_lo[i] + b_hi[i]).collect();
        h_factor.truncate(half);
        if lr.len() == 2 {
            deferred = Some((u, ratio));
        } else if let Some((u0, rho0)) = deferred.take() {
            if half > 1 {
                (g, k) = fixed::fold_twice(tables, &g, &k, (u0, u), (rho0, ratio));
                originals = false;
            }
        } else if half > 1 {
            let folded: Vec<(Proj, Proj)> = (0..half)
                .into_par_iter()
                .map(|i| {
                    let u_g = mul_short(&from_affine(&g[i]), &u_short);
                    let ratio_k = mul_subgroup(&from_affine(&k[half + i]), &ratio);
                    (add_affine(&u_g, &g[half + i]), add_affine(&ratio_k, &k[i]))
                })
                .collect();
            let (gp, kp): (Vec<Proj>, Vec<Proj>) = folded.into_iter().unzip();
            g = to_affines(&gp);
            k = to_affines(&kp);
            originals = false;
        }
    }
    (lr, a[0], b[0])
}
