//! Synthetic rows for demos, tests and benchmarks: class-conditional distributions a
//! model can learn, and drift scenarios that move them. Deterministic per seed on every
//! platform. The shipped mental-health dataset has profiles taken from the published rows
//! (below); any other dataset gets profiles made from its declaration ([`any_dataset`]).

use crate::rng::SplitMix64;
use crate::row::{FeatureRow, LabelSource};
use crate::spec::spec;

pub mod any_dataset;

/// Which distribution rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Class priors and class-conditional values as in the training data (for the shipped
    /// dataset, as in the published rows).
    Baseline,
    /// Some columns move for every row, whatever the class: in the shipped dataset three
    /// symptoms (`sadness`, `sleep_disorder`, `optimism`) of 17, in another the first
    /// quarter of its columns.
    CovariateShift,
    /// The last class becomes far more common (60 %; Depression in the shipped dataset),
    /// the values given the class unchanged.
    LabelShift,
    /// Concept drift: the inputs as in the baseline, the labels from another rule (each
    /// row's class is the next one of the baseline's: the same symptoms, another
    /// diagnosis). Input drift cannot see it; only labels can.
    ConceptShift,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::Baseline,
        Scenario::CovariateShift,
        Scenario::LabelShift,
        Scenario::ConceptShift,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::CovariateShift => "covariate-shift",
            Scenario::LabelShift => "label-shift",
            Scenario::ConceptShift => "concept-shift",
        }
    }

    pub fn parse(raw: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == raw)
    }

    fn class_weights(self) -> [f64; 4] {
        match self {
            // The published dataset's class counts.
            Scenario::Baseline | Scenario::CovariateShift | Scenario::ConceptShift => [30.0, 28.0, 31.0, 31.0],
            Scenario::LabelShift => [10.0, 10.0, 20.0, 60.0],
        }
    }

    /// Distributions that replace the class-conditional ones in this scenario, by column.
    fn overrides(self) -> &'static [(&'static str, &'static [f64])] {
        match self {
            Scenario::Baseline | Scenario::LabelShift | Scenario::ConceptShift => &[],
            Scenario::CovariateShift => &[
                ("sadness", &[1.0, 2.0, 6.0, 12.0]),
                ("sleep_disorder", &[1.0, 2.0, 6.0, 12.0]),
                ("optimism", &[8.0, 8.0, 6.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
            ],
        }
    }
}

/// Generates `n_rows` expert-labelled rows of `scenario` for the active dataset, the same
/// rows for the same seed. Classes are allotted in proportion to the scenario's priors (largest remainder), then
/// shuffled, so 120 baseline rows have the published 30/28/31/31 balance.
pub fn generate(scenario: Scenario, n_rows: usize, seed: u64) -> Vec<FeatureRow> {
    if scenario == Scenario::ConceptShift {
        let n_classes = spec().classes.len() as u8;
        let mut rows = generate(Scenario::Baseline, n_rows, seed);
        for row in &mut rows {
            row.label = (row.label + 1) % n_classes;
        }
        return rows;
    }
    let s = spec();
    if !s.is_shipped() {
        return any_dataset::generate(scenario, n_rows, seed);
    }
    let mut rng = SplitMix64::new(seed);
    let mut classes = allot_classes(&scenario.class_weights(), n_rows);
    for i in (1..classes.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        classes.swap(i, j);
    }
    let overrides: Vec<Option<&[f64]>> = s
        .features
        .iter()
        .map(|c| {
            scenario
                .overrides()
                .iter()
                .find(|(name, _)| *name == c.name.as_str())
                .map(|(_, w)| *w)
        })
        .collect();
    classes
        .into_iter()
        .map(|class| {
            let features = (0..s.n_features())
                .map(|col_idx| {
                    let weights = overrides[col_idx].unwrap_or(CLASS_PROFILES[class as usize][col_idx]);
                    let idx = rng.weighted_index(weights) as f64;
                    match s.features[col_idx].kind.integer_range() {
                        Some((min, _)) => min as f64 + idx,
                        None => idx,
                    }
                })
                .collect();
            FeatureRow::new(features, class, LabelSource::Expert).expect("generated values follow the spec")
        })
        .collect()
}

fn allot_classes(weights: &[f64], n_rows: usize) -> Vec<u8> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / total * n_rows as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let missing = n_rows - counts.iter().sum::<usize>();
    for &class in by_remainder.iter().take(missing) {
        counts[class] += 1;
    }
    counts
        .iter()
        .enumerate()
        .flat_map(|(class, &n)| std::iter::repeat_n(class as u8, n))
        .collect()
}

// Class-conditional weights per feature column, in spec order: the counts of each value
// among the published dataset's 120 rows for that diagnosis, plus one (add-one smoothing,
// so every value stays possible). Frequency columns list Seldom, Sometimes, Usually,
// Most-Often; yes/no columns NO, YES; scores 1 to 10.
static CLASS_PROFILES: [[&[f64]; 17]; 4] = [
    // Normal
    [
        &[7.0, 21.0, 5.0, 1.0],
        &[5.0, 12.0, 12.0, 5.0],
        &[6.0, 17.0, 8.0, 3.0],
        &[14.0, 9.0, 9.0, 2.0],
        &[30.0, 2.0],
        &[29.0, 3.0],
        &[24.0, 8.0],
        &[11.0, 21.0],
        &[17.0, 15.0],
        &[20.0, 12.0],
        &[15.0, 17.0],
        &[25.0, 7.0],
        &[12.0, 20.0],
        &[21.0, 11.0],
        &[1.0, 1.0, 4.0, 6.0, 13.0, 6.0, 6.0, 1.0, 1.0, 1.0],
        &[1.0, 2.0, 3.0, 10.0, 8.0, 5.0, 6.0, 3.0, 1.0, 1.0],
        &[1.0, 2.0, 3.0, 2.0, 11.0, 13.0, 3.0, 3.0, 1.0, 1.0],
    ],
    // Bipolar Type-1
    [
        &[10.0, 13.0, 8.0, 1.0],
        &[8.0, 8.0, 10.0, 6.0],
        &[8.0, 12.0, 6.0, 6.0],
        &[3.0, 13.0, 9.0, 7.0],
        &[4.0, 26.0],
        &[18.0, 12.0],
        &[14.0, 16.0],
        &[23.0, 7.0],
        &[14.0, 16.0],
        &[5.0, 25.0],
        &[24.0, 6.0],
        &[13.0, 17.0],
        &[20.0, 10.0],
        &[14.0, 16.0],
        &[1.0, 1.0, 2.0, 1.0, 6.0, 9.0, 7.0, 8.0, 2.0, 1.0],
        &[4.0, 8.0, 1.0, 9.0, 6.0, 4.0, 2.0, 2.0, 1.0, 1.0],
        &[1.0, 2.0, 2.0, 3.0, 5.0, 9.0, 6.0, 6.0, 3.0, 1.0],
    ],
    // Bipolar Type-2
    [
        &[2.0, 7.0, 17.0, 9.0],
        &[17.0, 16.0, 1.0, 1.0],
        &[4.0, 11.0, 9.0, 11.0],
        &[4.0, 12.0, 12.0, 7.0],
        &[1.0, 32.0],
        &[9.0, 24.0],
        &[18.0, 15.0],
        &[17.0, 16.0],
        &[17.0, 16.0],
        &[18.0, 15.0],
        &[18.0, 15.0],
        &[10.0, 23.0],
        &[17.0, 16.0],
        &[15.0, 18.0],
        &[4.0, 11.0, 6.0, 8.0, 3.0, 2.0, 2.0, 2.0, 2.0, 1.0],
        &[3.0, 9.0, 7.0, 9.0, 6.0, 2.0, 2.0, 1.0, 1.0, 1.0],
        &[5.0, 6.0, 8.0, 12.0, 4.0, 2.0, 1.0, 1.0, 1.0, 1.0],
    ],
    // Depression
    [
        &[1.0, 5.0, 16.0, 13.0],
        &[20.0, 13.0, 1.0, 1.0],
        &[4.0, 2.0, 15.0, 14.0],
        &[4.0, 14.0, 8.0, 9.0],
        &[32.0, 1.0],
        &[11.0, 22.0],
        &[22.0, 11.0],
        &[26.0, 7.0],
        &[19.0, 14.0],
        &[23.0, 10.0],
        &[17.0, 16.0],
        &[14.0, 19.0],
        &[16.0, 17.0],
        &[9.0, 24.0],
        &[2.0, 6.0, 9.0, 9.0, 4.0, 2.0, 3.0, 4.0, 1.0, 1.0],
        &[1.0, 6.0, 5.0, 9.0, 5.0, 3.0, 8.0, 2.0, 1.0, 1.0],
        &[3.0, 12.0, 9.0, 6.0, 4.0, 1.0, 2.0, 2.0, 1.0, 1.0],
    ],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let a = generate(Scenario::Baseline, 200, 42);
        assert_eq!(a, generate(Scenario::Baseline, 200, 42));
        assert_ne!(a, generate(Scenario::Baseline, 200, 43));
    }

    #[test]
    fn baseline_120_has_the_published_balance() {
        let rows = generate(Scenario::Baseline, 120, 1);
        let mut counts = [0; 4];
        for row in &rows {
            counts[row.label as usize] += 1;
        }
        assert_eq!(counts, [30, 28, 31, 31]);
    }

    #[test]
    fn covariate_shift_moves_only_its_columns() {
        let s = spec();
        let base = generate(Scenario::Baseline, 4000, 5);
        let shifted = generate(Scenario::CovariateShift, 4000, 5);
        let mean =
            |rows: &[FeatureRow], col: usize| rows.iter().map(|r| r.features[col]).sum::<f64>() / rows.len() as f64;
        for (col_idx, column) in s.features.iter().enumerate() {
            let delta = (mean(&shifted, col_idx) - mean(&base, col_idx)).abs();
            let moved = ["sadness", "sleep_disorder", "optimism"].contains(&column.name.as_str());
            assert_eq!(delta > 0.5, moved, "{}: mean moved by {delta}", column.name);
        }
    }

    #[test]
    fn label_shift_raises_depression() {
        let rows = generate(Scenario::LabelShift, 1000, 3);
        let depression = rows.iter().filter(|r| r.label_text() == "Depression").count();
        assert_eq!(depression, 600);
    }
}
