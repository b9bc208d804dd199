//! The kept scenario losses of many sub-accounts in one contiguous table: the fast
//! backend of clearing/risk/losses.py, whose `ReferenceLossTable` is the readable
//! reference and says what each method means.
//!
//! Exact or refused: lanes and risk-array values are i64 and every product and sum is
//! checked, so a result that would leave the 64-bit range raises OverflowError and
//! changes nothing; the caller then carries on with the reference (Python ints).

use pyo3::exceptions::{PyIndexError, PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pyclass(module = "clearnode_native")]
#[derive(Clone)]
pub struct LossTable {
    scenarios: usize,
    rows: Vec<i64>, // rows[i * scenarios + s]: gain per long lot of instrument i in s
    losses: Vec<i64>, // losses[slot * scenarios + s]: L_s of the sub-account in `slot`
}

fn overflow() -> PyErr {
    PyOverflowError::new_err("scenario losses beyond the 64-bit range")
}

impl LossTable {
    fn row(&self, row: usize) -> PyResult<&[i64]> {
        let start = row * self.scenarios;
        self.rows
            .get(start..start + self.scenarios)
            .ok_or_else(|| PyIndexError::new_err(format!("no risk array row {row}")))
    }

    fn lanes(&self, slot: usize) -> PyResult<std::ops::Range<usize>> {
        let start = slot * self.scenarios;
        if start + self.scenarios > self.losses.len() {
            return Err(PyIndexError::new_err(format!("no loss slot {slot}")));
        }
        Ok(start..start + self.scenarios)
    }

    fn checked(&self, losses: Vec<i64>) -> PyResult<Vec<i64>> {
        if losses.len() != self.scenarios {
            return Err(PyValueError::new_err(format!(
                "{} losses for {} scenarios",
                losses.len(),
                self.scenarios
            )));
        }
        Ok(losses)
    }

    /// `L_s - delta * v_s` for every scenario, or OverflowError.
    fn trade_losses(&self, slot: usize, row: usize, delta: i64) -> PyResult<Vec<i64>> {
        let values = self.row(row)?;
        let lanes = &self.losses[self.lanes(slot)?];
        lanes
            .iter()
            .zip(values)
            .map(|(&loss, &v)| {
                delta
                    .checked_mul(v)
                    .and_then(|d| loss.checked_sub(d))
                    .ok_or_else(overflow)
            })
            .collect()
    }
}

fn initial_margin(losses: &[i64]) -> i64 {
    // scenario 0 (the base) exists: `new` refuses a table without scenarios
    losses.iter().copied().max().unwrap_or(0)
}

#[pymethods]
impl LossTable {
    /// A table over the risk arrays `rows` (each of `scenarios` values), without slots.
    #[new]
    fn new(scenarios: usize, rows: Vec<Vec<i64>>) -> PyResult<Self> {
        if scenarios == 0 {
            return Err(PyValueError::new_err("a loss table needs a scenario"));
        }
        if let Some(bad) = rows.iter().find(|r| r.len() != scenarios) {
            return Err(PyValueError::new_err(format!(
                "a risk array row of {} values for {scenarios} scenarios",
                bad.len()
            )));
        }
        Ok(LossTable {
            scenarios,
            rows: rows.concat(),
            losses: Vec::new(),
        })
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    fn __len__(&self) -> usize {
        self.losses.len() / self.scenarios
    }

    fn add(&mut self, losses: Vec<i64>) -> PyResult<usize> {
        let losses = self.checked(losses)?;
        self.losses.extend_from_slice(&losses);
        Ok(self.__len__() - 1)
    }

    fn set(&mut self, slot: usize, losses: Vec<i64>) -> PyResult<()> {
        let range = self.lanes(slot)?;
        let losses = self.checked(losses)?;
        self.losses[range].copy_from_slice(&losses);
        Ok(())
    }

    fn get<'py>(&self, py: Python<'py>, slot: usize) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.losses[self.lanes(slot)?])
    }

    fn get_initial_margin(&self, slot: usize) -> PyResult<i64> {
        Ok(initial_margin(&self.losses[self.lanes(slot)?]))
    }

    fn get_initial_margin_after(&self, slot: usize, row: usize, delta: i64) -> PyResult<i64> {
        let values = self.row(row)?;
        let lanes = &self.losses[self.lanes(slot)?];
        lanes
            .iter()
            .zip(values)
            .try_fold(i64::MIN, |im, (&loss, &v)| {
                let after = delta.checked_mul(v).and_then(|d| loss.checked_sub(d));
                after.map(|l| im.max(l)).ok_or_else(overflow)
            })
    }

    fn apply(&mut self, slot: usize, row: usize, delta: i64) -> PyResult<i64> {
        let after = self.trade_losses(slot, row, delta)?;
        let range = self.lanes(slot)?;
        self.losses[range].copy_from_slice(&after);
        Ok(initial_margin(&after))
    }
}
