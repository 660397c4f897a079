//! Drift statistics, pure: two frames of feature rows in (reference and current), a drift
//! report out. Per categorical column, over the union of categories seen in either frame:
//! counts, the population stability index (PSI) and a chi-square test of homogeneity on the
//! 2×k table; then the decision for each column and for the dataset. The label column is
//! tested the same way and reported on its own. Continuous columns (numbers, wide
//! integers) are binned at the reference's deciles and tested with two-sample
//! Kolmogorov-Smirnov too ([`continuous`]); a nullable column's missing values are a
//! category (`missing`) of their own.
//!
//! Counts come from one lazy Polars query per frame: for every column and level, a
//! vectorized comparison of the column's codes with the level, summed, all in one parallel
//! `select`. The p-value is the chi-square survival function
//! from statrs.
//!
//! Feature `frames` (on by default) is the Polars side: profiles of frames and `compare`.
//! Without it the crate is the statistics of profiles, the report page and the charts, for
//! the predict function's dashboard, which links no Polars.

pub mod charts;
pub mod continuous;
pub mod html;
pub mod performance;

pub use continuous::KsTest;

use driftloop_core::profile::{counting, ColumnProfile, Counting, Profile};
use driftloop_core::spec;
#[cfg(feature = "frames")]
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{frame} frame: column {column:?} is missing")]
    MissingColumn { frame: &'static str, column: String },
    #[error("{frame} frame: column {column:?} has type {dtype}, expected {expected}")]
    WrongType {
        frame: &'static str,
        column: String,
        dtype: String,
        expected: String,
    },
    #[error("invalid drift configuration: {0}")]
    Config(String),
    #[cfg(feature = "frames")]
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
}

/// What counts as drift. The defaults were chosen on the committed fixtures and on
/// baseline samples (see the tests of this crate and the README):
/// - `alpha` 0.05, Bonferroni-corrected over the 17 feature columns: a column's
///   chi-square test flags it at p < 0.0029, so a sample from the reference distribution
///   flags a column about once in 20 comparisons, not once per comparison.
/// - `psi_threshold` 0.25, the usual "significant shift" level. Below a few hundred rows,
///   PSI of a 10-level score column is noisy (an empty bin costs about 0.1 through the
///   epsilon), which is why PSI alone needs this high a level.
/// - `drift_share` 0.15: at least 3 of the 17 columns must drift. The covariate-shift
///   fixture moves exactly 3 columns and is caught; a baseline sample rarely has 2 flagged.
/// - `psi_min_rows` 100: PSI counts toward a verdict only when both sides have at least
///   this many rows; below, a column drifts on its test alone (chi-square or KS, which
///   account for the rows). PSI has no notion of sample size: 20 rows drawn from the
///   reference's own distribution reach 0.25 in enough columns to call drift every time,
///   50 rows in 5 of 12 samples (README, "Drift detection"), and a check just after a
///   retraining often has that few.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftConfig {
    pub alpha: f64,
    pub psi_threshold: f64,
    pub drift_share: f64,
    /// Replaces a zero proportion in PSI (Evidently's default).
    pub psi_epsilon: f64,
    /// Rows each side needs for PSI to count (reports written before it was set: 0, PSI
    /// always counted).
    #[serde(default)]
    pub psi_min_rows: u64,
}

/// The default of [`DriftConfig::psi_min_rows`].
pub const DEFAULT_PSI_MIN_ROWS: u64 = 100;

impl Default for DriftConfig {
    fn default() -> DriftConfig {
        DriftConfig {
            alpha: 0.05,
            psi_threshold: 0.25,
            drift_share: 0.15,
            psi_epsilon: 1e-4,
            psi_min_rows: DEFAULT_PSI_MIN_ROWS,
        }
    }
}

impl DriftConfig {
    pub fn validate(&self) -> Result<()> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let in_unit = |x: f64| positive(x) && x <= 1.0;
        if !in_unit(self.alpha)
            || !in_unit(self.drift_share)
            || !positive(self.psi_threshold)
            || !in_unit(self.psi_epsilon)
        {
            return Err(Error::Config(format!(
                "alpha, drift_share and psi_epsilon must be in (0, 1], psi_threshold above 0: {self:?}"
            )));
        }
        Ok(())
    }
}

/// One category's counts in both frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub value: String,
    pub reference_count: u64,
    pub current_count: u64,
}

/// One column's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub name: String,
    /// Values counted in each frame (the missing ones too where the column is nullable).
    pub n_reference: u64,
    pub n_current: u64,
    /// Categories seen in either frame, in the spec's order.
    pub categories: Vec<CategoryCount>,
    pub psi: f64,
    pub chi2: f64,
    pub dof: u32,
    pub p_value: f64,
    pub drifted: bool,
    /// A continuous column's bin edges, from the reference ([`continuous`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<f64>>,
    /// A continuous column's Kolmogorov-Smirnov test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<KsTest>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Dataset drift: the share of drifted feature columns reached `drift_share`.
    pub drift: bool,
    /// Share of feature columns that drifted.
    pub drift_share: f64,
    pub n_reference: u64,
    pub n_current: u64,
    pub columns: Vec<ColumnDrift>,
    /// The label (or prediction) column, tested at `alpha` and not counted in the share.
    pub label: ColumnDrift,
    pub config: DriftConfig,
}

impl DriftReport {
    /// Names of the drifted feature columns.
    pub fn drifted_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.name.as_str())
            .collect()
    }
}

/// A counted column: its name and its categories with the code each has in a frame (the
/// codes are read by the frames' side only).
#[cfg_attr(not(feature = "frames"), allow(dead_code))]
struct Levels {
    name: &'static str,
    values: Vec<String>,
    /// Whether the column is an Enum compared by its physical code (else by its integer value).
    is_enum: bool,
    codes: Vec<i64>,
}

#[cfg(feature = "frames")]
mod frame_profile;
#[cfg(feature = "frames")]
pub use frame_profile::{profile, profile_columns, StoredTexts};

/// The category of missing values in a nullable column.
pub const MISSING_CATEGORY: &str = "missing";

/// The counted feature columns (`None` for a continuous one) and the label.
fn spec_levels() -> (Vec<Option<Levels>>, Levels) {
    let s = spec();
    let features = s
        .features
        .iter()
        .map(|c| match counting(c) {
            Counting::Levels(levels) => Some(Levels {
                name: &c.name,
                values: levels.to_vec(),
                is_enum: true,
                codes: (0..levels.len() as i64).collect(),
            }),
            Counting::Values { min, max } => {
                let values: Vec<i64> = (min..=max).collect();
                Some(Levels {
                    name: &c.name,
                    values: values.iter().map(|v| v.to_string()).collect(),
                    is_enum: false,
                    codes: values,
                })
            }
            Counting::Continuous => None,
        })
        .collect();
    let label = Levels {
        name: &s.label,
        values: s.classes.clone(),
        is_enum: true,
        codes: (0..s.classes.len() as i64).collect(),
    };
    (features, label)
}

/// PSI, chi-square and verdict of one column from its counts. Defined for every input:
/// an empty frame or a single category gives PSI 0, chi2 0, p 1 (no evidence of drift).
pub fn column_drift(
    name: &str,
    values: &[String],
    reference: &[u64],
    current: &[u64],
    config: &DriftConfig,
    alpha: f64,
) -> ColumnDrift {
    let categories: Vec<CategoryCount> = values
        .iter()
        .zip(reference.iter().zip(current))
        .filter(|(_, (r, c))| **r + **c > 0)
        .map(|(value, (r, c))| CategoryCount {
            value: value.clone(),
            reference_count: *r,
            current_count: *c,
        })
        .collect();
    let n_reference: u64 = categories.iter().map(|c| c.reference_count).sum();
    let n_current: u64 = categories.iter().map(|c| c.current_count).sum();
    let mut result = ColumnDrift {
        name: name.to_string(),
        n_reference,
        n_current,
        categories,
        psi: 0.0,
        chi2: 0.0,
        dof: 0,
        p_value: 1.0,
        drifted: false,
        edges: None,
        ks: None,
    };
    if n_reference == 0 || n_current == 0 || result.categories.len() < 2 {
        return result;
    }
    let (n_ref, n_cur) = (n_reference as f64, n_current as f64);
    let total = n_ref + n_cur;
    for category in &result.categories {
        let (r, c) = (category.reference_count as f64, category.current_count as f64);
        let p_ref = if r > 0.0 { r / n_ref } else { config.psi_epsilon };
        let p_cur = if c > 0.0 { c / n_cur } else { config.psi_epsilon };
        result.psi += (p_cur - p_ref) * (p_cur / p_ref).ln();
        let column_total = r + c;
        let expected_ref = n_ref * column_total / total;
        let expected_cur = n_cur * column_total / total;
        result.chi2 += (r - expected_ref).powi(2) / expected_ref + (c - expected_cur).powi(2) / expected_cur;
    }
    result.dof = result.categories.len() as u32 - 1;
    result.p_value = ChiSquared::new(result.dof as f64)
        .map(|d| d.sf(result.chi2))
        .unwrap_or(1.0);
    result.drifted = result.p_value < alpha || psi_drifted(&result, config);
    result
}

/// Whether a column's PSI alone makes it drift: at or above the threshold, with enough
/// rows on both sides for PSI to mean something ([`DriftConfig::psi_min_rows`]).
fn psi_drifted(column: &ColumnDrift, config: &DriftConfig) -> bool {
    column.psi >= config.psi_threshold
        && column.n_reference >= config.psi_min_rows
        && column.n_current >= config.psi_min_rows
}

/// One continuous column's comparison ([`continuous`]): PSI and chi-square on the
/// reference's decile bins (and the missing category of a nullable column), and the KS
/// test of the values. It drifts when the KS p-value is below `alpha` or PSI reaches the
/// threshold; the chi-square on the bins is reported, not decided on (KS is the sharper
/// test of the same values), while PSI sees a change in the share of missing values.
fn continuous_drift(
    name: &str,
    nullable: bool,
    reference: (&[f64], &[u64], u64),
    current: (&[f64], &[u64], u64),
    config: &DriftConfig,
    alpha: f64,
) -> ColumnDrift {
    let edges = continuous::decile_edges_of_counts(reference.0, reference.1);
    let mut names = continuous::bin_names(&edges);
    let mut reference_counts = continuous::bin_counts_of_counts(&edges, reference.0, reference.1);
    let mut current_counts = continuous::bin_counts_of_counts(&edges, current.0, current.1);
    if nullable {
        names.push(MISSING_CATEGORY.into());
        reference_counts.push(reference.2);
        current_counts.push(current.2);
    }
    let mut result = column_drift(name, &names, &reference_counts, &current_counts, config, alpha);
    result.ks = continuous::ks_2samp_of_counts((reference.0, reference.1), (current.0, current.1));
    result.drifted = result.ks.as_ref().is_some_and(|ks| ks.p_value < alpha) || psi_drifted(&result, config);
    result.edges = Some(edges);
    result
}

/// Compares `current` with `reference`, column by column, for every feature column of the
/// spec and the label (see [`profile`] for what the frames need).
#[cfg(feature = "frames")]
pub fn compare(reference: &DataFrame, current: &DataFrame, config: &DriftConfig) -> Result<DriftReport> {
    // A bad configuration is refused before either frame is counted.
    config.validate()?;
    compare_profiles(&profile(reference, "reference")?, &profile(current, "current")?, config)
}

/// Compares the profiles of two sets of feature rows: the same report [`compare`] makes
/// of the rows themselves. Both profiles must have the spec's shape ([`Profile::check`]).
pub fn compare_profiles(reference: &Profile, current: &Profile, config: &DriftConfig) -> Result<DriftReport> {
    config.validate()?;
    let s = spec();
    for (which, profile) in [("reference", reference), ("current", current)] {
        profile
            .check(s)
            .map_err(|e| Error::Config(format!("{which} profile does not fit dataset {}: {e}", s.name)))?;
    }
    let (features, label) = spec_levels();
    let corrected_alpha = config.alpha / features.len() as f64;
    let mut columns = Vec::with_capacity(features.len());
    for ((levels, column), (r, c)) in features
        .iter()
        .zip(&s.features)
        .zip(reference.columns.iter().zip(&current.columns))
    {
        columns.push(match (levels, r, c) {
            (
                Some(levels),
                ColumnProfile::Counted {
                    counts: r,
                    missing: r_missing,
                    ..
                },
                ColumnProfile::Counted {
                    counts: c,
                    missing: c_missing,
                    ..
                },
            ) => {
                if column.nullable {
                    let mut values = levels.values.clone();
                    values.push(MISSING_CATEGORY.into());
                    let r: Vec<u64> = r.iter().copied().chain([*r_missing]).collect();
                    let c: Vec<u64> = c.iter().copied().chain([*c_missing]).collect();
                    column_drift(levels.name, &values, &r, &c, config, corrected_alpha)
                } else {
                    column_drift(levels.name, &levels.values, r, c, config, corrected_alpha)
                }
            }
            (
                None,
                ColumnProfile::Continuous {
                    values: r_values,
                    counts: r_counts,
                    missing: r_missing,
                    ..
                },
                ColumnProfile::Continuous {
                    values: c_values,
                    counts: c_counts,
                    missing: c_missing,
                    ..
                },
            ) => continuous_drift(
                &column.name,
                column.nullable,
                (r_values, r_counts, *r_missing),
                (c_values, c_counts, *c_missing),
                config,
                corrected_alpha,
            ),
            _ => unreachable!("checked profiles have the spec's shape"),
        });
    }
    let label = column_drift(
        label.name,
        &label.values,
        &reference.label,
        &current.label,
        config,
        config.alpha,
    );
    let n_drifted = columns.iter().filter(|c| c.drifted).count();
    let drift_share = n_drifted as f64 / columns.len() as f64;
    Ok(DriftReport {
        drift: drift_share >= config.drift_share,
        drift_share,
        n_reference: reference.rows,
        n_current: current.rows,
        columns,
        label,
        config: *config,
    })
}

#[cfg(all(test, feature = "frames"))]
mod tests;
