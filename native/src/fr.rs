//! Scalars mod R (the order of the BLS12-381 G1 subgroup), on blst's Montgomery `blst_fr`.

use blst::*;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

#[derive(Clone, Copy, Default)]
pub struct Fr(pub blst_fr);

impl Fr {
    pub fn zero() -> Fr {
        Fr(blst_fr::default())
    }

    pub fn from_u64(v: u64) -> Fr {
        let limbs = [v, 0, 0, 0];
        let mut out = blst_fr::default();
        unsafe { blst_fr_from_uint64(&mut out, limbs.as_ptr()) };
        Fr(out)
    }

    pub fn one() -> Fr {
        Fr::from_u64(1)
    }

    /// `int_be(bytes) mod R`, any length.
    pub fn from_be_reduced(bytes: &[u8]) -> Fr {
        let mut s = blst_scalar::default();
        unsafe {
            blst_scalar_from_be_bytes(&mut s, bytes.as_ptr(), bytes.len());
        }
        Fr::from_scalar(&s)
    }

    /// 32 bytes big-endian, only if canonical (< R).
    pub fn from_be_canonical(bytes: &[u8]) -> Option<Fr> {
        debug_assert_eq!(bytes.len(), 32);
        let mut s = blst_scalar::default();
        unsafe {
            blst_scalar_from_bendian(&mut s, bytes.as_ptr());
            if !blst_scalar_fr_check(&s) {
                return None;
            }
        }
        Some(Fr::from_scalar(&s))
    }

    /// 32 bytes little-endian, reduced mod R whatever their value.
    pub fn from_le_reduced(bytes: &[u8]) -> Fr {
        let mut s = blst_scalar::default();
        unsafe { blst_scalar_from_le_bytes(&mut s, bytes.as_ptr(), bytes.len()) };
        Fr::from_scalar(&s)
    }

    fn from_scalar(s: &blst_scalar) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_from_scalar(&mut out, s) };
        Fr(out)
    }

    /// The canonical integer as blst's little-endian scalar bytes.
    pub fn to_scalar(&self) -> blst_scalar {
        let mut s = blst_scalar::default();
        unsafe { blst_scalar_from_fr(&mut s, &self.0) };
        s
    }

    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        unsafe { blst_bendian_from_scalar(out.as_mut_ptr(), &self.to_scalar()) };
        out
    }

    pub fn is_zero(&self) -> bool {
        self.to_scalar().b.iter().all(|&b| b == 0)
    }

    pub fn is_one(&self) -> bool {
        let s = self.to_scalar();
        s.b[0] == 1 && s.b[1..].iter().all(|&b| b == 0)
    }

    pub fn inverse(&self) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_eucl_inverse(&mut out, &self.0) };
        Fr(out)
    }

    pub fn square(&self) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_sqr(&mut out, &self.0) };
        Fr(out)
    }

    pub fn pow(&self, mut e: u64) -> Fr {
        let mut base = *self;
        let mut acc = Fr::one();
        while e > 0 {
            if e & 1 == 1 {
                acc *= base;
            }
            base = base.square();
            e >>= 1;
        }
        acc
    }

    /// [self^i for i < count].
    pub fn powers(&self, count: usize) -> Vec<Fr> {
        let mut out = Vec::with_capacity(count);
        let mut acc = Fr::one();
        for _ in 0..count {
            out.push(acc);
            acc *= *self;
        }
        out
    }
}

pub fn inner(a: &[Fr], b: &[Fr]) -> Fr {
    a.iter()
        .zip(b)
        .fold(Fr::zero(), |acc, (x, y)| acc + *x * *y)
}

impl Add for Fr {
    type Output = Fr;
    fn add(self, o: Fr) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_add(&mut out, &self.0, &o.0) };
        Fr(out)
    }
}

impl Sub for Fr {
    type Output = Fr;
    fn sub(self, o: Fr) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_sub(&mut out, &self.0, &o.0) };
        Fr(out)
    }
}

impl Mul for Fr {
    type Output = Fr;
    fn mul(self, o: Fr) -> Fr {
        let mut out = blst_fr::default();
        unsafe { blst_fr_mul(&mut out, &self.0, &o.0) };
        Fr(out)
    }
}

impl Neg for Fr {
    type Output = Fr;
    fn neg(self) -> Fr {
        Fr::zero() - self
    }
}

impl AddAssign for Fr {
    fn add_assign(&mut self, o: Fr) {
        *self = *self + o;
    }
}

impl SubAssign for Fr {
    fn sub_assign(&mut self, o: Fr) {
        *self = *self - o;
    }
}

impl MulAssign for Fr {
    fn mul_assign(&mut self, o: Fr) {
        *self = *self * o;
    }
}
