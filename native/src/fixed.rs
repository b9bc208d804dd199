//! Fixed-base multiplication for the first fold of the inner-product argument.
//!
//! Its first round folds the generators themselves: G'_i = u·g_i + g_{half+i} and
//! K'_i = h_i + ratio·h_{half+i}, half a scalar multiplication per vector element. The
//! generators never change, so each process keeps, per generator, the signed 4-bit
//! window table d·16^w·P (d = 1..8): a multiplication is then one mixed addition per
//! window (33 for the 128-bit u, 65 for a full scalar) and no doublings, about a third
//! of a windowed multiplication. Tables for m = 32 take ~77 MB and ~0.5 s of CPU to
//! build, once per process. Later rounds fold points that exist only in one proof.

use blst::*;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::generators;
use crate::group::{add, add_affine, from_affine, to_affines, Affine, Proj};

const DIGITS: usize = 8; // |digit| <= 8: table entries 1·B .. 8·B per window
pub const SHORT_WINDOWS: usize = 33; // 128-bit scalars (a carry out of the top nibble)
pub const FULL_WINDOWS: usize = 65; // scalars < 2^255

/// The tables of g_0..g_{half-1} (short scalars) and h_half..h_{2·half-1} (full).
pub struct FirstFold {
    pub g_lo: Vec<Affine>,
    pub h_hi: Vec<Affine>,
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

/// k·P from P's table; k little-endian, below 16^(windows-1)·8.
pub fn mul(table: &[Affine], le: &[u8], windows: usize) -> Proj {
    let mut acc = Proj::default();
    for (w, d) in recode(le, windows).into_iter().enumerate() {
        if d == 0 {
            continue;
        }
        let mut entry = table[w * DIGITS + d.unsigned_abs() as usize - 1];
        if d < 0 {
            let y = entry.y;
            unsafe { blst_fp_cneg(&mut entry.y, &y, true) };
        }
        acc = add_affine(&acc, &entry);
    }
    acc
}

static CACHE: OnceLock<Mutex<HashMap<usize, Arc<FirstFold>>>> = OnceLock::new();

/// The first fold's tables for vectors of `count` generators, built once (in parallel,
/// without holding the lock: see generators::get).
pub fn get(count: usize) -> Arc<FirstFold> {
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&count) {
        return found.clone();
    }
    let gens = generators::get(count);
    let half = count / 2;
    let g_lo: Vec<Vec<Affine>> = gens.g[..half]
        .par_iter()
        .map(|p| table(p, SHORT_WINDOWS))
        .collect();
    let h_hi: Vec<Vec<Affine>> = gens.h[half..count]
        .par_iter()
        .map(|p| table(p, FULL_WINDOWS))
        .collect();
    let built = Arc::new(FirstFold {
        g_lo: g_lo.concat(),
        h_hi: h_hi.concat(),
    });
    let mut tables = cache.lock().unwrap_or_else(|e| e.into_inner());
    tables.entry(count).or_insert(built).clone()
}
