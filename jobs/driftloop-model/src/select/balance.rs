//! Balanced class weights: when the classes are imbalanced, each weighted family's best
//! candidate is cross-validated once more with balanced weights (see the module
//! documentation of `select`).

use super::cross_validation::{takes_the_lead, Leader};
use super::CandidateScore;
use crate::family::{class_counts, weighted_family, Candidate, ClassWeight, Family};

/// The leader of a cross-validation and of its balanced twins' (numbered from `offset` in
/// `cv`): the twins' leads only by scoring higher, as the grid's comes first.
pub(super) fn merged(
    cv: &[CandidateScore],
    first: Option<Leader>,
    twin: Option<Leader>,
    offset: usize,
) -> Option<Leader> {
    match (first, twin) {
        (Some((i, first)), Some((j, twin))) => {
            if takes_the_lead(cv[i].mean_macro_f1, cv[offset + j].mean_macro_f1) {
                Some((offset + j, twin))
            } else {
                Some((i, first))
            }
        }
        (None, twin) => twin.map(|(j, twin)| (offset + j, twin)),
        (first, None) => first,
    }
}

/// Classes are imbalanced when the largest has at least this many times the rows of the
/// smallest (among the classes present).
pub const IMBALANCE_RATIO: f64 = 1.5;

/// Whether `labels`' classes are imbalanced ([`IMBALANCE_RATIO`]).
pub fn imbalanced(labels: &[u8], n_classes: usize) -> bool {
    let counts = class_counts(labels, n_classes);
    let present = counts.iter().copied().filter(|&c| c > 0);
    let (smallest, largest) = present.fold((usize::MAX, 0), |(s, l), c| (s.min(c), l.max(c)));
    largest > 0 && largest as f64 >= IMBALANCE_RATIO * smallest as f64
}

/// The balanced twin of the best cross-validated candidate (first on a tie) of each
/// family that takes a class weight, unless the grid holds it already.
pub(super) fn balanced_twins(cv: &[CandidateScore]) -> Vec<Candidate> {
    Family::ALL
        .into_iter()
        .filter(|&family| weighted_family(family))
        .filter_map(|family| {
            let best = cv
                .iter()
                .filter(|c| c.error.is_none() && c.candidate.family() == family)
                .filter(|c| c.candidate.class_weight().is_none())
                .fold(None::<&CandidateScore>, |best, c| match best {
                    Some(b) if b.mean_macro_f1 >= c.mean_macro_f1 => Some(b),
                    _ => Some(c),
                })?;
            let twin = best.candidate.with_class_weight(ClassWeight::Balanced)?;
            (!cv.iter().any(|c| c.candidate == twin)).then_some(twin)
        })
        .collect()
}
