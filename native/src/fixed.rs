//! The generators folded twice at once, from fixed-base tables, for the inner-product
//! argument's first two rounds.
//!
//! With q = N/4, challenges u0, u1 and ratios ρ0, ρ1 (prover.rs), the vectors
//! after two folds are
//!   G''_i = u0u1·g_i + u0·g_{q+i} + u1·g_{2q+i} + g_{3q+i},
//!   K''_i = k_i + ρ1·k_{q+i} + ρ0·k_{2q+i} + ρ0ρ1·k_{3q+i},
//! sums of multiples of the generators themselves, which never change: each process
//! keeps, per generator, the signed 4-bit window table d·16^w·P (d = 1..8), so a
//! multiple is one table entry per window (33 for a 128-bit u, 65 for a full scalar)
//! and no doublings. All the outputs' entries are summed together by affine additions
//! (affine_sums.rs). The second round's L and R are then msms over the generators
//! themselves (each folded point as its two terms, twice the points), which costs less
//! than folding once by tables and once more by scalar multiplications. The msms of S
//! and of those two rounds use blst's window tables of the generators (group.rs
//! `WindowTables`). All the tables for N = 2,048 take ~180 MB and ~1.3 s of CPU to
//! build, once per proving process. Later rounds fold points that exist only in one
//! proof.

use blst::*;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::affine_sums::sum_groups;
use crate::fr::Fr;
use crate::generators;
use crate::group::{add, from_affine, to_affine, to_affines, Affine, Proj, WindowTables};

const DIGITS: usize = 8; // |digit| <= 8: table entries 1·B .. 8·B per window
const SHORT_WINDOWS: usize = 33; // 128-bit scalars (a carry out of the top nibble)
const FULL_WINDOWS: usize = 65; // scalars < 2^255

/// Tables of the generators (q = N/4): for the folds, those of g_0..g_{q-1} (full),
/// g_q..g_{3q-1} (128-bit), k_q..k_{4q-1} (full).
pub struct Tables {
    /// blst's window tables of g_0..g_{N-1}, h_0..h_{N-1}, H, for the msms of S and
    /// of the first two rounds.
    pub generators: WindowTables,
    g_full: Vec<Affine>,
    g_short: Vec<Affine>,
    k_full: Vec<Affine>,
}

fn double(p: &Proj) -> Proj {
    let mut out = Proj::default();
    unsafe { blst_p1_double(&mut out, p) };
    out
}

fn table(p: &Affine, windows: usize) -> Vec<Affine> {
    let mut out = Vec::with_capacity(windows * DIGITS);
    let mut base = from_affine(p);
    for _ in 0..windows {
        let mut multiple = base;
        out.push(multiple);
        for _ in 1..DIGITS {
            multiple = add(&multiple, &base);
            out.push(multiple);
        }
        base = double(&multiple); // 16·B = 2·(8·B)
    }
    to_affines(&out)
}

/// Signed base-16 digits of a little-endian integer, each in [-8, 8).
fn recode(le: &[u8], windows: usize) -> Vec<i8> {
    let mut digits = Vec::with_capacity(windows);
    let mut carry = 0i32;
    for w in 0..windows {
        let byte = le.get(w / 2).copied().unwrap_or(0);
        let nibble = ((byte >> (4 * (w % 2))) & 0xf) as i32 + carry;
        if nibble >= DIGITS as i32 {
            digits.push((nibble - 16) as i8);
            carry = 1;
        } else {
            digits.push(nibble as i8);
            carry = 0;
        }
    }
    debug_assert_eq!(carry, 0);
    digits
}

/// Append k·P's terms from P's table (one entry per nonzero digit); k little-endian,
/// below 16^(windows-1)·8.
fn push_terms(out: &mut Vec<Affine>, table: &[Affine], le: &[u8], windows: usize) {
    for (w, d) in recode(le, windows).into_iter().enumerate() {
        if d == 0 {
            continue;
        }
        let mut entry = table[w * DIGITS + d.unsigned_abs() as usize - 1];
        if d < 0 {
            let y = entry.y;
            unsafe { blst_fp_cneg(&mut entry.y, &y, true) };
        }
        out.push(entry);
    }
}

fn slot(tables: &[Affine], j: usize, size: usize) -> &[Affine] {
    &tables[j * size..(j + 1) * size]
}

fn le16(k: &Fr) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&k.to_scalar().b[..16]);
    out
}

/// G'' and K'' (above) from the generators g, k (N each), given u0, u1 (below 2^128)
/// and ρ0, ρ1; a share of the outputs per thread.
pub fn fold_twice(
    tables: &Tables,
    g: &[Affine],
    k: &[Affine],
    (u0, u1): (Fr, Fr),
    (rho0, rho1): (Fr, Fr),
) -> (Vec<Affine>, Vec<Affine>) {
    let q = g.len() / 4;
    let (short, full) = (DIGITS * SHORT_WINDOWS, DIGITS * FULL_WINDOWS);
    let (u0_le, u1_le, u01_le) = (le16(&u0), le16(&u1), (u0 * u1).to_scalar().b);
    let (r0_le, r1_le, r01_le) = (
        rho0.to_scalar().b,
        rho1.to_scalar().b,
        (rho0 * rho1).to_scalar().b,
    );
    let share = q.div_ceil(rayon::current_num_threads()).max(1);
    let parts: Vec<(Vec<Affine>, Vec<Affine>)> = (0..q)
        .collect::<Vec<usize>>()
        .par_chunks(share)
        .map(|rows| {
            let mut points =
                Vec::with_capacity(rows.len() * (5 * FULL_WINDOWS + 2 * SHORT_WINDOWS));
            let mut starts = Vec::with_capacity(2 * rows.len() + 1);
            for &i in rows {
                starts.push(points.len());
                push_terms(
                    &mut points,
                    slot(&tables.g_full, i, full),
                    &u01_le,
                    FULL_WINDOWS,
                );
                push_terms(
                    &mut points,
                    slot(&tables.g_short, i, short),
                    &u0_le,
                    SHORT_WINDOWS,
                );
                push_terms(
                    &mut points,
                    slot(&tables.g_short, q + i, short),
                    &u1_le,
                    SHORT_WINDOWS,
                );
                points.push(g[3 * q + i]);
            }
            for &i in rows {
                starts.push(points.len());
                points.push(k[i]);
                push_terms(
                    &mut points,
                    slot(&tables.k_full, i, full),
                    &r1_le,
                    FULL_WINDOWS,
                );
                push_terms(
                    &mut points,
                    slot(&tables.k_full, q + i, full),
                    &r0_le,
                    FULL_WINDOWS,
                );
                push_terms(
                    &mut points,
                    slot(&tables.k_full, 2 * q + i, full),
                    &r01_le,
                    FULL_WINDOWS,
                );
            }
            starts.push(points.len());
            let sums: Vec<Affine> = sum_groups(points, starts)
                .into_iter()
                .map(|s| s.unwrap_or_default())
                .collect();
            let (gs, ks) = sums.split_at(rows.len());
            (gs.to_vec(), ks.to_vec())
        })
        .collect();
    let (mut g_out, mut k_out) = (Vec::with_capacity(q), Vec::with_capacity(q));
    for (gs, ks) in parts {
        g_out.extend(gs);
        k_out.extend(ks);
    }
    (g_out, k_out)
}

static CACHE: OnceLock<Mutex<HashMap<usize, Arc<Tables>>>> = OnceLock::new();

fn tables_of(points: &[Affine], windows: usize) -> Vec<Affine> {
    let each: Vec<Vec<Affine>> = points.par_iter().map(|p| table(p, windows)).collect();
    each.concat()
}

/// The tables for vectors of `count` generators (a multiple of 4), built once (in
/// parallel, without holding the lock: see generators::get).
pub fn get(count: usize) -> Arc<Tables> {
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&count) {
        return found.clone();
    }
    let gens = generators::get(count);
    let q = count / 4;
    let mut rows = gens.g[..count].to_vec();
    rows.extend_from_slice(&gens.h[..count]);
    rows.push(to_affine(&gens.h_base));
    let built = Arc::new(Tables {
        generators: WindowTables::new(&rows),
        g_full: tables_of(&gens.g[..q], FULL_WINDOWS),
        g_short: tables_of(&gens.g[q..3 * q], SHORT_WINDOWS),
        k_full: tables_of(&gens.h[q..count], FULL_WINDOWS),
    });
    let mut tables = cache.lock().unwrap_or_else(|e| e.into_inner());
    tables.entry(count).or_insert(built).clone()
}
