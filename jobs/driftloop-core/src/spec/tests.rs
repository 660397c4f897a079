use super::*;

#[test]
fn parses_the_raw_data_forms() {
    let s = spec();
    let sadness = s.feature_index("sadness").unwrap();
    let suicidal = s.feature_index("suicidal_thoughts").unwrap();
    let optimism = s.feature_index("optimism").unwrap();
    assert_eq!(s.parse_feature(sadness, "Most-Often"), Ok(3.0));
    assert_eq!(s.parse_feature(sadness, " usually "), Ok(2.0));
    assert_eq!(s.parse_feature(suicidal, "YES "), Ok(1.0));
    assert_eq!(s.parse_feature(suicidal, "NO"), Ok(0.0));
    assert_eq!(s.parse_feature(optimism, "7 From 10"), Ok(7.0));
    assert_eq!(s.parse_feature(optimism, "7from10"), Ok(7.0));
    assert_eq!(s.parse_feature(optimism, "10"), Ok(10.0));
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
    assert!(s.parse_feature(optimism, "From 10").is_err());
    assert!(s.parse_feature(optimism, "").is_err());
    let err = s.parse_feature(0, "Never").unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"Never\" is not one of Seldom, Sometimes, Usually, Most-Often"
    );
    assert!(s.parse_class("Anxiety").is_err());
}

/// The fingerprint the compiled-in spec had before dataset files: the shipped file
/// must keep it, or every committed snapshot and model would stop matching.
#[test]
fn spec_hash_is_the_one_before_dataset_files() {
    let s = spec();
    assert_eq!(
        s.spec_hash(),
        "d8dce560fd5de04a04519f5920c560bf342b1b85b7b5d559b27bb7039ce76873"
    );
    assert_eq!(s.n_features(), 17);
}

#[test]
fn spec_hash_is_sensitive_to_meaning_only() {
    let base = DatasetSpec::shipped();
    let mut other = base.clone();
    other.features[0].header = Some("Sorrow".into());
    other.features[0].description = Some("how often".into());
    assert_eq!(
        DatasetSpec::new(other.name, other.features, other.label, None, other.classes).spec_hash(),
        base.spec_hash()
    );
    let changes: [fn(&mut DatasetSpec); 5] = [
        |s| s.name = "other".into(),
        |s| s.features[0].nullable = true,
        |s| s.features.swap(0, 1),
        |s| {
            s.features[0].kind = ColumnKind::Categorical {
                levels: s.features[0].kind.levels().unwrap().to_vec(),
            }
        },
        |s| s.classes.reverse(),
    ];
    for change in changes {
        let mut changed = base.clone();
        change(&mut changed);
        let rebuilt = DatasetSpec::new(changed.name, changed.features, changed.label, None, changed.classes);
        assert_ne!(rebuilt.spec_hash(), base.spec_hash());
    }
}

#[test]
fn check_value_bounds() {
    let s = spec();
    assert!(s.check_value(0, 3.0).is_ok());
    assert!(s.check_value(0, 4.0).is_err());
    assert!(s.check_value(0, 1.5).is_err());
    assert!(s.check_value(4, 2.0).is_err());
    assert!(s.check_value(14, 0.0).is_err());
    assert!(s.check_value(14, 10.0).is_ok());
    let err = s.check_value(14, crate::MISSING).unwrap_err().to_string();
    assert!(err.contains("column sexual_activity cannot be missing"), "{err}");
}

#[test]
fn numbers_and_missing_values_parse_where_the_dataset_allows_them() {
    let churn =
        crate::dataset_file::parse_dataset(include_str!("../../../../data-fixtures/synthetic/dataset.toml")).unwrap();
    let col = |name: &str| churn.feature_index(name).unwrap();
    let spend = col("monthly_spend");
    assert_eq!(churn.parse_feature(spend, " 12.5 "), Ok(12.5));
    assert!(churn.parse_feature(spend, "").unwrap().is_nan());
    assert!(churn.parse_feature(spend, "NA").unwrap().is_nan());
    assert!(churn.parse_feature(spend, "-1").is_err(), "below min = 0.0");
    for bad in ["inf", "NaN", "twelve", "1e400"] {
        let err = churn.parse_feature(spend, bad).unwrap_err();
        assert_eq!(err.given, bad);
    }
    assert!(churn.check_value(spend, f64::INFINITY).is_err());
    let tenure = col("tenure_months");
    let err = churn.parse_feature(tenure, "NA").unwrap_err().to_string();
    assert!(err.contains("column tenure_months cannot be missing"), "{err}");
    assert!(churn.parse_feature(tenure, "2.5").is_err());
    assert!(churn.parse_feature(col("support_calls"), "").unwrap().is_nan());
    assert_eq!(churn.feature_text(spend, 12.5), "12.5");
    assert_eq!(churn.feature_text(spend, crate::MISSING), "");
    assert!(crate::same_values(&[1.0, crate::MISSING], &[1.0, f64::NAN]));
    assert!(!crate::same_values(&[1.0, crate::MISSING], &[1.0, 0.0]));
}

#[test]
fn activating_the_active_spec_again_is_a_no_op() {
    assert!(activate(DatasetSpec::shipped()).is_ok());
    let mut other = DatasetSpec::shipped();
    other.name = "other".into();
    let other = DatasetSpec::new(other.name, other.features, other.label, None, other.classes);
    let err = activate(other).unwrap_err().to_string();
    assert!(
        err.contains("already uses dataset mental_health") && err.contains("other ("),
        "{err}"
    );
}
