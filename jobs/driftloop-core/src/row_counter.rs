//! Counting rows one at a time into a [`Profile`], for rows read from a file one by one.

use crate::profile::{counting, distinct_counts, ColumnProfile, Counting, Profile};
use crate::spec::DatasetSpec;

/// Counts rows one at a time into a [`Profile`], for rows read from a file one by one: a
/// counted column's values go straight into their counts, a continuous column's are kept
/// and counted at the end. Values are as a [`crate::FeatureRow`] holds them, checked
/// against the spec already.
pub struct RowCounter<'a> {
    spec: &'a DatasetSpec,
    profile: Profile,
    /// Per feature column: its counting's smallest value (0 for levels), or `None` for a
    /// continuous column.
    offsets: Vec<Option<i64>>,
    /// Per feature column: a continuous column's values so far.
    continuous: Vec<Vec<f64>>,
}

impl<'a> RowCounter<'a> {
    pub fn new(spec: &'a DatasetSpec) -> RowCounter<'a> {
        let offsets = spec
            .features
            .iter()
            .map(|column| match counting(column) {
                Counting::Levels(_) => Some(0),
                Counting::Values { min, .. } => Some(min),
                Counting::Continuous => None,
            })
            .collect();
        RowCounter {
            spec,
            profile: Profile::empty(spec),
            offsets,
            continuous: vec![Vec::new(); spec.features.len()],
        }
    }

    /// Counts one row: its feature values in spec order (NaN for a missing one) and its
    /// class index.
    pub fn add(&mut self, features: &[f64], label: u8) {
        self.add_labels(label, 1);
        for (c, &value) in features.iter().enumerate() {
            self.add_cells(c, value, 1);
        }
    }

    /// Counts `times` rows of class `label`, for a caller that counts a column at a time:
    /// each of those rows' cells is then counted with [`RowCounter::add_cells`].
    pub fn add_labels(&mut self, label: u8, times: u64) {
        self.profile.rows += times;
        self.profile.label[label as usize] += times;
    }

    /// Counts `times` cells of feature column `c` holding `value` (NaN: missing).
    pub fn add_cells(&mut self, c: usize, value: f64, times: u64) {
        match (&mut self.profile.columns[c], self.offsets[c]) {
            (ColumnProfile::Counted { missing, .. }, _) | (ColumnProfile::Continuous { missing, .. }, _)
                if value.is_nan() =>
            {
                *missing += times
            }
            (ColumnProfile::Counted { counts, .. }, Some(offset)) => counts[(value as i64 - offset) as usize] += times,
            _ => self.continuous[c].extend(std::iter::repeat_n(value, times as usize)),
        }
    }

    /// The profile of the rows counted.
    pub fn finish(mut self) -> Profile {
        for (column, mut values) in self.profile.columns.iter_mut().zip(self.continuous) {
            if let ColumnProfile::Continuous {
                values: distinct,
                counts,
                ..
            } = column
            {
                values.sort_unstable_by(f64::total_cmp);
                (*distinct, *counts) = distinct_counts(&values);
            }
        }
        debug_assert_eq!(self.profile.check(self.spec), Ok(()));
        self.profile
    }
}
