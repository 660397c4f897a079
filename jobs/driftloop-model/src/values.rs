//! How training rows are held: one byte a value where the dataset allows it, eight where
//! it does not.
//!
//! A dataset of categorical and ordinal columns and small integers (the shipped one:
//! 17 columns of 2 to 10 values) is held as the snapshot holds it, a level's index or an
//! integer in one byte, [`MISSING_CODE`] for a missing value ([`FeatureValues::Codes`]);
//! a dataset with a number column, or an integer beyond 0–254, as 8-byte floats, NaN for
//! a missing value ([`FeatureValues::Numbers`]). The encoded rows a model is fitted on
//! are one byte an input likewise when every input the encoder gives is a whole number
//! from 0 to 255 ([`Inputs::Codes`]: levels, 0/1 inputs, small integers; missing values
//! are imputed by then). Trees, forests, boosting and naive Bayes read either form
//! through [`Value`] and learn the same model from both: a code is the number it stands
//! for.

use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::encode::{Encoder, Encoding};
use crate::family::Matrix;
use crate::ModelError;

/// The code of a missing value in [`FeatureValues::Codes`].
pub const MISSING_CODE: u8 = u8::MAX;

/// A value a learner reads: a number, or a one-byte code standing for the whole number it
/// is.
pub trait Value: Copy + Send + Sync {
    fn number(self) -> f64;
}

impl Value for f64 {
    fn number(self) -> f64 {
        self
    }
}

impl Value for u8 {
    fn number(self) -> f64 {
        f64::from(self)
    }
}

/// Training rows' feature values, row-major (`n × p`, one per column, as
/// `driftloop_core::FeatureRow` holds them: a level's index, an integer, a number).
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValues {
    /// NaN for a missing value.
    Numbers(Vec<f64>),
    /// [`MISSING_CODE`] for a missing value; only for columns [`Encoder::one_byte_values`]
    /// accepts.
    Codes(Vec<u8>),
}

impl FeatureValues {
    pub fn len(&self) -> usize {
        match self {
            FeatureValues::Numbers(values) => values.len(),
            FeatureValues::Codes(codes) => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` (row-major) as a number, NaN when missing.
    pub fn number(&self, i: usize) -> f64 {
        match self {
            FeatureValues::Numbers(values) => values[i],
            FeatureValues::Codes(codes) => match codes[i] {
                MISSING_CODE => f64::NAN,
                code => f64::from(code),
            },
        }
    }

    /// Row `r` of `p` values as numbers into `out` (cleared first).
    pub fn row_into(&self, r: usize, p: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend((r * p..(r + 1) * p).map(|i| self.number(i)));
    }
}

impl FeatureValues {
    /// Room for `n` rows of the encoder's columns: codes when they fit one byte
    /// ([`Encoder::one_byte_values`]), numbers otherwise; every value 0 until set.
    pub fn for_columns(encoder: &Encoder, n: usize) -> FeatureValues {
        let len = n * encoder.n_features();
        if encoder.one_byte_values() {
            FeatureValues::Codes(vec![0; len])
        } else {
            FeatureValues::Numbers(vec![0.0; len])
        }
    }

    /// Sets column `c` of rows `p` wide from `column` (one number per row, NaN for
    /// missing). A value no code stands for (a fraction, or beyond 0–254) turns codes into
    /// numbers first, so that nothing is lost and the encoder refuses the value by name as
    /// it refuses any value outside its column.
    pub fn set_column(&mut self, c: usize, p: usize, column: &[f64]) {
        if let FeatureValues::Codes(codes) = self {
            let fits = |v: f64| v.is_nan() || ((0.0..f64::from(MISSING_CODE)).contains(&v) && v.fract() == 0.0);
            if !column.iter().all(|&v| fits(v)) {
                let numbers = (0..codes.len()).map(|i| self.number(i)).collect();
                *self = FeatureValues::Numbers(numbers);
            }
        }
        match self {
            FeatureValues::Numbers(values) => {
                for (r, &v) in column.iter().enumerate() {
                    values[r * p + c] = v;
                }
            }
            FeatureValues::Codes(codes) => {
                for (r, &v) in column.iter().enumerate() {
                    codes[r * p + c] = if v.is_nan() { MISSING_CODE } else { v as u8 };
                }
            }
        }
    }
}

impl FeatureValues {
    /// Sets column `c` of rows `p` wide from one-byte values (`None` for missing), as
    /// [`FeatureValues::set_column`] sets their numbers, without making them numbers
    /// first (8 bytes a row, twice over, for a column that is one byte a row). `column`
    /// gives the values, as often as asked.
    pub fn set_column_bytes<I: Iterator<Item = Option<u8>>>(&mut self, c: usize, p: usize, column: impl Fn() -> I) {
        match self {
            // A code is one byte, and only the missing one is kept: a value equal to it
            // is set as a number, as `set_column` would.
            FeatureValues::Codes(codes) if column().all(|v| v != Some(MISSING_CODE)) => {
                for (r, v) in column().enumerate() {
                    codes[r * p + c] = v.unwrap_or(MISSING_CODE);
                }
            }
            _ => {
                let numbers: Vec<f64> = column().map(|v| v.map_or(f64::NAN, f64::from)).collect();
                self.set_column(c, p, &numbers);
            }
        }
    }
}

impl From<Vec<f64>> for FeatureValues {
    fn from(values: Vec<f64>) -> FeatureValues {
        FeatureValues::Numbers(values)
    }
}

/// Encoded rows' values, row-major (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    Numbers(Vec<f64>),
    /// Each input a whole number from 0 to 255.
    Codes(Vec<u8>),
}

impl Inputs {
    pub fn len(&self) -> usize {
        match self {
            Inputs::Numbers(values) => values.len(),
            Inputs::Codes(codes) => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as numbers: moved when they are numbers, converted when codes.
    pub fn into_numbers(self) -> Vec<f64> {
        match self {
            Inputs::Numbers(values) => values,
            Inputs::Codes(codes) => codes.into_iter().map(f64::from).collect(),
        }
    }
}

impl Encoder {
    /// Whether every column's values fit [`FeatureValues::Codes`]: categorical and ordinal
    /// columns of at most 255 levels, and integers from 0 to 254 (one code is kept for a
    /// missing value).
    pub fn one_byte_values(&self) -> bool {
        self.columns.iter().all(|column| match &column.encoding {
            Encoding::Ordinal { levels } | Encoding::OneHot { levels } => levels.len() <= MISSING_CODE as usize,
            Encoding::Binary { .. } => true,
            Encoding::Integer { min, max } => *min >= 0 && *max < i64::from(MISSING_CODE),
            Encoding::Number { .. } => false,
        })
    }

    /// Whether every input the encoder gives is a whole number from 0 to 255, so that
    /// encoded rows fit [`Inputs::Codes`].
    pub fn one_byte_inputs(&self) -> bool {
        self.columns.iter().all(|column| match &column.encoding {
            Encoding::Ordinal { levels } => levels.len() <= 256,
            Encoding::OneHot { .. } | Encoding::Binary { .. } => true,
            Encoding::Integer { min, max } => *min >= 0 && *max <= 255,
            Encoding::Number { .. } => false,
        })
    }
}

/// The rows [`crate::Fitted::predict_proba_rows`] scores at a time.
pub const SCORE_BLOCK_ROWS: usize = 8_192;

/// Encoded rows, row-major (`width` values per row), as numbers or one-byte codes: what
/// [`crate::Dataset::rows`] gives and [`crate::Fitted::fit_rows`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub values: Inputs,
    pub n_rows: usize,
    pub width: usize,
}

impl Rows {
    /// The rows as a matrix (numbers move, codes become numbers).
    pub fn into_matrix(self) -> Result<Matrix, ModelError> {
        DenseMatrix::new(self.n_rows, self.width, self.values.into_numbers(), false)
            .map_err(|e| ModelError::Input(e.to_string()))
    }

    /// The rows as a matrix, kept as they are (the same matrix as [`Rows::into_matrix`]).
    pub fn to_matrix(&self) -> Result<Matrix, ModelError> {
        self.clone().into_matrix()
    }
}
