//! A profile of feature rows: all that a drift check needs of them. Per feature column,
//! the count of each level (or each value of a narrow integer column) and of missing
//! values; for a continuous column (numbers, wide integers), its distinct values with the
//! count of each; and the count of each class of the label. A profile is as large as the
//! columns' value sets, not as the rows, so it can be counted where the rows are (the
//! database's aggregate query), kept beside a snapshot (its manifest), and compared without
//! reading a row.

use serde::{Deserialize, Serialize};

use crate::spec::{DatasetSpec, FeatureColumn};

/// Integer columns with at most this many values are counted value by value (as the
/// shipped dataset's 1–10 scores); wider ones are profiled like numbers.
pub const MAX_COUNTED_VALUES: i64 = 32;

/// How a feature column is profiled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Counting<'a> {
    /// By level, in the spec's order.
    Levels(&'a [String]),
    /// By integer value, `min..=max`.
    Values { min: i64, max: i64 },
    /// By distinct value.
    Continuous,
}

impl Counting<'_> {
    /// How many counts a counted column has (`None` for a continuous one).
    pub fn n_counts(&self) -> Option<usize> {
        match self {
            Counting::Levels(levels) => Some(levels.len()),
            Counting::Values { min, max } => Some((max - min + 1) as usize),
            Counting::Continuous => None,
        }
    }
}

/// How `column` is profiled.
pub fn counting(column: &FeatureColumn) -> Counting<'_> {
    match (column.kind.levels(), column.kind.integer_range()) {
        (Some(levels), _) => Counting::Levels(levels),
        (None, Some((min, max))) if max - min < MAX_COUNTED_VALUES => Counting::Values { min, max },
        (None, _) => Counting::Continuous,
    }
}

/// One feature column's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ColumnProfile {
    /// The count of each level or value, in the order of [`Counting`], and of missing values.
    Counted {
        name: String,
        counts: Vec<u64>,
        missing: u64,
    },
    /// The distinct non-missing values in ascending order, the count of each, and the
    /// count of missing values.
    Continuous {
        name: String,
        values: Vec<f64>,
        counts: Vec<u64>,
        missing: u64,
    },
}

impl ColumnProfile {
    pub fn name(&self) -> &str {
        match self {
            ColumnProfile::Counted { name, .. } | ColumnProfile::Continuous { name, .. } => name,
        }
    }

    /// Values counted, the missing ones included.
    pub fn n_values(&self) -> u64 {
        match self {
            ColumnProfile::Counted { counts, missing, .. } | ColumnProfile::Continuous { counts, missing, .. } => {
                counts.iter().sum::<u64>() + missing
            }
        }
    }
}

/// The profile of a set of feature rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Rows profiled. A column's counts may add up to fewer: a missing value in a column
    /// that cannot miss one (a file's frame) is not counted.
    pub rows: u64,
    /// One per feature column, in the spec's order.
    pub columns: Vec<ColumnProfile>,
    /// The count of each class, in the spec's order.
    pub label: Vec<u64>,
}

impl Profile {
    /// The profile of no rows.
    pub fn empty(spec: &DatasetSpec) -> Profile {
        let columns = spec
            .features
            .iter()
            .map(|column| match counting(column).n_counts() {
                Some(n) => ColumnProfile::Counted {
                    name: column.name.clone(),
                    counts: vec![0; n],
                    missing: 0,
                },
                None => ColumnProfile::Continuous {
                    name: column.name.clone(),
                    values: Vec::new(),
                    counts: Vec::new(),
                    missing: 0,
                },
            })
            .collect();
        Profile {
            rows: 0,
            columns,
            label: vec![0; spec.classes.len()],
        }
    }

    /// Checks that the profile has the shape `spec` gives it: every column named and
    /// profiled as the spec says, no column or label counting more than `rows`, continuous
    /// values finite, ascending and distinct, and no missing value in a column that cannot
    /// miss one. A profile read from storage is checked before it is compared.
    pub fn check(&self, spec: &DatasetSpec) -> Result<(), String> {
        if self.columns.len() != spec.features.len() {
            return Err(format!(
                "{} columns, the dataset has {}",
                self.columns.len(),
                spec.features.len()
            ));
        }
        if self.label.len() != spec.classes.len() {
            return Err(format!(
                "{} label counts, the dataset has {} classes",
                self.label.len(),
                spec.classes.len()
            ));
        }
        if self.label.iter().sum::<u64>() > self.rows {
            return Err(format!("the label counts add up to more than {} rows", self.rows));
        }
        for (profile, column) in self.columns.iter().zip(&spec.features) {
            let problem = |what: &str| Err(format!("column {}: {what}", column.name));
            if profile.name() != column.name {
                return problem(&format!("named {:?} in the profile", profile.name()));
            }
            if profile.n_values() > self.rows {
                return problem(&format!(
                    "counts add up to {}, more than {} rows",
                    profile.n_values(),
                    self.rows
                ));
            }
            match (profile, counting(column).n_counts()) {
                (ColumnProfile::Counted { counts, missing, .. }, Some(n)) => {
                    if counts.len() != n {
                        return problem(&format!("{} counts, expected {n}", counts.len()));
                    }
                    if *missing > 0 && !column.nullable {
                        return problem("missing values in a column that has none");
                    }
                }
                (
                    ColumnProfile::Continuous {
                        values,
                        counts,
                        missing,
                        ..
                    },
                    None,
                ) => {
                    if values.len() != counts.len() {
                        return problem("as many values as counts are needed");
                    }
                    if values.iter().any(|v| !v.is_finite()) || values.windows(2).any(|w| w[0] >= w[1]) {
                        return problem("values must be finite, ascending and distinct");
                    }
                    if *missing > 0 && !column.nullable {
                        return problem("missing values in a column that has none");
                    }
                }
                _ => return problem("profiled as another kind of column"),
            }
        }
        Ok(())
    }
}

/// Distinct values with their counts, from values sorted ascending.
pub fn distinct_counts(sorted: &[f64]) -> (Vec<f64>, Vec<u64>) {
    let mut values: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for &v in sorted {
        match values.last() {
            Some(&last) if last == v => *counts.last_mut().expect("a count per value") += 1,
            _ => {
                values.push(v);
                counts.push(1);
            }
        }
    }
    (values, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_follow_the_spec_and_add_up() {
        let spec = crate::spec();
        let mut profile = Profile::empty(spec);
        assert_eq!(profile.check(spec), Ok(()));
        profile.label[0] = 1;
        assert!(profile.check(spec).unwrap_err().contains("label counts"));
        profile.rows = 1;
        assert_eq!(profile.check(spec), Ok(()));
        let counted = |profile: &mut Profile, count: u64, missing_count: u64| {
            let ColumnProfile::Counted { counts, missing, .. } = &mut profile.columns[0] else {
                panic!("the shipped dataset's columns are counted")
            };
            counts[0] = count;
            *missing = missing_count;
        };
        counted(&mut profile, 2, 0);
        let err = profile.check(spec).unwrap_err();
        assert!(err.contains("counts add up to 2, more than 1 rows"), "{err}");
        counted(&mut profile, 0, 1);
        let err = profile.check(spec).unwrap_err();
        assert!(err.contains("missing values in a column that has none"), "{err}");
        profile.columns.pop();
        assert!(profile.check(spec).unwrap_err().contains("columns, the dataset has"));
        assert_eq!(
            distinct_counts(&[1.0, 1.0, 2.5, 3.0, 3.0]),
            (vec![1.0, 2.5, 3.0], vec![2, 1, 2])
        );
        assert_eq!(distinct_counts(&[]), (vec![], vec![]));
    }
}
