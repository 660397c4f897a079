//! Unit tests of the statistics on hand-made tables; the comparison with scipy on the
//! fixtures lives in the pipeline's integration tests.

use super::*;

fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("v{i}")).collect()
}

#[test]
fn a_known_two_by_three_table() {
    // Reference 10/20/30, current 30/20/10: chi2 = 20, dof 2, p = e^-10.
    let d = column_drift(
        "c",
        &values(3),
        &[10, 20, 30],
        &[30, 20, 10],
        &DriftConfig::default(),
        0.05,
    );
    assert!((d.chi2 - 20.0).abs() < 1e-12, "{}", d.chi2);
    assert_eq!(d.dof, 2);
    assert!((d.p_value - (-10.0f64).exp()).abs() < 1e-15, "{}", d.p_value);
    let expected_psi = 2.0 * (0.5 - 1.0 / 6.0) * (3.0f64).ln();
    assert!((d.psi - expected_psi).abs() < 1e-12, "{}", d.psi);
    assert!(d.drifted);
}

#[test]
fn identical_distributions_do_not_drift() {
    let d = column_drift(
        "c",
        &values(4),
        &[5, 10, 15, 20],
        &[10, 20, 30, 40],
        &DriftConfig::default(),
        0.05,
    );
    assert!(d.chi2.abs() < 1e-12 && d.psi.abs() < 1e-12);
    assert!((d.p_value - 1.0).abs() < 1e-12);
    assert!(!d.drifted);
}

#[test]
fn degenerate_inputs_have_defined_answers() {
    let config = DriftConfig::default();
    // Empty current frame.
    let d = column_drift("c", &values(2), &[3, 4], &[0, 0], &config, 0.05);
    assert_eq!(
        (d.n_current, d.psi, d.chi2, d.dof, d.p_value, d.drifted),
        (0, 0.0, 0.0, 0, 1.0, false)
    );
    // A single category on both sides.
    let d = column_drift("c", &values(3), &[0, 9, 0], &[0, 4, 0], &config, 0.05);
    assert_eq!((d.categories.len(), d.psi, d.p_value, d.drifted), (1, 0.0, 1.0, false));
    // A category unseen in the reference: epsilon keeps PSI finite.
    let d = column_drift("c", &values(2), &[50, 0], &[25, 25], &config, 0.05);
    assert!(d.psi.is_finite() && d.psi > 1.0 && d.drifted, "{d:?}");
    assert_eq!(d.categories[1].reference_count, 0);
    // All null: no counts at all.
    let d = column_drift("c", &values(2), &[0, 0], &[0, 0], &config, 0.05);
    assert!(d.categories.is_empty() && !d.drifted && d.p_value == 1.0);
}

#[test]
fn psi_counts_only_with_enough_rows_on_both_sides() {
    // PSI 0.42 either way; the test's level is out of reach, so PSI alone decides.
    let config = DriftConfig::default();
    let few = column_drift("c", &values(2), &[50, 50], &[2, 8], &config, 1e-12);
    assert!(few.psi >= config.psi_threshold && !few.drifted, "{few:?}");
    let enough = column_drift("c", &values(2), &[50, 50], &[20, 80], &config, 1e-12);
    assert!((enough.psi - few.psi).abs() < 1e-12 && enough.drifted, "{enough:?}");
    let small_reference = column_drift("c", &values(2), &[25, 25], &[20, 80], &config, 1e-12);
    assert!(!small_reference.drifted, "{small_reference:?}");
    // A test's verdict stands at any size.
    assert!(column_drift("c", &values(2), &[50, 50], &[0, 10], &config, 0.05).drifted);
    // A report written before the setting existed reads as 0: PSI counted at any size.
    let old: DriftConfig =
        serde_json::from_str(r#"{"alpha":0.05,"psi_threshold":0.25,"drift_share":0.15,"psi_epsilon":0.0001}"#).unwrap();
    assert_eq!(old.psi_min_rows, 0);
    assert!(column_drift("c", &values(2), &[50, 50], &[2, 8], &old, 1e-12).drifted);
}

#[test]
fn invalid_configurations_are_refused() {
    for config in [
        DriftConfig {
            alpha: 0.0,
            ..Default::default()
        },
        DriftConfig {
            drift_share: 1.5,
            ..Default::default()
        },
        DriftConfig {
            psi_threshold: -1.0,
            ..Default::default()
        },
        DriftConfig {
            psi_epsilon: f64::NAN,
            ..Default::default()
        },
    ] {
        assert!(config.validate().is_err(), "{config:?}");
    }
    assert!(DriftConfig::default().validate().is_ok());
}

#[test]
fn the_html_report_is_self_contained_and_complete() {
    let column = column_drift(
        "sadness",
        &values(3),
        &[10, 20, 30],
        &[30, 20, 10],
        &DriftConfig::default(),
        0.05,
    );
    let label = column_drift("diagnosis", &values(2), &[5, 5], &[5, 5], &DriftConfig::default(), 0.05);
    let report = DriftReport {
        drift: true,
        drift_share: 1.0,
        n_reference: 60,
        n_current: 60,
        columns: vec![column],
        label,
        config: DriftConfig::default(),
    };
    let page = html::report_html(
        &report,
        &html::ReportContext {
            title: "Drift <check>",
            reference: "a.parquet",
            current: "b",
        },
    );
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>"));
    assert_eq!(page.matches("<svg").count(), 2, "one chart per column and the label");
    assert!(page.matches("<rect").count() >= 2 * 3 + 2, "two bars per category");
    assert!(page.contains("Drift detected: 1 of 1 columns drifted"));
    assert!(page.contains("Drift &lt;check&gt;"), "text is escaped");
    let namespaces = page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(
        page.matches("http").count(),
        namespaces,
        "no links to fetch, only the SVG namespace"
    );
    assert!(!page.contains("<script"));
}
