//! Encoding a dataset's rows for a fit: numbers, or one byte an input when they fit.

use super::Dataset;
use crate::encode::Encoder;
use crate::family::Matrix;
use crate::values::{Inputs, Rows};
use crate::ModelError;

impl Dataset {
    /// The encoded matrix of the given rows.
    pub fn matrix(&self, encoder: &Encoder, rows: &[usize]) -> Result<Matrix, ModelError> {
        self.encode(encoder, rows, false)?.into_matrix()
    }

    /// The given rows encoded, row-major: one byte an input when the encoder's inputs
    /// allow it ([`Encoder::one_byte_inputs`]).
    pub fn rows(&self, encoder: &Encoder, rows: &[usize]) -> Result<Rows, ModelError> {
        self.encode(encoder, rows, encoder.one_byte_inputs())
    }

    fn encode(&self, encoder: &Encoder, rows: &[usize], codes: bool) -> Result<Rows, ModelError> {
        let p = self.n_features;
        let mut encoded = EncodedRows::new(encoder, rows.len(), codes);
        let mut row = Vec::with_capacity(p);
        for (i, &r) in rows.iter().enumerate() {
            self.values.row_into(r, p, &mut row);
            encoded.push(i, &row)?;
        }
        Ok(encoded.finish())
    }

    pub(super) fn labels_of(&self, rows: &[usize]) -> Vec<u8> {
        rows.iter().map(|&r| self.labels[r]).collect()
    }
}

/// Encodes rows of feature values into a matrix, refusing a value outside its column.
pub fn encode_rows<'a>(
    encoder: &Encoder,
    rows: impl ExactSizeIterator<Item = &'a [f64]>,
) -> Result<Matrix, ModelError> {
    let mut encoded = EncodedRows::new(encoder, rows.len(), false);
    for (r, row) in rows.enumerate() {
        encoded.push(r, row)?;
    }
    encoded.finish().into_matrix()
}

/// Rows being encoded, one after the other, as numbers or as one-byte codes.
struct EncodedRows<'a> {
    encoder: &'a Encoder,
    inputs: Inputs,
    /// One row's inputs, when they become codes.
    scratch: Vec<f64>,
    n_rows: usize,
}

impl<'a> EncodedRows<'a> {
    /// Room for `n` rows; `codes` only when the encoder's inputs fit one byte.
    fn new(encoder: &'a Encoder, n: usize, codes: bool) -> EncodedRows<'a> {
        let capacity = n * encoder.width();
        let inputs = if codes {
            debug_assert!(encoder.one_byte_inputs());
            Inputs::Codes(Vec::with_capacity(capacity))
        } else {
            Inputs::Numbers(Vec::with_capacity(capacity))
        };
        EncodedRows {
            encoder,
            inputs,
            scratch: Vec::with_capacity(encoder.width()),
            n_rows: 0,
        }
    }

    /// Appends the inputs of row `r` (numbered for the error), refusing a value outside
    /// its column.
    fn push(&mut self, r: usize, row: &[f64]) -> Result<(), ModelError> {
        let p = self.encoder.n_features();
        if row.len() != p {
            return Err(ModelError::Input(format!(
                "row {r} has {} features, the model takes {p}",
                row.len()
            )));
        }
        let out = match &mut self.inputs {
            Inputs::Numbers(values) => values,
            Inputs::Codes(_) => {
                self.scratch.clear();
                &mut self.scratch
            }
        };
        for (c, &value) in row.iter().enumerate() {
            if !self.encoder.encode_into(c, value, out) {
                return Err(ModelError::Input(format!(
                    "row {r}: value {value} is outside column {}",
                    self.encoder.columns[c].name
                )));
            }
        }
        if let Inputs::Codes(codes) = &mut self.inputs {
            // Whole numbers from 0 to 255: what `one_byte_inputs` promises.
            codes.extend(self.scratch.iter().map(|&v| v as u8));
        }
        self.n_rows += 1;
        Ok(())
    }

    fn finish(self) -> Rows {
        Rows {
            values: self.inputs,
            n_rows: self.n_rows,
            width: self.encoder.width(),
        }
    }
}
