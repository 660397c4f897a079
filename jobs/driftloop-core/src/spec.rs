//! The dataset spec: column names, their kinds and allowed values. Validation, encoding,
//! the SQL DDL (checked by a test) and the drift column list all follow from it.

use sha2::{Digest, Sha256};

/// The four frequency levels, in their natural order (used as the ordinal encoding).
pub const FREQUENCY_LEVELS: &[&str] = &["Seldom", "Sometimes", "Usually", "Most-Often"];
/// Yes/no answers; `NO` encodes to 0 and `YES` to 1.
pub const YES_NO_LEVELS: &[&str] = &["NO", "YES"];
/// The diagnosis classes, in the order class indices refer to.
pub const DIAGNOSIS_CLASSES: &[&str] = &["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"];
/// Smallest and largest allowed score.
pub const SCORE_MIN: u8 = 1;
pub const SCORE_MAX: u8 = 10;

/// What kind of values a feature column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// One of [`FREQUENCY_LEVELS`].
    Frequency,
    /// One of [`YES_NO_LEVELS`].
    YesNo,
    /// An integer from [`SCORE_MIN`] to [`SCORE_MAX`]; the raw data writes "7 From 10".
    Score,
}

impl ColumnKind {
    /// The allowed categories of a categorical kind; `None` for scores.
    pub fn levels(self) -> Option<&'static [&'static str]> {
        match self {
            ColumnKind::Frequency => Some(FREQUENCY_LEVELS),
            ColumnKind::YesNo => Some(YES_NO_LEVELS),
            ColumnKind::Score => None,
        }
    }

    /// A sentence fragment telling a user what this kind accepts.
    pub fn expected(self) -> String {
        match self.levels() {
            Some(levels) => format!("one of {}", levels.join(", ")),
            None => format!("an integer from {SCORE_MIN} to {SCORE_MAX} (\"7\" or \"7 From 10\")"),
        }
    }
}

/// One feature column of the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureColumn {
    /// The public column name (feature table, snapshots, HTTP API).
    pub name: &'static str,
    /// The header of this column in the originally published CSV.
    pub source_header: &'static str,
    pub kind: ColumnKind,
}

/// A value that does not fit its column: what was given and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not {expected}")]
pub struct CellError {
    pub given: String,
    pub expected: String,
}

/// The whole dataset spec.
#[derive(Debug)]
pub struct DatasetSpec {
    /// Dataset name, used in storage paths (`dataset=<name>`).
    pub name: &'static str,
    pub features: &'static [FeatureColumn],
    /// The label column name.
    pub label: &'static str,
    /// The label's header in the originally published CSV.
    pub label_source_header: &'static str,
    pub classes: &'static [&'static str],
}

const fn col(name: &'static str, source_header: &'static str, kind: ColumnKind) -> FeatureColumn {
    FeatureColumn {
        name,
        source_header,
        kind,
    }
}

static FEATURES: &[FeatureColumn] = &[
    col("sadness", "Sadness", ColumnKind::Frequency),
    col("euphoric", "Euphoric", ColumnKind::Frequency),
    col("exhausted", "Exhausted", ColumnKind::Frequency),
    col("sleep_disorder", "Sleep dissorder", ColumnKind::Frequency),
    col("mood_swing", "Mood Swing", ColumnKind::YesNo),
    col("suicidal_thoughts", "Suicidal thoughts", ColumnKind::YesNo),
    col("anorexia", "Anorxia", ColumnKind::YesNo),
    col("authority_respect", "Authority Respect", ColumnKind::YesNo),
    col("try_explanation", "Try-Explanation", ColumnKind::YesNo),
    col("aggressive_response", "Aggressive Response", ColumnKind::YesNo),
    col("ignore_and_move_on", "Ignore & Move-On", ColumnKind::YesNo),
    col("nervous_breakdown", "Nervous Break-down", ColumnKind::YesNo),
    col("admit_mistakes", "Admit Mistakes", ColumnKind::YesNo),
    col("overthinking", "Overthinking", ColumnKind::YesNo),
    col("sexual_activity", "Sexual Activity", ColumnKind::Score),
    col("concentration", "Concentration", ColumnKind::Score),
    col("optimism", "Optimisim", ColumnKind::Score),
];

static SPEC: DatasetSpec = DatasetSpec {
    name: "mental_health",
    features: FEATURES,
    label: "diagnosis",
    label_source_header: "Expert Diagnose",
    classes: DIAGNOSIS_CLASSES,
};

/// The shipped dataset's spec.
pub fn spec() -> &'static DatasetSpec {
    &SPEC
}

impl DatasetSpec {
    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Index of a feature column by its public name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|c| c.name == name)
    }

    /// Parses one raw cell of feature column `col_idx` into its code: the level index for
    /// categorical columns, the score itself for scores. Surrounding white space is
    /// ignored and categories match without regard to case ("yes " is YES).
    pub fn parse_feature(&self, col_idx: usize, raw: &str) -> Result<u8, CellError> {
        let column = &self.features[col_idx];
        let value = raw.trim();
        let parsed = match column.kind.levels() {
            Some(levels) => level_index(levels, value),
            None => parse_score(value),
        };
        parsed.ok_or_else(|| CellError {
            given: raw.to_string(),
            expected: column.kind.expected(),
        })
    }

    /// Parses a diagnosis into its class index (trimmed, case-insensitive).
    pub fn parse_class(&self, raw: &str) -> Result<u8, CellError> {
        level_index(self.classes, raw.trim()).ok_or_else(|| CellError {
            given: raw.to_string(),
            expected: format!("one of {}", self.classes.join(", ")),
        })
    }

    /// Checks a code produced elsewhere (a database, a generator) against column `col_idx`.
    pub fn check_code(&self, col_idx: usize, code: u8) -> Result<u8, CellError> {
        let column = &self.features[col_idx];
        let ok = match column.kind.levels() {
            Some(levels) => (code as usize) < levels.len(),
            None => (SCORE_MIN..=SCORE_MAX).contains(&code),
        };
        if ok {
            Ok(code)
        } else {
            Err(CellError {
                given: code.to_string(),
                expected: column.kind.expected(),
            })
        }
    }

    /// The text form of a code of feature column `col_idx`: the category, or the score
    /// as a decimal number.
    pub fn feature_text(&self, col_idx: usize, code: u8) -> String {
        match self.features[col_idx].kind.levels() {
            Some(levels) => levels[code as usize].to_string(),
            None => code.to_string(),
        }
    }

    /// A stable fingerprint of everything in the spec that changes what data means.
    /// Snapshots and models carry it, so data and models of another spec are recognised.
    pub fn spec_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.name.as_bytes());
        for column in self.features {
            hasher.update(b"\n");
            hasher.update(column.name.as_bytes());
            hasher.update(b":");
            match column.kind.levels() {
                Some(levels) => hasher.update(levels.join("|").as_bytes()),
                None => hasher.update(format!("{SCORE_MIN}..={SCORE_MAX}").as_bytes()),
            }
        }
        hasher.update(b"\n");
        hasher.update(self.label.as_bytes());
        hasher.update(b":");
        hasher.update(self.classes.join("|").as_bytes());
        hex::encode(hasher.finalize())
    }
}

fn level_index(levels: &[&str], value: &str) -> Option<u8> {
    levels
        .iter()
        .position(|level| level.eq_ignore_ascii_case(value))
        .map(|i| i as u8)
}

/// Accepts "7" and "7 From 10" (any case, any spacing around "from").
fn parse_score(value: &str) -> Option<u8> {
    let number = match value.to_ascii_lowercase().split_once("from") {
        Some((number, out_of)) => {
            if out_of.trim() != SCORE_MAX.to_string() {
                return None;
            }
            number.trim().to_string()
        }
        None => value.to_string(),
    };
    let score: u8 = number.parse().ok()?;
    (SCORE_MIN..=SCORE_MAX).contains(&score).then_some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_raw_data_forms() {
        let s = spec();
        let sadness = s.feature_index("sadness").unwrap();
        let suicidal = s.feature_index("suicidal_thoughts").unwrap();
        let optimism = s.feature_index("optimism").unwrap();
        assert_eq!(s.parse_feature(sadness, "Most-Often"), Ok(3));
        assert_eq!(s.parse_feature(sadness, " usually "), Ok(2));
        assert_eq!(s.parse_feature(suicidal, "YES "), Ok(1));
        assert_eq!(s.parse_feature(suicidal, "NO"), Ok(0));
        assert_eq!(s.parse_feature(optimism, "7 From 10"), Ok(7));
        assert_eq!(s.parse_feature(optimism, "10"), Ok(10));
        assert_eq!(s.parse_class("Bipolar Type-2"), Ok(2));
    }

    #[test]
    fn rejects_with_what_was_expected() {
        let s = spec();
        let optimism = s.feature_index("optimism").unwrap();
        let err = s.parse_feature(optimism, "11").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"11\" is not an integer from 1 to 10 (\"7\" or \"7 From 10\")"
        );
        assert!(s.parse_feature(optimism, "0").is_err());
        assert!(s.parse_feature(optimism, "7 From 9").is_err());
        assert!(s.parse_feature(optimism, "").is_err());
        let err = s.parse_feature(0, "Never").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"Never\" is not one of Seldom, Sometimes, Usually, Most-Often"
        );
        assert!(s.parse_class("Anxiety").is_err());
    }

    #[test]
    fn spec_hash_is_stable_and_sensitive() {
        let s = spec();
        assert_eq!(s.spec_hash(), s.spec_hash());
        assert_eq!(s.spec_hash().len(), 64);
        assert_eq!(s.n_features(), 17);
    }

    #[test]
    fn check_code_bounds() {
        let s = spec();
        assert!(s.check_code(0, 3).is_ok());
        assert!(s.check_code(0, 4).is_err());
        assert!(s.check_code(4, 2).is_err());
        assert!(s.check_code(14, 0).is_err());
        assert!(s.check_code(14, 10).is_ok());
    }
}
