//! G, H, U and the vectors g_i, h_i (FORMAT.md), derived once per process and grown on
//! demand, in parallel.

use rayon::prelude::*;
use std::sync::{Arc, Mutex, OnceLock};

use crate::group::{hash_to_point, to_affine, Affine, Proj};

pub struct Generators {
    pub g_base: Proj,
    pub h_base: Proj,
    pub u_base: Proj,
    pub g: Vec<Affine>,
    pub h: Vec<Affine>,
}

fn vector_label(kind: &[u8], index: u32) -> Vec<u8> {
    let mut label = b"bulletproofs/".to_vec();
    label.extend_from_slice(kind);
    label.push(b'/');
    label.extend_from_slice(&index.to_be_bytes());
    label
}

static CACHE: OnceLock<Mutex<Arc<Generators>>> = OnceLock::new();

fn derive(start: usize, count: usize) -> Vec<(Affine, Affine)> {
    (start..count)
        .into_par_iter()
        .map(|i| {
            let i = i as u32;
            (
                to_affine(&hash_to_point(&vector_label(b"g", i))),
                to_affine(&hash_to_point(&vector_label(b"h", i))),
            )
        })
        .collect()
}

/// The generators with at least `count` of each vector.
///
/// The lock is never held across the parallel derivation: a rayon worker waiting in it
/// may pick up another caller's job, which would then wait on the lock its own thread
/// holds. Two first callers may both derive; one result is kept.
pub fn get(count: usize) -> Arc<Generators> {
    let cell = CACHE.get_or_init(|| {
        Mutex::new(Arc::new(Generators {
            g_base: hash_to_point(b"pedersen/value"),
            h_base: hash_to_point(b"pedersen/blinding"),
            u_base: hash_to_point(b"ipa/u"),
            g: Vec::new(),
            h: Vec::new(),
        }))
    });
    let current = cell.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if current.g.len() >= count {
        return current;
    }
    let fresh = derive(current.g.len(), count);
    let mut slot = cell.lock().unwrap_or_else(|e| e.into_inner());
    if slot.g.len() < count {
        let (mut g, mut h) = (current.g.clone(), current.h.clone());
        for (gi, hi) in fresh {
            g.push(gi);
            h.push(hi);
        }
        *slot = Arc::new(Generators {
            g_base: current.g_base,
            h_base: current.h_base,
            u_base: current.u_base,
            g,
            h,
        });
    }
    slot.clone()
}
