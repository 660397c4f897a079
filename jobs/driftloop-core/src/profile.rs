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

    /// Adds the profile of other rows of the same dataset (profiles are additive: the
    /// profile of two sets of rows is the sum of theirs). Both must have the spec's shape.
    pub fn add(&mut self, other: &Profile) -> Result<(), String> {
        if self.columns.len() != other.columns.len() || self.label.len() != other.label.len() {
            return Err("profiles of different shapes".into());
        }
        self.rows += other.rows;
        add_counts(&mut self.label, &other.label);
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            match (mine, theirs) {
                (
                    ColumnProfile::Counted { counts, missing, .. },
                    ColumnProfile::Counted {
                        counts: more,
                        missing: more_missing,
                        ..
                    },
                ) if counts.len() == more.len() => {
                    add_counts(counts, more);
                    *missing += more_missing;
                }
                (
                    ColumnProfile::Continuous {
                        values,
                        counts,
                        missing,
                        ..
                    },
                    ColumnProfile::Continuous {
                        values: more_values,
                        counts: more_counts,
                        missing: more_missing,
                        ..
                    },
                ) => {
                    let (merged_values, merged_counts) = merge_counts((values, counts), (more_values, more_counts));
                    *values = merged_values;
                    *counts = merged_counts;
                    *missing += more_missing;
                }
                (mine, _) => return Err(format!("column {} is profiled differently", mine.name())),
            }
        }
        Ok(())
    }
}

fn add_counts(counts: &mut [u64], more: &[u64]) {
    counts.iter_mut().zip(more).for_each(|(c, m)| *c += m);
}

/// Two ascending lists of distinct values with counts, merged into one.
fn merge_counts(a: (&[f64], &[u64]), b: (&[f64], &[u64])) -> (Vec<f64>, Vec<u64>) {
    let (mut values, mut counts) = (Vec::with_capacity(a.0.len() + b.0.len()), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.0.len() || j < b.0.len() {
        let take_a = j == b.0.len() || (i < a.0.len() && a.0[i] <= b.0[j]);
        let take_b = i == a.0.len() || (j < b.0.len() && b.0[j] <= a.0[i]);
        let value = if take_a { a.0[i] } else { b.0[j] };
        let mut count = 0;
        if take_a {
            count += a.1[i];
            i += 1;
        }
        if take_b {
            count += b.1[j];
            j += 1;
        }
        values.push(value);
        counts.push(count);
    }
    (values, counts)
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

    #[test]
    fn profiles_add_up() {
        let spec = crate::spec();
        let mut a = Profile::empty(spec);
        let mut b = Profile::empty(spec);
        a.rows = 2;
        a.label[0] = 2;
        b.rows = 1;
        b.label[3] = 1;
        a.add(&b).unwrap();
        assert_eq!((a.rows, a.label.clone()), (3, vec![2, 0, 0, 1]));
        assert_eq!(
            merge_counts((&[1.0, 3.0, 4.0], &[2, 1, 1]), (&[0.5, 3.0, 9.0], &[1, 5, 2])),
            (vec![0.5, 1.0, 3.0, 4.0, 9.0], vec![1, 2, 6, 1, 2])
        );
        assert_eq!(merge_counts((&[], &[]), (&[2.0], &[3])), (vec![2.0], vec![3]));
        b.columns.pop();
        assert!(a.add(&b).is_err());
    }
}
