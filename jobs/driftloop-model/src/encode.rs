//! Encoding of feature values into the numbers models see, declared from the dataset spec
//! and stored inside every model artifact: ordinal levels by rank (in the shipped dataset
//! Seldom = 0 … Most-Often = 3), two-level columns as 0/1 (NO = 0, YES = 1), wider
//! categorical columns one-hot, integers and numbers as themselves. A model only accepts
//! input encoded the way it was trained.
//!
//! **Missing values** of a nullable column are imputed with a value fixed at training
//! ([`Encoder::impute_from`]) and stored with the model: the most frequent level (the
//! first such level on a tie) of a categorical or ordinal column, the median of an integer
//! column (the lower middle value for an even count) or of a number column (the mean of
//! the two middle values). A column all missing in training takes its first level, its
//! minimum, or 0 clamped to its bounds. The same rows give the same values on every
//! machine.

use driftloop_core::spec::{ColumnKind, DatasetSpec};
use serde::{Deserialize, Serialize};

use crate::values::FeatureValues;

/// How one column becomes a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum Encoding {
    /// The level's position in `levels`.
    Ordinal { levels: Vec<String> },
    /// One 0/1 input per level, for an unordered column of three or more levels: no model
    /// reads an order into the levels' positions.
    OneHot { levels: Vec<String> },
    /// `zero` is 0, `one` is 1.
    Binary { zero: String, one: String },
    /// The integer itself, from `min` to `max`.
    Integer { min: i64, max: i64 },
    /// The number itself: finite, within the bounds given.
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
}

impl Encoding {
    /// Whether `value` (a level index, an integer, a number) is one this column takes.
    fn admits(&self, value: f64) -> bool {
        let level_below = |n: usize| value >= 0.0 && value.fract() == 0.0 && (value as usize) < n;
        match self {
            Encoding::Ordinal { levels } | Encoding::OneHot { levels } => level_below(levels.len()),
            Encoding::Binary { .. } => level_below(2),
            Encoding::Integer { min, max } => value.fract() == 0.0 && value >= *min as f64 && value <= *max as f64,
            Encoding::Number { min, max } => {
                value.is_finite() && min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }
}

/// One encoded column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedColumn {
    pub name: String,
    #[serde(flatten)]
    pub encoding: Encoding,
    /// The value a missing one is replaced with (nullable columns only; see the module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<f64>,
}

/// The encoder of every feature column, in the spec's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    pub columns: Vec<EncodedColumn>,
}

impl Encoder {
    /// The encoder the spec declares: ordinal levels by rank, two-level categorical
    /// columns as 0/1, wider categorical columns one-hot, integers as themselves.
    pub fn from_spec(spec: &DatasetSpec) -> Encoder {
        let columns = spec
            .features
            .iter()
            .map(|column| {
                let encoding = match &column.kind {
                    ColumnKind::Ordinal { levels } => Encoding::Ordinal { levels: levels.clone() },
                    ColumnKind::Categorical { levels } if levels.len() == 2 => Encoding::Binary {
                        zero: levels[0].clone(),
                        one: levels[1].clone(),
                    },
                    ColumnKind::Categorical { levels } => Encoding::OneHot { levels: levels.clone() },
                    ColumnKind::Integer { min, max, .. } => Encoding::Integer { min: *min, max: *max },
                    ColumnKind::Number { min, max } => Encoding::Number { min: *min, max: *max },
                };
                EncodedColumn {
                    name: column.name.clone(),
                    encoding,
                    // Fixed by `impute_from`; until then the first admitted value.
                    impute: column.nullable.then_some(0.0),
                }
            })
            .collect();
        Encoder { columns }
    }

    /// Fixes the value each nullable column's missing values are replaced with from
    /// `values`, rows of feature values (row-major, one per column; see the module).
    pub fn impute_from(mut self, values: &FeatureValues) -> Encoder {
        let p = self.columns.len().max(1);
        let n = values.len() / p;
        for (c, column) in self.columns.iter_mut().enumerate() {
            if column.impute.is_none() {
                continue;
            }
            let mut present: Vec<f64> = (0..n)
                .map(|r| values.number(r * p + c))
                .filter(|v| column.encoding.admits(*v))
                .collect();
            present.sort_by(f64::total_cmp);
            column.impute = Some(match &column.encoding {
                Encoding::Ordinal { .. } | Encoding::OneHot { .. } | Encoding::Binary { .. } => most_frequent(&present),
                Encoding::Integer { min, .. } if present.is_empty() => *min as f64,
                Encoding::Integer { .. } => present[(present.len() - 1) / 2],
                Encoding::Number { min, max } if present.is_empty() => {
                    0f64.max(min.unwrap_or(f64::MIN)).min(max.unwrap_or(f64::MAX))
                }
                Encoding::Number { .. } => {
                    let n = present.len();
                    if n % 2 == 1 {
                        present[n / 2]
                    } else {
                        (present[n / 2 - 1] + present[n / 2]) / 2.0
                    }
                }
            });
        }
        self
    }

    /// Which of the model's inputs ([`Encoder::width`]) are continuous: numbers, and
    /// integers reaching beyond 0–255. Naive Bayes cuts these into bins.
    pub fn continuous(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.width());
        for column in &self.columns {
            match &column.encoding {
                Encoding::OneHot { levels } => out.extend(std::iter::repeat_n(false, levels.len())),
                Encoding::Number { .. } => out.push(true),
                Encoding::Integer { min, max } => out.push(*min < 0 || *max > 255),
                Encoding::Ordinal { .. } | Encoding::Binary { .. } => out.push(false),
            }
        }
        out
    }

    /// The feature columns it encodes.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// The inputs a model sees: one per column, one per level of a one-hot column.
    pub fn width(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match &c.encoding {
                Encoding::OneHot { levels } => levels.len(),
                _ => 1,
            })
            .sum()
    }

    /// Appends the inputs of a feature value (a level index, an integer or a number; NaN
    /// for missing) of column `col_idx` to `out`; `false`, appending nothing, when the
    /// value is outside the column's range, or missing in a column that is not nullable.
    pub fn encode_into(&self, col_idx: usize, value: f64, out: &mut Vec<f64>) -> bool {
        let Some(column) = self.columns.get(col_idx) else {
            return false;
        };
        let value = match column.impute {
            Some(impute) if value.is_nan() => impute,
            _ => value,
        };
        if !column.encoding.admits(value) {
            return false;
        }
        match &column.encoding {
            Encoding::OneHot { levels } => {
                out.extend((0..levels.len()).map(|i| if i == value as usize { 1.0 } else { 0.0 }));
            }
            _ => out.push(value),
        }
        true
    }

    /// The inputs of one value, or `None` outside the column's range.
    pub fn encode(&self, col_idx: usize, value: f64) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        self.encode_into(col_idx, value, &mut out).then_some(out)
    }
}

/// The most frequent of sorted level indices, the smallest on a tie (0 when none).
fn most_frequent(sorted: &[f64]) -> f64 {
    let mut best = (0.0, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let run = sorted[i..].iter().take_while(|v| **v == sorted[i]).count();
        if run > best.1 {
            best = (sorted[i], run);
        }
        i += run;
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftloop_core::spec;

    #[test]
    fn the_spec_declares_ordinal_binary_and_integer_columns() {
        let encoder = Encoder::from_spec(spec());
        assert_eq!(encoder.n_features(), 17);
        let sadness = &encoder.columns[0];
        assert_eq!(sadness.name, "sadness");
        assert_eq!(
            sadness.encoding,
            Encoding::Ordinal {
                levels: vec![
                    "Seldom".into(),
                    "Sometimes".into(),
                    "Usually".into(),
                    "Most-Often".into()
                ]
            }
        );
        assert_eq!(
            encoder.columns[4].encoding,
            Encoding::Binary {
                zero: "NO".into(),
                one: "YES".into()
            }
        );
        assert_eq!(encoder.columns[16].encoding, Encoding::Integer { min: 1, max: 10 });
        assert_eq!(
            encoder.encode(16, f64::NAN),
            None,
            "no column of the shipped dataset is nullable"
        );
        assert_eq!(encoder.encode(16, 7.5), None);
        // Most-Often is the highest frequency; YES is 1; a score is itself.
        assert_eq!(encoder.encode(0, 3.0), Some(vec![3.0]));
        assert_eq!(encoder.encode(4, 1.0), Some(vec![1.0]));
        assert_eq!(encoder.encode(16, 7.0), Some(vec![7.0]));
        assert_eq!(encoder.width(), 17);
        assert_eq!(encoder.encode(0, 4.0), None);
        assert_eq!(encoder.encode(4, 2.0), None);
        assert_eq!(encoder.encode(16, 0.0), None);
        assert_eq!(encoder.encode(17, 0.0), None);
    }

    #[test]
    fn a_categorical_column_of_three_levels_is_one_hot() {
        let spec = driftloop_core::dataset_file::parse_dataset(
            "name = \"shop\"\n[label]\nname = \"returned\"\nclasses = [\"no\", \"yes\"]\n\
             [[features]]\nname = \"category\"\nkind = \"categorical\"\nlevels = [\"books\", \"garden\", \"toys\"]\n\
             [[features]]\nname = \"rating\"\nkind = \"ordinal\"\nlevels = [\"bad\", \"ok\", \"good\"]\n",
        )
        .unwrap();
        let encoder = Encoder::from_spec(&spec);
        assert_eq!((encoder.n_features(), encoder.width()), (2, 4));
        assert_eq!(encoder.encode(0, 1.0), Some(vec![0.0, 1.0, 0.0]));
        assert_eq!(encoder.encode(0, 3.0), None);
        assert_eq!(encoder.encode(1, 2.0), Some(vec![2.0]));
    }

    #[test]
    fn the_encoder_round_trips_through_json() {
        let encoder = Encoder::from_spec(spec());
        let json = serde_json::to_string(&encoder).unwrap();
        assert!(json.contains(r#""encoding":"ordinal""#), "{json}");
        assert_eq!(serde_json::from_str::<Encoder>(&json).unwrap(), encoder);
    }

    #[test]
    fn missing_values_are_imputed_with_the_training_median_or_mode() {
        let spec =
            driftloop_core::dataset_file::parse_dataset(include_str!("../../../data-fixtures/synthetic/dataset.toml"))
                .unwrap();
        let names: Vec<&str> = spec.features.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "plan",
                "satisfaction",
                "tenure_months",
                "support_calls",
                "monthly_spend"
            ]
        );
        let nan = f64::NAN;
        #[rustfmt::skip]
        let rows = [
            0.0, 2.0, 10.0, 3.0, 20.0,
            2.0, 1.0, 11.0, nan, 30.5,
            2.0, 1.0, 12.0, 1.0, nan,
            1.0, 0.0, 13.0, 2.0, 10.0,
            2.0, 2.0, 14.0, 4.0, 40.0,
        ];
        let encoder = Encoder::from_spec(&spec).impute_from(&rows.to_vec().into());
        let imputed: Vec<Option<f64>> = encoder.columns.iter().map(|c| c.impute).collect();
        // support_calls: 1, 2, 3, 4 → the lower middle 2; monthly_spend: 10, 20, 30.5, 40 → 25.25.
        assert_eq!(imputed, [None, None, None, Some(2.0), Some(25.25)]);
        assert_eq!(encoder.encode(3, nan), Some(vec![2.0]));
        assert_eq!(encoder.encode(4, nan), Some(vec![25.25]));
        assert_eq!(encoder.encode(4, 12.75), Some(vec![12.75]));
        assert_eq!(encoder.encode(4, -1.0), None, "monthly_spend has min = 0");
        assert_eq!(encoder.encode(4, f64::INFINITY), None);
        assert_eq!(encoder.encode(2, nan), None, "tenure_months is not nullable");
        let json = serde_json::to_string(&encoder).unwrap();
        assert!(
            json.contains(r#""encoding":"number","min":0.0,"impute":25.25"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Encoder>(&json).unwrap(), encoder);
        // All missing: the column's minimum, or 0 within its bounds.
        let empty = Encoder::from_spec(&spec).impute_from(&vec![0.0, 0.0, 1.0, nan, nan].into());
        assert_eq!(
            (empty.columns[3].impute, empty.columns[4].impute),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(
            most_frequent(&[0.0, 1.0, 1.0, 2.0, 2.0]),
            1.0,
            "the first level on a tie"
        );
    }
}
