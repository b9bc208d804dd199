//! BLS12-381 G1 on blst: canonical compressed encodings (FORMAT.md), hash to curve,
//! scalar multiplication and Pippenger multi-scalar multiplication.
//!
//! Points decoded from a proof need not lie in the prime-order subgroup (FORMAT.md), so
//! every operation here is exact on the whole curve: multiplications of arbitrary points
//! use blst's plain window method, never the GLV endomorphism (which is `·λ` only on the
//! subgroup); `mul_subgroup` uses GLV and is for the generators and their combinations.

use blst::*;
use rayon::prelude::*;

use crate::fr::Fr;

pub const POINT_BYTES: usize = 48;
pub const GENERATOR_DST: &[u8] = b"clearnode-v1-generators";

pub type Affine = blst_p1_affine;
pub type Proj = blst_p1;

#[derive(Debug)]
pub enum PointError {
    NotOnCurve,
    NonCanonical,
}

/// A point from its 48-byte compressed encoding: on the curve and canonical.
pub fn decode(bytes: &[u8]) -> Result<Affine, PointError> {
    debug_assert_eq!(bytes.len(), POINT_BYTES);
    let mut p = Affine::default();
    if unsafe { blst_p1_uncompress(&mut p, bytes.as_ptr()) } != BLST_ERROR::BLST_SUCCESS {
        return Err(PointError::NotOnCurve);
    }
    if encode_affine(&p) != bytes {
        return Err(PointError::NonCanonical);
    }
    Ok(p)
}

pub fn encode_affine(p: &Affine) -> [u8; POINT_BYTES] {
    let mut out = [0u8; POINT_BYTES];
    unsafe { blst_p1_affine_compress(out.as_mut_ptr(), p) };
    out
}

pub fn encode(p: &Proj) -> [u8; POINT_BYTES] {
    let mut out = [0u8; POINT_BYTES];
    unsafe { blst_p1_compress(out.as_mut_ptr(), p) };
    out
}

pub fn hash_to_point(message: &[u8]) -> Proj {
    let mut out = Proj::default();
    unsafe {
        blst_hash_to_g1(
            &mut out,
            message.as_ptr(),
            message.len(),
            GENERATOR_DST.as_ptr(),
            GENERATOR_DST.len(),
            std::ptr::null(),
            0,
        )
    };
    out
}

pub fn from_affine(p: &Affine) -> Proj {
    let mut out = Proj::default();
    unsafe { blst_p1_from_affine(&mut out, p) };
    out
}

pub fn to_affine(p: &Proj) -> Affine {
    let mut out = Affine::default();
    unsafe { blst_p1_to_affine(&mut out, p) };
    out
}

/// One inversion for all of them.
pub fn to_affines(points: &[Proj]) -> Vec<Affine> {
    if points.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Affine::default(); points.len()];
    let ptrs: [*const Proj; 2] = [points.as_ptr(), std::ptr::null()];
    unsafe { blst_p1s_to_affine(out.as_mut_ptr(), ptrs.as_ptr(), points.len()) };
    out
}

pub fn add(a: &Proj, b: &Proj) -> Proj {
    let mut out = Proj::default();
    unsafe { blst_p1_add_or_double(&mut out, a, b) };
    out
}

pub fn add_affine(a: &Proj, b: &Affine) -> Proj {
    let mut out = Proj::default();
    unsafe { blst_p1_add_or_double_affine(&mut out, a, b) };
    out
}

pub fn neg(a: &Proj) -> Proj {
    let mut out = *a;
    unsafe { blst_p1_cneg(&mut out, true) };
    out
}

pub fn eq(a: &Proj, b: &Proj) -> bool {
    unsafe { blst_p1_is_equal(a, b) }
}

pub fn is_identity(a: &Proj) -> bool {
    unsafe { blst_p1_is_inf(a) }
}

/// k·p for any point of the curve (exact off the subgroup too).
pub fn mul(p: &Proj, k: &Fr) -> Proj {
    let s = k.to_scalar();
    let mut out = Proj::default();
    unsafe { blst_p1_unchecked_mult(&mut out, p, s.b.as_ptr(), 255) };
    out
}

/// k·p for p in the prime-order subgroup (GLV for full-width scalars).
pub fn mul_subgroup(p: &Proj, k: &Fr) -> Proj {
    let s = k.to_scalar();
    let mut out = Proj::default();
    unsafe { blst_p1_mult(&mut out, p, s.b.as_ptr(), 255) };
    out
}

/// k·p for a 128-bit k given as 16 little-endian bytes.
pub fn mul_short(p: &Proj, k: &[u8; 16]) -> Proj {
    let mut out = Proj::default();
    unsafe { blst_p1_unchecked_mult(&mut out, p, k.as_ptr(), 128) };
    out
}

/// Σ of the points, by batched affine additions.
pub fn sum_affine(points: &[&Affine]) -> Proj {
    let mut out = Proj::default();
    if points.is_empty() {
        return out;
    }
    let mut ptrs: Vec<*const Affine> = points.iter().map(|p| *p as *const Affine).collect();
    ptrs.push(std::ptr::null());
    unsafe { blst_p1s_add(&mut out, ptrs.as_ptr(), points.len()) };
    out
}

fn scalar_bytes(scalars: &[Fr]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32 * scalars.len());
    for k in scalars {
        bytes.extend_from_slice(&k.to_scalar().b);
    }
    bytes
}

/// Σ scalars[i]·points[i] by Pippenger, split over the threads of the current pool.
pub fn msm(points: &[Affine], scalars: &[Fr]) -> Proj {
    assert_eq!(points.len(), scalars.len());
    msm_bytes(points, &scalar_bytes(scalars))
}

/// The same on the calling thread only (for msms that run side by side).
pub fn msm_serial(points: &[Affine], scalars: &[Fr]) -> Proj {
    msm_serial_bytes(points, &scalar_bytes(scalars))
}

/// Σ by Pippenger, scalars as 32-byte little-endian integers (any value < 2^255).
pub fn msm_serial_bytes(points: &[Affine], scalars: &[u8]) -> Proj {
    assert_eq!(points.len() * 32, scalars.len());
    let mut out = Proj::default();
    if points.is_empty() {
        return out;
    }
    let p: [*const Affine; 2] = [points.as_ptr(), std::ptr::null()];
    let s: [*const u8; 2] = [scalars.as_ptr(), std::ptr::null()];
    unsafe {
        let words = blst_p1s_mult_pippenger_scratch_sizeof(points.len()) / 8;
        let mut scratch = vec![0u64; words.max(1)];
        blst_p1s_mult_pippenger(
            &mut out,
            p.as_ptr(),
            points.len(),
            s.as_ptr(),
            255,
            scratch.as_mut_ptr(),
        );
    }
    out
}

// Below this many points a split msm loses more to its smaller buckets than it gains.
const SPLIT_POINTS: usize = 512;

/// Σ by Pippenger, scalars as 32-byte little-endian integers, one share of the points
/// per thread of the current pool.
pub fn msm_bytes(points: &[Affine], scalars: &[u8]) -> Proj {
    assert_eq!(points.len() * 32, scalars.len());
    let threads = rayon::current_num_threads();
    if points.len() < SPLIT_POINTS || threads < 2 {
        return msm_serial_bytes(points, scalars);
    }
    let share = points.len().div_ceil(threads);
    points
        .par_chunks(share)
        .zip(scalars.par_chunks(32 * share))
        .map(|(p, s)| msm_serial_bytes(p, s))
        .reduce(Proj::default, |a, b| add(&a, &b))
}

/// blst's precomputed window tables of fixed points (`blst_p1s_mult_wbits`): per point,
/// its 2^(wbits−1) multiples, so an msm over them skips Pippenger's bucket sums.
pub struct WindowTables {
    wbits: usize,
    rows: Vec<Affine>,
}

// 8 bits: 12 KB per point (50 MB for m = 32). Measured against blst's Pippenger on one
// core of this machine: 2,048 points 21.4 ms against 26.9, 4,096 points 42 against
// 46.6; 9 bits gains another 7% for twice the memory, 5 to 7 bits lose to Pippenger.
const TABLE_BITS: usize = 8;

impl WindowTables {
    pub fn new(points: &[Affine]) -> WindowTables {
        let per_point = 1usize << (TABLE_BITS - 1);
        let chunks: Vec<Vec<Affine>> = points
            .par_chunks(64)
            .map(|chunk| {
                let mut rows = vec![Affine::default(); chunk.len() * per_point];
                let p: [*const Affine; 2] = [chunk.as_ptr(), std::ptr::null()];
                unsafe {
                    blst_p1s_mult_wbits_precompute(
                        rows.as_mut_ptr(),
                        TABLE_BITS,
                        p.as_ptr(),
                        chunk.len(),
                    )
                };
                rows
            })
            .collect();
        WindowTables {
            wbits: TABLE_BITS,
            rows: chunks.concat(),
        }
    }

    /// Σ scalars[i]·point[start + i] on the calling thread.
    pub fn msm(&self, start: usize, scalars: &[Fr]) -> Proj {
        let mut out = Proj::default();
        if scalars.is_empty() {
            return out;
        }
        let per_point = 1usize << (self.wbits - 1);
        let rows = &self.rows[start * per_point..(start + scalars.len()) * per_point];
        let bytes = scalar_bytes(scalars);
        let s: [*const u8; 2] = [bytes.as_ptr(), std::ptr::null()];
        unsafe {
            let words = blst_p1s_mult_wbits_scratch_sizeof(scalars.len()) / 8;
            let mut scratch = vec![0u64; words.max(1)];
            blst_p1s_mult_wbits(
                &mut out,
                rows.as_ptr(),
                self.wbits,
                scalars.len(),
                s.as_ptr(),
                255,
                scratch.as_mut_ptr(),
            );
        }
        out
    }
}
