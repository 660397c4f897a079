//! Continuous columns (numbers, and integers of more than [`MAX_COUNTED_VALUES`] values):
//! bins from the reference's deciles, and the two-sample Kolmogorov-Smirnov test.
//!
//! **Bins.** The edges are the reference's non-missing values' quantiles at 0.1, 0.2, …,
//! 0.9 by linear interpolation between order statistics (NumPy's and pandas' default),
//! repeated edges dropped. A value's bin is the number of edges at or below it, so values
//! below the first edge or at/above the last fall in the end bins and no value is lost. The
//! edges are stored in the report and the current rows are binned with them; missing
//! values form a bin of their own (`missing`). PSI and chi-square are computed on these
//! bins like on the levels of a categorical column.
//!
//! **KS.** The statistic is the largest distance between the two empirical distribution
//! functions of the non-missing values. The two-sided p-value follows the choice
//! `scipy.stats.ks_2samp` makes with its default `method="auto"`: **exact** when neither
//! sample holds more than 10,000 values: the share of monotone lattice paths from (0, 0)
//! to (n, m) that leave the band |i/n − j/m| < D, counted with each point's share of paths
//! (so no binomial coefficient overflows); **asymptotic** above, where this crate uses the
//! Kolmogorov limit distribution at √(nm/(n+m))·D. SciPy's asymptotic branch uses the
//! one-sample distribution at n·m/(n+m) instead, so above 10,000 values a p-value here can
//! differ from SciPy's in the third significant digit; both are far below any alpha when
//! samples that large differ.

use driftloop_core::profile::distinct_counts;
use serde::{Deserialize, Serialize};

pub use driftloop_core::profile::MAX_COUNTED_VALUES;

/// The largest sample SciPy's `ks_2samp` tests exactly by default.
pub const MAX_EXACT: usize = 10_000;

/// The two-sample Kolmogorov-Smirnov test of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KsTest {
    pub statistic: f64,
    pub p_value: f64,
    /// `exact` or `asymptotic` (see the module).
    pub method: String,
}

/// The decile edges of the reference's values (see the module).
pub fn decile_edges(reference: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = reference.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    decile_edges_of_sorted(&sorted)
}

/// [`decile_edges`] of values already sorted.
pub fn decile_edges_of_sorted(sorted: &[f64]) -> Vec<f64> {
    let (values, counts) = distinct_counts(sorted);
    decile_edges_of_counts(&values, &counts)
}

/// [`decile_edges`] of distinct values in ascending order, each `counts` times.
pub fn decile_edges_of_counts(values: &[f64], counts: &[u64]) -> Vec<f64> {
    // The order statistic of rank r (0-based) is the value whose run of ranks holds r.
    let mut ends = Vec::with_capacity(counts.len());
    let mut total = 0u64;
    for &count in counts {
        total += count;
        ends.push(total);
    }
    let n = total as usize;
    if n == 0 {
        return Vec::new();
    }
    let at_rank = |rank: usize| values[ends.partition_point(|&end| end <= rank as u64)];
    // As NumPy computes it, so the edges agree to the last bit: the position (n − 1)·q
    // with q = k/10, and the interpolation taken from the nearer order statistic.
    let mut edges: Vec<f64> = (1..10)
        .map(|k| {
            let position = (n - 1) as f64 * (k as f64 / 10.0);
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let fraction = position - below as f64;
            let (a, b) = (at_rank(below), at_rank(above));
            if fraction >= 0.5 {
                b - (b - a) * (1.0 - fraction)
            } else {
                a + (b - a) * fraction
            }
        })
        .collect();
    edges.dedup();
    edges
}

/// The bin of `value` among `edges`: the number of edges at or below it.
pub fn bin_of(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge <= value)
}

/// Counts per bin (`edges.len() + 1` of them).
pub fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &v in values {
        counts[bin_of(edges, v)] += 1;
    }
    counts
}

/// [`bin_counts`] of values already sorted.
pub fn bin_counts_of_sorted(edges: &[f64], sorted: &[f64]) -> Vec<u64> {
    let (values, counts) = distinct_counts(sorted);
    bin_counts_of_counts(edges, &values, &counts)
}

/// [`bin_counts`] of distinct values, each `counts` times.
pub fn bin_counts_of_counts(edges: &[f64], values: &[f64], counts: &[u64]) -> Vec<u64> {
    let mut bins = vec![0u64; edges.len() + 1];
    for (&v, &count) in values.iter().zip(counts) {
        bins[bin_of(edges, v)] += count;
    }
    bins
}

/// The bins' names: `< a`, `[a, b)`, …, `≥ z` (one bin, `all`, without edges).
pub fn bin_names(edges: &[f64]) -> Vec<String> {
    if edges.is_empty() {
        return vec!["all".into()];
    }
    let mut names = vec![format!("< {}", edges[0])];
    names.extend(edges.windows(2).map(|w| format!("[{}, {})", w[0], w[1])));
    names.push(format!("≥ {}", edges[edges.len() - 1]));
    names
}

/// The two-sided two-sample KS test of `a` and `b` (non-missing values, any order);
/// `None` when either is empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsTest> {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    ks_2samp_of_sorted(&a, &b)
}

/// [`ks_2samp`] of values already sorted.
pub fn ks_2samp_of_sorted(a: &[f64], b: &[f64]) -> Option<KsTest> {
    let (a_values, a_counts) = distinct_counts(a);
    let (b_values, b_counts) = distinct_counts(b);
    ks_2samp_of_counts((&a_values, &a_counts), (&b_values, &b_counts))
}

/// [`ks_2samp`] of two samples given as distinct values in ascending order with the
/// count of each.
pub fn ks_2samp_of_counts(a: (&[f64], &[u64]), b: (&[f64], &[u64])) -> Option<KsTest> {
    let (n1, n2) = (a.1.iter().sum::<u64>(), b.1.iter().sum::<u64>());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // The largest |i·n2 − j·n1| over the points where both step functions are evaluated
    // (every value of either sample, each function taken after its ties): i and j are
    // the values of each sample at or below the point.
    let (mut next_a, mut next_b) = (0usize, 0usize);
    let (mut i, mut j, mut widest) = (0u64, 0u64, 0u64);
    while next_a < a.0.len() || next_b < b.0.len() {
        let v = match (a.0.get(next_a), b.0.get(next_b)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        if a.0.get(next_a).is_some_and(|&x| x <= v) {
            i += a.1[next_a];
            next_a += 1;
        }
        if b.0.get(next_b).is_some_and(|&y| y <= v) {
            j += b.1[next_b];
            next_b += 1;
        }
        widest = widest.max((i * n2).abs_diff(j * n1));
    }
    let statistic = widest as f64 / (n1 as f64 * n2 as f64);
    let (n1, n2) = (n1 as usize, n2 as usize);
    if n1.max(n2) <= MAX_EXACT {
        Some(KsTest {
            statistic,
            p_value: exact_p_value(n1, n2, widest).clamp(0.0, 1.0),
            method: "exact".into(),
        })
    } else {
        let en = (n1 as f64 * n2 as f64) / (n1 + n2) as f64;
        Some(KsTest {
            statistic,
            p_value: kolmogorov_sf(en.sqrt() * statistic).clamp(0.0, 1.0),
            method: "asymptotic".into(),
        })
    }
}

/// P(D ≥ d) for samples of `n1` and `n2` values, d = `widest`/(n1·n2): one minus the share
/// of lattice paths from (0, 0) to (n1, n2) whose every point (i, j) keeps
/// |i·n2 − j·n1| < `widest`. `u[j]` holds, for the current i, the paths to (i, j) inside
/// the band divided by all paths to (i, j): u(i, j) = (i·u(i−1, j) + j·u(i, j−1)) / (i+j).
fn exact_p_value(n1: usize, n2: usize, widest: u64) -> f64 {
    if widest == 0 {
        return 1.0;
    }
    let inside = |i: usize, j: usize| (i as u64 * n2 as u64).abs_diff(j as u64 * n1 as u64) < widest;
    let mut u = vec![0f64; n2 + 1];
    for (j, slot) in u.iter_mut().enumerate() {
        // Along i = 0 there is one path, inside until it first leaves the band.
        *slot = if inside(0, j) { 1.0 } else { 0.0 };
        if *slot == 0.0 {
            break;
        }
    }
    for i in 1..=n1 {
        let mut left = 0.0; // u(i, j−1)
        for (j, slot) in u.iter_mut().enumerate() {
            let value = if inside(i, j) {
                (i as f64 * *slot + j as f64 * left) / (i + j) as f64
            } else {
                0.0
            };
            *slot = value;
            left = value;
        }
    }
    1.0 - u[n2]
}

/// The Kolmogorov distribution's survival function: 2 Σ (−1)^(k−1) e^(−2k²x²).
fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let mut total = 0.0;
    for k in 1..=100 {
        let term = (-2.0 * (k * k) as f64 * x * x).exp();
        total += if k % 2 == 1 { term } else { -term };
        if term < 1e-18 {
            break;
        }
    }
    (2.0 * total).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decile_edges_interpolate_like_numpy() {
        // np.quantile(np.arange(1, 12), [.1, ..., .9]) = 2, 3, ..., 10.
        let values: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(decile_edges(&values), (2..=10).map(f64::from).collect::<Vec<f64>>());
        // np.quantile([0, 10], 0.25 ...) style interpolation on two values.
        let edges = decile_edges(&[0.0, 10.0]);
        assert_eq!(edges, (1..10).map(f64::from).collect::<Vec<f64>>());
        assert_eq!(decile_edges(&[5.0; 7]), vec![5.0], "repeated edges are dropped");
        assert_eq!(bin_counts(&[5.0], &[4.0, 5.0, 6.0]), vec![1, 2]);
        let values = [0.5, 1.0, 1.0, 2.5, 3.0, 7.0, 9.0];
        let edges = [1.0, 3.0, 8.0];
        assert_eq!(bin_counts_of_sorted(&edges, &values), bin_counts(&edges, &values));
        assert_eq!(bin_counts_of_sorted(&edges, &values), vec![1, 3, 2, 1]);
        assert_eq!(bin_names(&[1.0, 2.5]), ["< 1", "[1, 2.5)", "≥ 2.5"]);
    }

    #[test]
    fn ks_of_small_samples_matches_the_counted_paths() {
        // Identical samples: D = 0, p = 1.
        let same = ks_2samp(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap();
        assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
        // Fully separated samples of 3 and 3: D = 1; only the 2 of the C(6,3) = 20 paths
        // along the edges reach it: p = 2/20 = 0.1 (scipy.stats.ks_2samp gives 0.1).
        let apart = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!(apart.statistic, 1.0);
        assert!((apart.p_value - 0.1).abs() < 1e-15, "{apart:?}");
        assert_eq!(apart.method, "exact");
        // Separated samples of 2 and 4: p = 2/C(6,2) = 2/15.
        let uneven = ks_2samp(&[0.0, 0.5], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((uneven.p_value - 2.0 / 15.0).abs() < 1e-15, "{uneven:?}");
        assert!(ks_2samp(&[], &[1.0]).is_none());
    }

    /// The largest distance between the two empirical distribution functions, evaluated
    /// at every value of either sample, by counting: the definition, for comparison.
    fn naive_ks_statistic(a: &[f64], b: &[f64]) -> f64 {
        let ecdf = |s: &[f64], v: f64| s.iter().filter(|&&x| x <= v).count() as f64 / s.len() as f64;
        a.iter()
            .chain(b)
            .map(|&v| (ecdf(a, v) - ecdf(b, v)).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn counted_samples_give_what_their_values_give() {
        // Values with many ties (as a profile holds them: distinct values and counts).
        let mut state = 7u64;
        let mut draw = |n: usize, offset: f64| -> Vec<f64> {
            (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) % 40) as f64 / 4.0 + offset
                })
                .collect()
        };
        let (a, b) = (draw(300, 0.0), draw(200, 0.75));
        let test = ks_2samp(&a, &b).unwrap();
        assert!((test.statistic - naive_ks_statistic(&a, &b)).abs() < 1e-12, "{test:?}");
        let mut sorted = a.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let (values, counts) = distinct_counts(&sorted);
        assert!(values.len() <= 40 && counts.iter().sum::<u64>() == 300);
        let edges = decile_edges(&a);
        let mut expected = vec![0u64; edges.len() + 1];
        for &v in &a {
            expected[edges.iter().filter(|&&e| e <= v).count()] += 1;
        }
        assert_eq!(bin_counts_of_counts(&edges, &values, &counts), expected);
        // NumPy's deciles of the values, by sorting them whole.
        let at = |q: f64| {
            let position = (sorted.len() - 1) as f64 * q;
            let below = position.floor() as usize;
            let fraction = position - below as f64;
            let (x, y) = (sorted[below], sorted[(below + 1).min(sorted.len() - 1)]);
            if fraction >= 0.5 {
                y - (y - x) * (1.0 - fraction)
            } else {
                x + (y - x) * fraction
            }
        };
        let mut numpy: Vec<f64> = (1..10).map(|k| at(k as f64 / 10.0)).collect();
        numpy.dedup();
        assert_eq!(decile_edges_of_counts(&values, &counts), numpy);
    }

    #[test]
    fn large_samples_use_the_asymptotic_distribution() {
        let a: Vec<f64> = (0..10_001).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..10_001).map(|i| i as f64 + 500.0).collect();
        let test = ks_2samp(&a, &b).unwrap();
        assert_eq!(test.method, "asymptotic");
        assert!((test.statistic - 500.0 / 10_001.0).abs() < 1e-12);
        assert!(test.p_value > 0.0 && test.p_value < 1e-8, "{test:?}");
        assert!(
            (kolmogorov_sf(1.3581) - 0.05).abs() < 1e-4,
            "the 5% point of the Kolmogorov distribution"
        );
    }
}
