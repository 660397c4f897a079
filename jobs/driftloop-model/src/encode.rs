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
    /// One 0/1 input per level, for an unordered column of three or more levels: no model
    /// reads an order into the levels' positions.
    OneHot { levels: Vec<String> },
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

    /// Appends the inputs of a feature code (a level index, or an integer) of column
    /// `col_idx` to `out`; `false`, appending nothing, when the code is outside the
    /// column's range.
    pub fn encode_into(&self, col_idx: usize, code: u8, out: &mut Vec<f64>) -> bool {
        let Some(column) = self.columns.get(col_idx) else {
            return false;
        };
        match &column.encoding {
            Encoding::OneHot { levels } => {
                if (code as usize) >= levels.len() {
                    return false;
                }
                out.extend((0..levels.len()).map(|i| if i == code as usize { 1.0 } else { 0.0 }));
                true
            }
            Encoding::Ordinal { levels } if (code as usize) >= levels.len() => false,
            Encoding::Binary { .. } if code > 1 => false,
            Encoding::Integer { min, max } if !(*min..=*max).contains(&code) => false,
            _ => {
                out.push(code as f64);
                true
            }
        }
    }

    /// The inputs of one code, or `None` outside the column's range.
    pub fn encode(&self, col_idx: usize, code: u8) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        self.encode_into(col_idx, code, &mut out).then_some(out)
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
        assert_eq!(encoder.encode(0, 3), Some(vec![3.0]));
        assert_eq!(encoder.encode(4, 1), Some(vec![1.0]));
        assert_eq!(encoder.encode(16, 7), Some(vec![7.0]));
        assert_eq!(encoder.width(), 17);
        assert_eq!(encoder.encode(0, 4), None);
        assert_eq!(encoder.encode(4, 2), None);
        assert_eq!(encoder.encode(16, 0), None);
        assert_eq!(encoder.encode(17, 0), None);
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
        assert_eq!(encoder.encode(0, 1), Some(vec![0.0, 1.0, 0.0]));
        assert_eq!(encoder.encode(0, 3), None);
        assert_eq!(encoder.encode(1, 2), Some(vec![2.0]));
    }

    #[test]
    fn the_encoder_round_trips_through_json() {
        let encoder = Encoder::from_spec(spec());
        let json = serde_json::to_string(&encoder).unwrap();
        assert!(json.contains(r#""encoding":"ordinal""#), "{json}");
        assert_eq!(serde_json::from_str::<Encoder>(&json).unwrap(), encoder);
    }
}
