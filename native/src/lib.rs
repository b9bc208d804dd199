//! clearnode_native: the native proving core of proofs/ (see proofs/native_group.py `NativeGroup`),
//! and the margin engine's table of kept scenario losses (losses.rs).
//!
//! BLS12-381 G1 arithmetic on blst, the aggregated range prover and the batch verifier of
//! the solvency statement, producing the very bytes of the Python reference. Every call
//! that does real work releases the GIL; the work runs on all cores (rayon, and blst's
//! own pool for the large msms). The loss table's calls are a few dozen integer
//! operations each, on the trade path: they hold the GIL.

mod affine_sums;
mod fixed;
mod fr;
mod generators;
mod group;
mod losses;
mod pool;
mod prover;
mod transcript;
mod verifier;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use fr::Fr;
use group::{Proj, POINT_BYTES};
use transcript::Transcript;
use verifier::{Claim, Statement};

/// A point of the curve (projective), opaque to Python.
#[pyclass(frozen, from_py_object, module = "clearnode_native")]
#[derive(Clone)]
struct Point(Proj);

#[pymethods]
impl Point {
    fn __add__(&self, other: PyRef<'_, Point>) -> Point {
        Point(group::add(&self.0, &other.0))
    }

    fn __neg__(&self) -> Point {
        Point(group::neg(&self.0))
    }

    fn __eq__(&self, other: PyRef<'_, Point>) -> bool {
        group::eq(&self.0, &other.0)
    }

    fn __hash__(&self) -> u64 {
        let bytes = group::encode(&self.0);
        u64::from_le_bytes(bytes[40..48].try_into().unwrap())
    }

    /// k·self, k as 32 little-endian bytes (reduced mod R here).
    fn mul(&self, scalar: &[u8]) -> PyResult<Point> {
        Ok(Point(group::mul(&self.0, &fr_from_le(scalar)?)))
    }

    fn encode<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &group::encode(&self.0))
    }

    fn is_identity(&self) -> bool {
        group::is_identity(&self.0)
    }
}

fn fr_from_le(bytes: &[u8]) -> PyResult<Fr> {
    if bytes.len() != 32 {
        return Err(PyValueError::new_err(format!(
            "scalar must be 32 bytes, got {}",
            bytes.len()
        )));
    }
    Ok(Fr::from_le_reduced(bytes))
}

fn check_scalars(points: usize, scalars: &[u8]) -> PyResult<()> {
    if scalars.len() != 32 * points {
        return Err(PyValueError::new_err(format!(
            "msm of {points} points and {} bytes of scalars (32 each)",
            scalars.len()
        )));
    }
    Ok(())
}

fn state_from(bytes: &[u8]) -> PyResult<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        PyValueError::new_err(format!(
            "transcript state must be 32 bytes, got {}",
            bytes.len()
        ))
    })
}

#[pyfunction]
fn identity() -> Point {
    Point(Proj::default())
}

/// RFC 9380 hash_to_curve with the generators' DST (FORMAT.md).
#[pyfunction]
fn hash_to_point(message: &[u8]) -> Point {
    Point(group::hash_to_point(message))
}

/// A point from its canonical compressed encoding on the curve (ValueError otherwise).
#[pyfunction]
fn decode_point(data: &[u8]) -> PyResult<Point> {
    if data.len() != POINT_BYTES {
        return Err(PyValueError::new_err(format!(
            "point must be 48 bytes, got {}",
            data.len()
        )));
    }
    match group::decode(data) {
        Ok(p) => Ok(Point(group::from_affine(&p))),
        Err(group::PointError::NotOnCurve) => Err(PyValueError::new_err("not on the curve")),
        Err(group::PointError::NonCanonical) => Err(PyValueError::new_err("non-canonical")),
    }
}

#[pyfunction]
fn sum_points(points: Vec<Point>) -> Point {
    Point(
        points
            .iter()
            .fold(Proj::default(), |acc, p| group::add(&acc, &p.0)),
    )
}

/// Σ scalars[i]·points[i], the scalars 32-byte little-endian each, concatenated.
#[pyfunction]
fn msm(py: Python<'_>, points: Vec<Point>, scalars: &[u8]) -> PyResult<Point> {
    check_scalars(points.len(), scalars)?;
    let projective: Vec<Proj> = points.iter().map(|p| p.0).collect();
    let scalars = scalars.to_vec();
    Ok(Point(py.detach(|| {
        pool::run(|| group::msm_bytes(&group::to_affines(&projective), &scalars))
    })))
}

/// [msm(points, scalars) for each job], side by side on the cores.
#[pyfunction]
fn msm_batch(py: Python<'_>, jobs: Vec<(Vec<Point>, Bound<'_, PyBytes>)>) -> PyResult<Vec<Point>> {
    let mut prepared = Vec::with_capacity(jobs.len());
    for (points, scalars) in &jobs {
        check_scalars(points.len(), scalars.as_bytes())?;
        let projective: Vec<Proj> = points.iter().map(|p| p.0).collect();
        prepared.push((projective, scalars.as_bytes().to_vec()));
    }
    let sums: Vec<Proj> = py.detach(|| {
        pool::run(|| {
            prepared
                .par_iter()
                .map(|(p, s)| group::msm_serial_bytes(&group::to_affines(p), s))
                .collect()
        })
    });
    Ok(sums.into_iter().map(Point).collect())
}

fn check_bits(n: usize) -> PyResult<()> {
    if !n.is_power_of_two() || !(2..=64).contains(&n) {
        return Err(PyValueError::new_err(format!(
            "range bits n={n} must be a power of two in [2, 64]"
        )));
    }
    Ok(())
}

/// The encoded aggregated range proof (proofs/bulletproofs.py `prove_range`), continuing
/// the transcript `state`; returns (proof, the transcript state after it). Values must
/// be < 2^n, blindings 32-byte little-endian each.
#[pyfunction]
fn prove_range<'py>(
    py: Python<'py>,
    state: &[u8],
    values: Vec<u64>,
    blindings: &[u8],
    n: usize,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    check_bits(n)?;
    if blindings.len() != 32 * values.len() || values.is_empty() {
        return Err(PyValueError::new_err(
            "one 32-byte blinding per value, at least one value",
        ));
    }
    if let Some(v) = values.iter().find(|&&v| n < 64 && v >> n != 0) {
        return Err(PyValueError::new_err(format!(
            "value {v} is not below 2^{n}"
        )));
    }
    let gams: Vec<Fr> = blindings.chunks(32).map(Fr::from_le_reduced).collect();
    let mut t = Transcript::from_state(state_from(state)?);
    let proof = py.detach(|| pool::run(|| prover::prove_range(&mut t, &values, &gams, n)));
    Ok((PyBytes::new(py, &proof), PyBytes::new(py, &t.state)))
}

/// Batch verification of solvency claims `(transcript state after the commitments,
/// commitments, proof)` under the statement (`offsets`: one 32-byte little-endian scalar
/// per input; `rows`: per scenario, one per input, reduced mod R). Returns, per claim,
/// its decoded commitments or why it is malformed (a str), and the indices of the
/// well-formed claims whose proofs fail.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn verify_batch(
    py: Python<'_>,
    n: usize,
    offsets: &[u8],
    rows: Vec<Bound<'_, PyBytes>>,
    claims: Vec<(Bound<'_, PyBytes>, Bound<'_, PyBytes>, Bound<'_, PyBytes>)>,
) -> PyResult<(Vec<Py<PyAny>>, Vec<usize>)> {
    check_bits(n)?;
    if !offsets.len().is_multiple_of(32) || offsets.is_empty() {
        return Err(PyValueError::new_err(
            "offsets: 32 bytes per input, at least one input",
        ));
    }
    let inputs = offsets.len() / 32;
    let mut parsed_rows = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.as_bytes().len() != offsets.len() {
            return Err(PyValueError::new_err(
                "each row has one 32-byte scalar per input",
            ));
        }
        parsed_rows.push(row.as_bytes().chunks(32).map(Fr::from_le_reduced).collect());
    }
    let st = Statement {
        n,
        offsets: offsets.chunks(32).map(Fr::from_le_reduced).collect(),
        rows: parsed_rows,
    };
    debug_assert_eq!(st.offsets.len(), inputs);
    let mut owned = Vec::with_capacity(claims.len());
    for (state, commitments, proof) in &claims {
        owned.push(Claim {
            state: state_from(state.as_bytes())?,
            commitments: commitments.as_bytes().to_vec(),
            proof: proof.as_bytes().to_vec(),
        });
    }
    let (decoded, invalid) = py.detach(|| {
        pool::run(|| {
            let decoded = verifier::decode_all(&st, &owned);
            let admitted: Vec<(usize, &verifier::Decoded)> = decoded
                .iter()
                .enumerate()
                .filter_map(|(i, d)| d.as_ref().ok().map(|d| (i, d)))
                .collect();
            let refs: Vec<&verifier::Decoded> = admitted.iter().map(|(_, d)| *d).collect();
            let failing = verifier::find_invalid(&st, &refs, 0);
            let invalid: Vec<usize> = failing.into_iter().map(|k| admitted[k].0).collect();
            (decoded, invalid)
        })
    });
    let mut out = Vec::with_capacity(decoded.len());
    for d in decoded {
        out.push(match d {
            Ok(d) => {
                let points: Vec<Point> = d
                    .commitments
                    .iter()
                    .map(|p| Point(group::from_affine(p)))
                    .collect();
                points.into_pyobject(py)?.into_any().unbind()
            }
            Err(reason) => reason.into_pyobject(py)?.into_any().unbind(),
        });
    }
    Ok((out, invalid))
}

/// Threads the native core spreads its work over (one per core).
#[pyfunction]
fn get_worker_count() -> usize {
    pool::get().current_num_threads()
}

#[pymodule]
fn clearnode_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Point>()?;
    m.add_class::<losses::LossTable>()?;
    m.add_function(wrap_pyfunction!(identity, m)?)?;
    m.add_function(wrap_pyfunction!(hash_to_point, m)?)?;
    m.add_function(wrap_pyfunction!(decode_point, m)?)?;
    m.add_function(wrap_pyfunction!(sum_points, m)?)?;
    m.add_function(wrap_pyfunction!(msm, m)?)?;
    m.add_function(wrap_pyfunction!(msm_batch, m)?)?;
    m.add_function(wrap_pyfunction!(prove_range, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(get_worker_count, m)?)?;
    Ok(())
}
