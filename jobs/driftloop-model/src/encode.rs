//! Encoding of feature codes into the numbers models see, declared from the dataset spec
//! and stored inside every model artifact: ordinal levels by rank (in the shipped dataset
//! Seldom = 0 … Most-Often = 3), two-level columns as 0/1 (NO = 0, YES = 1), and integers
//! as themselves. A model only accepts input encoded the way it was trained.

use driftloop_core::spec::{ColumnKind, DatasetSpec};
use serde::{Deserialize, Serialize};

/// How one column becomes a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum Encoding {
    /// The level's position in `levels`.
    Ordinal { levels: Vec<String> },
    /// The level's position in `levels`, for an unordered column of three or more levels
    /// (a number to the models, which split on it or weigh it as one).
    Level { levels: Vec<String> },
    /// `zero` is 0, `one` is 1.
    Binary { zero: String, one: String },
    /// The integer itself, from `min` to `max`.
    Integer { min: u8, max: u8 },
}

/// One encoded column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedColumn {
    pub name: String,
    #[serde(flatten)]
    pub encoding: Encoding,
}

/// The encoder of every feature column, in the spec's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    pub columns: Vec<EncodedColumn>,
}

impl Encoder {
    /// The encoder the spec declares: ordinal levels by rank, two-level categorical
    /// columns as 0/1, wider categorical columns by level index, integers as themselves.
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
                    ColumnKind::Categorical { levels } => Encoding::Level { levels: levels.clone() },
                    ColumnKind::Integer { min, max, .. } => Encoding::Integer {
                        min: u8::try_from(*min).expect("activated specs hold one-byte integers"),
                        max: u8::try_from(*max).expect("activated specs hold one-byte integers"),
                    },
                    ColumnKind::Number { .. } => unreachable!("activated specs hold no number columns"),
                };
                EncodedColumn {
                    name: column.name.clone(),
                    encoding,
                }
            })
            .collect();
        Encoder { columns }
    }

    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// The number for a feature code (a level index, or a score), or `None` when the code
    /// is outside the column's range.
    pub fn encode(&self, col_idx: usize, code: u8) -> Option<f64> {
        let valid = match &self.columns.get(col_idx)?.encoding {
            Encoding::Ordinal { levels } | Encoding::Level { levels } => (code as usize) < levels.len(),
            Encoding::Binary { .. } => code <= 1,
            Encoding::Integer { min, max } => (*min..=*max).contains(&code),
        };
        valid.then_some(code as f64)
    }
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
        // Most-Often is the highest frequency; YES is 1; a score is itself.
        assert_eq!(encoder.encode(0, 3), Some(3.0));
        assert_eq!(encoder.encode(4, 1), Some(1.0));
        assert_eq!(encoder.encode(16, 7), Some(7.0));
        assert_eq!(encoder.encode(0, 4), None);
        assert_eq!(encoder.encode(4, 2), None);
        assert_eq!(encoder.encode(16, 0), None);
        assert_eq!(encoder.encode(17, 0), None);
    }

    #[test]
    fn the_encoder_round_trips_through_json() {
        let encoder = Encoder::from_spec(spec());
        let json = serde_json::to_string(&encoder).unwrap();
        assert!(json.contains(r#""encoding":"ordinal""#), "{json}");
        assert_eq!(serde_json::from_str::<Encoder>(&json).unwrap(), encoder);
    }
}
