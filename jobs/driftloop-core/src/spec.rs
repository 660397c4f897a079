//! The dataset spec: column names, their kinds and allowed values, read from a dataset
//! file (dataset_file.rs). Validation, encoding, the SQL DDL and the drift column list all
//! follow from it. One spec is active per process: the shipped mental-health file, embedded
//! in the binary, unless the process activates another at start ([`activate`]).

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::dataset_file::{parse_dataset, DatasetFileError};

/// The shipped dataset file, embedded so that `driftloop demo` needs nothing else.
pub const SHIPPED_DATASET: &str = include_str!("../../../data-fixtures/mental-health/dataset.toml");

/// What kind of values a feature column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// Unordered levels.
    Categorical { levels: Vec<String> },
    /// Ordered levels, encoded by rank (the first level is 0).
    Ordinal { levels: Vec<String> },
    /// A whole number from `min` to `max`. `suffix` is text a CSV cell may carry after the
    /// number ("From 10" in "7 From 10"), its words matched in any case, with any white
    /// space before and between them.
    Integer { min: i64, max: i64, suffix: Option<String> },
    /// A finite number, optionally bounded.
    Number { min: Option<f64>, max: Option<f64> },
}

impl ColumnKind {
    /// The kind's name in a dataset file.
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Categorical { .. } => "categorical",
            ColumnKind::Ordinal { .. } => "ordinal",
            ColumnKind::Integer { .. } => "integer",
            ColumnKind::Number { .. } => "number",
        }
    }

    /// The levels of a categorical or ordinal column; `None` for numbers.
    pub fn levels(&self) -> Option<&[String]> {
        match self {
            ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => Some(levels),
            ColumnKind::Integer { .. } | ColumnKind::Number { .. } => None,
        }
    }

    /// The range of an integer column.
    pub fn integer_range(&self) -> Option<(i64, i64)> {
        match self {
            ColumnKind::Integer { min, max, .. } => Some((*min, *max)),
            _ => None,
        }
    }

    /// Whether `value` (a level index, integer or number) is one this column holds.
    pub fn admits(&self, value: f64) -> bool {
        match self {
            ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => {
                value >= 0.0 && value.fract() == 0.0 && (value as usize) < levels.len()
            }
            ColumnKind::Integer { min, max, .. } => {
                value.fract() == 0.0 && value >= *min as f64 && value <= *max as f64
            }
            ColumnKind::Number { min, max } => {
                value.is_finite() && min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }

    /// A sentence fragment telling a user what this kind accepts.
    pub fn expected(&self) -> String {
        match self {
            ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => {
                format!("one of {}", levels.join(", "))
            }
            ColumnKind::Integer { min, max, suffix } => match suffix {
                Some(suffix) => {
                    let example = (min + (max - min) * 2 / 3).clamp(*min, *max);
                    format!("an integer from {min} to {max} (\"{example}\" or \"{example} {suffix}\")")
                }
                None => format!("an integer from {min} to {max}"),
            },
            ColumnKind::Number { min, max } => match (min, max) {
                (Some(min), Some(max)) => format!("a number from {min} to {max}"),
                (Some(min), None) => format!("a number of at least {min}"),
                (None, Some(max)) => format!("a number of at most {max}"),
                (None, None) => "a finite number".to_string(),
            },
        }
    }

    /// The part of the spec's fingerprint this kind contributes. Ordinal levels, two-level
    /// categorical columns and integers without extras keep the form fingerprints had
    /// before dataset files (`a|b|c`, `1..=10`), so the shipped dataset's snapshots and
    /// models keep their hashes; a categorical column of three or more levels encodes
    /// differently from an ordinal one and is told apart.
    fn fingerprint(&self) -> String {
        match self {
            ColumnKind::Ordinal { levels } => levels.join("|"),
            ColumnKind::Categorical { levels } if levels.len() == 2 => levels.join("|"),
            ColumnKind::Categorical { levels } => format!("categorical({})", levels.join("|")),
            ColumnKind::Integer { min, max, .. } => format!("{min}..={max}"),
            ColumnKind::Number { min, max } => format!("number({min:?},{max:?})"),
        }
    }
}

/// One feature column of the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumn {
    /// The public column name (feature table, snapshots, HTTP API).
    pub name: String,
    /// Another CSV header accepted for this column (the published file's own header).
    pub header: Option<String>,
    pub description: Option<String>,
    pub kind: ColumnKind,
    /// Whether a value may be missing.
    pub nullable: bool,
}

/// A value that does not fit its column: what was given and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not {expected}")]
pub struct CellError {
    pub given: String,
    pub expected: String,
}

/// The whole dataset spec.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// Dataset name, used in storage paths (`dataset=<name>`) and tracker names.
    pub name: String,
    pub features: Vec<FeatureColumn>,
    /// The label column name.
    pub label: String,
    /// Another CSV header accepted for the label.
    pub label_header: Option<String>,
    /// The label's classes, in the order class indices refer to.
    pub classes: Vec<String>,
    /// The fingerprint, computed once (see [`DatasetSpec::spec_hash`]).
    hash: String,
}

static ACTIVE: OnceLock<DatasetSpec> = OnceLock::new();
static SHIPPED: OnceLock<DatasetSpec> = OnceLock::new();

/// The process's dataset spec: the one [`activate`] installed, else the shipped one.
pub fn spec() -> &'static DatasetSpec {
    ACTIVE.get_or_init(|| shipped_spec().clone())
}

/// The shipped mental-health dataset, read from the embedded file once per process.
pub fn shipped_spec() -> &'static DatasetSpec {
    SHIPPED.get_or_init(|| parse_dataset(SHIPPED_DATASET).expect("the shipped dataset file is valid"))
}

/// Why a spec could not become the process's spec.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    #[error("this process already uses dataset {active} ({active_hash}); it cannot switch to {given} ({given_hash})")]
    AlreadyActive {
        active: String,
        active_hash: String,
        given: String,
        given_hash: String,
    },
    #[error(transparent)]
    File(#[from] DatasetFileError),
}

/// Makes `spec` the process's spec. Done once at start, before anything reads [`spec`];
/// activating the spec already active is a no-op, any other is refused.
pub fn activate(candidate: DatasetSpec) -> Result<&'static DatasetSpec, ActivateError> {
    candidate.check_supported()?;
    let active = ACTIVE.get_or_init(|| candidate.clone());
    if active.hash == candidate.hash {
        Ok(active)
    } else {
        Err(ActivateError::AlreadyActive {
            active: active.name.clone(),
            active_hash: active.hash[..12].to_string(),
            given: candidate.name,
            given_hash: candidate.hash[..12].to_string(),
        })
    }
}

impl DatasetSpec {
    /// Builds a spec from its parts and computes its fingerprint.
    pub fn new(
        name: String,
        features: Vec<FeatureColumn>,
        label: String,
        label_header: Option<String>,
        classes: Vec<String>,
    ) -> DatasetSpec {
        let mut spec = DatasetSpec {
            name,
            features,
            label,
            label_header,
            classes,
            hash: String::new(),
        };
        spec.hash = spec.fingerprint();
        spec
    }

    /// A copy of the shipped mental-health dataset ([`shipped_spec`]).
    pub fn shipped() -> DatasetSpec {
        shipped_spec().clone()
    }

    /// Whether this is the shipped dataset (same fingerprint).
    pub fn is_shipped(&self) -> bool {
        self.hash == shipped_spec().hash
    }

    /// Reads and checks a dataset file.
    pub fn from_file(path: &std::path::Path) -> Result<DatasetSpec, DatasetFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| DatasetFileError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        parse_dataset(&text).map_err(|e| e.in_file(path))
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Index of a feature column by its public name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|c| c.name == name)
    }

    /// Parses one raw cell of feature column `col_idx` into its value ([`crate::row`]):
    /// the level index for categorical and ordinal columns, the number itself for integers
    /// and numbers, [`MISSING`] for an empty cell or `NA` in a nullable column. Surrounding
    /// white space is ignored and levels match without regard to case ("yes " is YES).
    pub fn parse_feature(&self, col_idx: usize, raw: &str) -> Result<f64, CellError> {
        let column = &self.features[col_idx];
        let value = raw.trim();
        let parsed = match &column.kind {
            ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => {
                level_index(levels, value).map(f64::from)
            }
            ColumnKind::Integer { min, max, suffix } => parse_integer(value, suffix.as_deref())
                .filter(|n| (*min..=*max).contains(n))
                .map(|n| n as f64),
            ColumnKind::Number { .. } => value.parse::<f64>().ok().filter(|v| column.kind.admits(*v)),
        };
        match parsed {
            Some(v) => Ok(v),
            None if is_missing_text(value) => self.missing(col_idx, raw),
            None => Err(CellError {
                given: raw.to_string(),
                expected: column.kind.expected(),
            }),
        }
    }

    /// The value of a missing cell of column `col_idx` (`given` as it came: an empty cell,
    /// `NA`, `null`): [`MISSING`] where the dataset allows it, else an error saying the
    /// column needs a value.
    pub fn missing(&self, col_idx: usize, given: &str) -> Result<f64, CellError> {
        let column = &self.features[col_idx];
        if column.nullable {
            Ok(MISSING)
        } else {
            Err(CellError {
                given: given.to_string(),
                expected: format!("{} (column {} cannot be missing)", column.kind.expected(), column.name),
            })
        }
    }

    /// Parses a label into its class index (trimmed, case-insensitive).
    pub fn parse_class(&self, raw: &str) -> Result<u8, CellError> {
        level_index(&self.classes, raw.trim())
            .and_then(|i| u8::try_from(i).ok())
            .ok_or_else(|| CellError {
                given: raw.to_string(),
                expected: format!("one of {}", self.classes.join(", ")),
            })
    }

    /// Checks a value produced elsewhere (a database, a generator, a JSON body) against
    /// column `col_idx`: a level index or integer in range, a finite number within its
    /// bounds, or [`MISSING`] where the column is nullable.
    pub fn check_value(&self, col_idx: usize, value: f64) -> Result<f64, CellError> {
        let column = &self.features[col_idx];
        if value.is_nan() {
            return self.missing(col_idx, "a missing value");
        }
        if column.kind.admits(value) {
            Ok(value)
        } else {
            Err(CellError {
                given: value.to_string(),
                expected: column.kind.expected(),
            })
        }
    }

    /// The text form of a value of feature column `col_idx`: the level, the number in its
    /// shortest exact decimal form, or the empty string for a missing value.
    pub fn feature_text(&self, col_idx: usize, value: f64) -> String {
        if value.is_nan() {
            return String::new();
        }
        match self.features[col_idx].kind.levels() {
            Some(levels) => levels[value as usize].clone(),
            None => value.to_string(),
        }
    }

    /// A stable fingerprint of everything in the spec that changes what data means (names,
    /// kinds, levels, ranges, nullability, classes; not headers or descriptions).
    /// Snapshots, models and databases carry it, so data and models of another spec are
    /// recognised.
    pub fn spec_hash(&self) -> String {
        self.hash.clone()
    }

    fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.name.as_bytes());
        for column in &self.features {
            hasher.update(b"\n");
            hasher.update(column.name.as_bytes());
            hasher.update(b":");
            hasher.update(column.kind.fingerprint().as_bytes());
            if column.nullable {
                hasher.update(b"?");
            }
        }
        hasher.update(b"\n");
        hasher.update(self.label.as_bytes());
        hasher.update(b":");
        hasher.update(self.classes.join("|").as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Refuses a valid dataset whose columns this version cannot carry through the loop:
    /// values travel as `f64`, so integers must be exact in one (within ±2⁵³), and class
    /// indices as one byte (at most 256 classes).
    pub fn check_supported(&self) -> Result<(), DatasetFileError> {
        const EXACT: i64 = 1 << 53;
        let mut problems = Vec::new();
        for (i, column) in self.features.iter().enumerate() {
            let path = format!("features[{i}] ({})", column.name);
            if let ColumnKind::Integer { min, max, .. } = &column.kind {
                if *min < -EXACT || *max > EXACT {
                    problems.push((
                        format!("{path}.min/max"),
                        format!(
                            "integers from {min} to {max}: driftloop carries integers within ±2^53 (9007199254740992)"
                        ),
                    ));
                }
            }
        }
        if self.classes.len() > 256 {
            problems.push((
                "label.classes".into(),
                format!("{} classes: driftloop carries at most 256", self.classes.len()),
            ));
        }
        DatasetFileError::from_problems(problems)
    }
}

/// A missing feature value: NaN, which no column otherwise holds (numbers are finite).
pub const MISSING: f64 = f64::NAN;

/// Whether a CSV cell (trimmed) stands for a missing value: empty, or `NA`.
fn is_missing_text(value: &str) -> bool {
    value.is_empty() || value == "NA"
}

/// Whether two rows of values are the same, a missing value equal to a missing value.
pub fn same_values(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

/// The index of the level `value` names: the exact level first, else the one level equal
/// to it in any case (a dataset file cannot declare two levels that differ only by case).
pub(crate) fn level_index(levels: &[String], value: &str) -> Option<u32> {
    levels
        .iter()
        .position(|level| level == value)
        .or_else(|| levels.iter().position(|level| level.eq_ignore_ascii_case(value)))
        .and_then(|i| u32::try_from(i).ok())
}

/// Parses a whole number, optionally followed by `suffix` ("7", "7 From 10", "7from10";
/// any case, any white space between the suffix's words).
fn parse_integer(value: &str, suffix: Option<&str>) -> Option<i64> {
    let number = match suffix.and_then(|suffix| strip_suffix_loose(value, suffix)) {
        Some(number) => number.trim(),
        None => value,
    };
    number.parse().ok()
}

/// `value` without a trailing `suffix`, comparing its words in any ASCII case with any
/// white space before and between them; `None` when `value` does not end with it.
fn strip_suffix_loose<'a>(value: &'a str, suffix: &str) -> Option<&'a str> {
    let mut rest = value;
    let mut matched = false;
    for word in suffix.split_whitespace().rev() {
        rest = rest.trim_end();
        let cut = rest.len().checked_sub(word.len())?;
        if !rest.is_char_boundary(cut) || !rest[cut..].eq_ignore_ascii_case(word) {
            return None;
        }
        rest = &rest[..cut];
        matched = true;
    }
    matched.then_some(rest)
}

#[cfg(test)]
mod tests;
