use super::*;
use crate::spec::SHIPPED_DATASET;

/// The example of the README's "Your own dataset" section.
const CHURN: &str = r#"
name = "churn"
[label]
name = "churned"
classes = ["no", "yes"]
header = "Churn?"

[[features]]
name = "plan"
kind = "categorical"
levels = ["basic", "plus", "pro"]

[[features]]
name = "satisfaction"
kind = "ordinal"
levels = ["low", "mid", "high"]

[[features]]
name = "tenure_months"
kind = "integer"
min = 0
max = 120

[[features]]
name = "monthly_spend"
kind = "number"
min = 0.0
nullable = true
description = "last month's bill"
"#;

fn problems(text: &str) -> Vec<(String, String)> {
    match parse_dataset(text) {
        Ok(spec) => panic!("accepted: {spec:?}"),
        Err(err) => err
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect(),
    }
}

fn with(replace: &str, by: &str) -> String {
    assert!(CHURN.contains(replace), "{replace}");
    CHURN.replacen(replace, by, 1)
}

#[test]
fn reads_every_kind() {
    let spec = parse_dataset(CHURN).unwrap();
    assert_eq!(spec.name, "churn");
    assert_eq!(spec.label, "churned");
    assert_eq!(spec.label_header.as_deref(), Some("Churn?"));
    assert_eq!(spec.classes, ["no", "yes"]);
    let kinds: Vec<&str> = spec.features.iter().map(|c| c.kind.name()).collect();
    assert_eq!(kinds, ["categorical", "ordinal", "integer", "number"]);
    assert_eq!(spec.features[2].kind.integer_range(), Some((0, 120)));
    assert_eq!(
        spec.features[3].kind,
        ColumnKind::Number {
            min: Some(0.0),
            max: None
        }
    );
    assert!(spec.features[3].nullable && !spec.features[0].nullable);
    assert_eq!(spec.features[3].description.as_deref(), Some("last month's bill"));
}

#[test]
fn the_shipped_file_is_the_mental_health_dataset() {
    let spec = parse_dataset(SHIPPED_DATASET).unwrap();
    assert_eq!(spec.name, "mental_health");
    assert_eq!(spec.n_features(), 17);
    assert_eq!(
        spec.classes,
        ["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"]
    );
    assert!(spec.check_supported().is_ok());
}

#[test]
fn an_unknown_kind_is_named() {
    let found = problems(&with("kind = \"ordinal\"", "kind = \"ranked\""));
    assert_eq!(
        found,
        [(
            "features[1].kind".to_string(),
            "unknown kind \"ranked\": one of categorical, ordinal, integer, number".to_string()
        )]
    );
}

#[test]
fn a_duplicate_name_is_named_with_its_first_use() {
    let found = problems(&with("name = \"satisfaction\"", "name = \"plan\""));
    assert_eq!(
        found,
        [(
            "features[1].name".to_string(),
            "name \"plan\" is already used by features[0].name".to_string()
        )]
    );
    let found = problems(&with("name = \"plan\"", "name = \"churned\""));
    assert_eq!(found[0].1, "name \"churned\" is already used by label.name");
    let found = problems(&with("name = \"plan\"", "name = \"request_id\""));
    assert_eq!(
        found[0].1,
        "name \"request_id\" is already used by driftloop's own columns"
    );
    let found = problems(&with(
        "name = \"satisfaction\"",
        "name = \"satisfaction\"\nheader = \"Plan\"",
    ));
    assert_eq!(found[0].0, "features[1].header");
}

#[test]
fn empty_levels_are_refused() {
    let found = problems(&with("levels = [\"basic\", \"plus\", \"pro\"]", "levels = []"));
    assert_eq!(found, [("features[0].levels".to_string(), "is empty".to_string())]);
    let found = problems(&with("\"plus\"", "\" \""));
    assert_eq!(found, [("features[0].levels[1]".to_string(), "is blank".to_string())]);
}

#[test]
fn min_above_max_is_refused() {
    let found = problems(&with("min = 0\n", "min = 121\n"));
    assert_eq!(
        found,
        [(
            "features[2].min".to_string(),
            "min 121 is greater than max 120".to_string()
        )]
    );
    let found = problems(&with("min = 0.0", "min = 2.5\nmax = 1.0"));
    assert_eq!(found[0].1, "min 2.5 is greater than max 1");
}

#[test]
fn a_name_that_is_not_an_identifier_is_refused() {
    for bad in ["Plan", "2plan", "plan-type", "", "order"] {
        let found = problems(&with("name = \"plan\"", &format!("name = \"{bad}\"")));
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert_eq!(found[0].0, "features[0].name", "{bad}");
    }
    let found = problems(&with("name = \"churn\"", "name = \"Churn Data\""));
    assert_eq!(found[0].0, "name");
}

#[test]
fn a_repeated_label_class_is_refused() {
    let found = problems(&with(
        "classes = [\"no\", \"yes\"]",
        "classes = [\"no\", \"yes\", \"No\"]",
    ));
    assert_eq!(
        found,
        [(
            "label.classes[2]".to_string(),
            "\"No\" repeats label.classes[0] (values are matched in any case)".to_string()
        )]
    );
    let found = problems(&with("classes = [\"no\", \"yes\"]", "classes = [\"no\"]"));
    assert_eq!(
        found[0],
        ("label.classes".to_string(), "needs at least 2 entries".to_string())
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = with("kind = \"ordinal\"", "kind = \"ranked\"");
    let text = text
        .replacen("max = 120", "max = -1", 1)
        .replacen("name = \"plan\"", "name = \"Plan\"", 1);
    let text = text.replacen("nullable = true", "nullable = \"yes\"\nunit = \"EUR\"", 1);
    let err = parse_dataset(&text).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "features[0].name",
            "features[1].kind",
            "features[2].min",
            "features[3].nullable",
            "features[3].unit"
        ]
    );
    let text = err.in_file(std::path::Path::new("churn.toml")).to_string();
    assert!(
        text.starts_with("dataset file churn.toml has 5 problems:\n  features[0].name: \"Plan\" is not a name"),
        "{text}"
    );
}

#[test]
fn missing_parts_and_bad_toml_are_named() {
    let found = problems("name = \"x\"\n");
    assert_eq!(found[0].0, "label");
    assert_eq!(found[1].0, "features");
    let found = problems(&with("kind = \"categorical\"", ""));
    assert_eq!(found[0].0, "features[0].kind");
    let found = problems(&with("max = 120", ""));
    assert_eq!(
        found,
        [(
            "features[2].max".to_string(),
            "missing: integer columns declare min and max".to_string()
        )]
    );
    let found = problems(&with(
        "levels = [\"low\", \"mid\", \"high\"]",
        "levels = [\"low\", \"mid\", \"high\"]\nmin = 1",
    ));
    assert_eq!(found[0].0, "features[1].min");
    let err = parse_dataset("name = ").unwrap_err();
    assert!(matches!(err, DatasetFileError::Toml { .. }), "{err}");
}

#[test]
fn columns_this_version_cannot_carry_are_refused_by_name() {
    let spec = parse_dataset(CHURN).unwrap();
    assert!(spec.check_supported().is_ok(), "numbers and missing values are carried");
    let spec = parse_dataset(&with("max = 120", "max = 9007199254740993")).unwrap();
    let err = spec.check_supported().unwrap_err();
    assert_eq!(err.problems()[0].path, "features[2] (tenure_months).min/max");
    assert!(err.to_string().contains("within ±2^53"), "{err}");
}

#[test]
fn the_synthetic_file_declares_every_kind() {
    let spec = parse_dataset(include_str!("../../../../data-fixtures/synthetic/dataset.toml")).unwrap();
    let kinds: Vec<&str> = spec.features.iter().map(|c| c.kind.name()).collect();
    assert_eq!(kinds, ["categorical", "ordinal", "integer", "integer", "number"]);
    assert_eq!(spec.features[2].header.as_deref(), Some("Tenure (months)"));
}
