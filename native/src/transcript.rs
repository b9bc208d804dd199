//! The Fiat–Shamir transcript of proofs/transcript.py, byte for byte (FORMAT.md).

use crate::fr::Fr;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::{Digest, Sha3_256, Sha3_512, Shake256};

fn frame<D: Digest>(h: &mut D, label: &[u8], data: &[u8]) {
    Digest::update(h, (label.len() as u32).to_be_bytes());
    Digest::update(h, label);
    Digest::update(h, (data.len() as u32).to_be_bytes());
    Digest::update(h, data);
}

#[derive(Clone)]
pub struct Transcript {
    pub state: [u8; 32],
}

impl Transcript {
    pub fn from_state(state: [u8; 32]) -> Transcript {
        Transcript { state }
    }

    pub fn append(&mut self, label: &[u8], data: &[u8]) {
        let mut h = Sha3_256::new();
        Digest::update(&mut h, self.state);
        Digest::update(&mut h, b"A");
        frame(&mut h, label, data);
        self.state = h.finalize().into();
    }

    pub fn append_u64(&mut self, label: &[u8], value: u64) {
        self.append(label, &value.to_be_bytes());
    }

    pub fn append_scalar(&mut self, label: &[u8], value: &Fr) {
        self.append(label, &value.to_be_bytes());
    }

    fn squeeze(&mut self, label: &[u8]) -> [u8; 64] {
        let mut h = Sha3_512::new();
        Digest::update(&mut h, self.state);
        Digest::update(&mut h, b"C");
        frame(&mut h, label, b"");
        let out: [u8; 64] = h.finalize().into();
        let mut k = Sha3_256::new();
        Digest::update(&mut k, b"K");
        Digest::update(&mut k, out);
        self.state = k.finalize().into();
        out
    }

    /// A nonzero scalar mod R.
    pub fn challenge(&mut self, label: &[u8]) -> Fr {
        loop {
            let c = Fr::from_be_reduced(&self.squeeze(label));
            if !c.is_zero() {
                return c;
            }
        }
    }

    /// A nonzero 128-bit scalar, with its 16 little-endian bytes (a short multiplier).
    pub fn challenge_128(&mut self, label: &[u8]) -> (Fr, [u8; 16]) {
        loop {
            let out = self.squeeze(label);
            let mut le = [0u8; 16];
            for i in 0..16 {
                le[i] = out[15 - i];
            }
            if le.iter().any(|&b| b != 0) {
                return (Fr::from_be_reduced(&out[..16]), le);
            }
        }
    }

    /// `count` secret scalars keyed by the transcript and the witness.
    pub fn nonce_stream(&self, label: &[u8], witness: &[u8], count: usize) -> Vec<Fr> {
        let mut h = Sha3_256::new();
        Digest::update(&mut h, b"N");
        Digest::update(&mut h, self.state);
        frame(&mut h, label, witness);
        let key: [u8; 32] = h.finalize().into();
        let mut shake = Shake256::default();
        Update::update(&mut shake, &key);
        let mut reader = shake.finalize_xof();
        let mut raw = vec![0u8; 64 * count];
        reader.read(&mut raw);
        raw.chunks(64).map(Fr::from_be_reduced).collect()
    }
}
