//! Unit tests of the settings read from the environment (`config.rs`).

use super::*;
use std::path::Path;

#[test]
fn default_is_the_embedded_sqlite_file() {
    let settings = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(
        settings.database_url,
        DatabaseUrl::Sqlite {
            path: ".driftloop/driftloop.db".into()
        }
    );
}

#[test]
fn mysql_url_is_selected_and_its_password_never_printed() {
    let settings = Settings::from_lookup(|name| {
        (name == "DRIFTLOOP_DATABASE_URL").then(|| "mysql://app:hunter2@db.internal:3306/driftloop".to_string())
    })
    .unwrap();
    let shown = format!("{} {:?} {settings:?}", settings.database_url, settings.database_url);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("mysql://app:***@db.internal:3306/driftloop"), "{shown}");
    assert_eq!(settings.database_url.database_name(), "driftloop");
}

#[test]
fn the_dataset_file_is_named_by_its_variable_and_checked_when_activated() {
    assert_eq!(Settings::from_lookup(|_| None).unwrap().dataset, None);
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data-fixtures/mental-health/dataset.toml"
    );
    let settings = Settings::from_lookup(|name| (name == "DRIFTLOOP_DATASET").then(|| shipped.to_string())).unwrap();
    assert_eq!(settings.dataset.as_deref(), Some(std::path::Path::new(shipped)));
    assert_eq!(settings.activate_dataset().unwrap().name, "mental_health");
    let missing =
        Settings::from_lookup(|name| (name == "DRIFTLOOP_DATASET").then(|| "no/such.toml".to_string())).unwrap();
    let err = missing.activate_dataset().unwrap_err().to_string();
    assert!(err.contains("cannot read dataset file no/such.toml"), "{err}");
}

#[test]
fn store_urls() {
    assert_eq!(
        Settings::from_lookup(|_| None).unwrap().store,
        StoreUrl::Local {
            root: ".driftloop/store".into()
        }
    );
    assert_eq!(
        StoreUrl::parse("s3://my-bucket/some/prefix/").unwrap(),
        StoreUrl::S3 {
            bucket: "my-bucket".into(),
            prefix: "some/prefix".into()
        }
    );
    assert_eq!(
        StoreUrl::parse("s3://my-bucket").unwrap(),
        StoreUrl::S3 {
            bucket: "my-bucket".into(),
            prefix: "".into()
        }
    );
    assert_eq!(
        StoreUrl::parse("file:///tmp/x").unwrap(),
        StoreUrl::Local { root: "/tmp/x".into() }
    );
    assert!(StoreUrl::parse("s3://Bad_Bucket/x").is_err());
    assert!(StoreUrl::parse("gs://bucket").is_err());
}

#[test]
fn bad_urls_say_what_is_expected() {
    let err = DatabaseUrl::parse("postgres://x/y").unwrap_err().to_string();
    assert!(err.contains("sqlite://PATH") && err.contains("mysql://"), "{err}");
    let err = DatabaseUrl::parse("mysql://root:pw@localhost").unwrap_err().to_string();
    assert!(
        err.contains("must name a host and a database") && !err.contains("pw@"),
        "{err}"
    );
    let err = Settings::from_lookup(|_| Some("gs://somewhere".into()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DRIFTLOOP_DATABASE_URL") && err.contains("DRIFTLOOP_STORE"),
        "every bad variable in one error: {err}"
    );
}

fn settings_of(vars: &[(&str, &str)]) -> Result<Settings> {
    let vars: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn drift_windows_and_the_training_cap_are_read_and_every_bad_one_named() {
    let settings = settings_of(&[]).unwrap();
    assert_eq!(
        (settings.drift_window, settings.max_train_rows),
        (DriftWindow::SinceSnapshot, None)
    );
    let defaults = driftloop_model::TrainConfig::default();
    assert_eq!(settings.train_config().refit_max_rows, defaults.refit_max_rows);
    assert_eq!(settings.train_config().max_train_rows, defaults.max_train_rows);
    assert!(settings.train_config().calibrate && defaults.calibrate);
    assert!(settings.train_config().balance_classes && defaults.balance_classes);
    assert_eq!(
        (settings.train_config().default_family, defaults.default_family),
        (
            Some(driftloop_model::Family::RandomForest),
            Some(driftloop_model::Family::RandomForest)
        )
    );
    let settings = settings_of(&[
        ("DRIFTLOOP_DRIFT_WINDOW", "last:500"),
        ("DRIFTLOOP_MAX_TRAIN_ROWS", "250000"),
        ("DRIFTLOOP_REFIT_MAX_ROWS", "0"),
        ("DRIFTLOOP_CALIBRATE", "False"),
        ("DRIFTLOOP_BALANCE_CLASSES", "false"),
        ("DRIFTLOOP_DEFAULT_FAMILY", " None "),
        ("DRIFTLOOP_DRIFT_PSI_MIN_ROWS", "0"),
    ])
    .unwrap();
    assert_eq!(settings.drift_config().psi_min_rows, 0);
    assert_eq!(settings_of(&[]).unwrap().drift_config().psi_min_rows, 100);
    assert!(!settings.train_config().calibrate);
    assert!(!settings.train_config().balance_classes);
    assert_eq!(settings.train_config().default_family, None);
    for (raw, family) in [
        ("gradient-boosting", driftloop_model::Family::GradientBoosting),
        ("Naive_Bayes", driftloop_model::Family::NaiveBayes),
    ] {
        let settings = settings_of(&[("DRIFTLOOP_DEFAULT_FAMILY", raw)]).unwrap();
        assert_eq!(settings.train_config().default_family, Some(family), "{raw}");
    }
    assert_eq!(
        (settings.drift_window, settings.max_train_rows),
        (DriftWindow::Last(500), Some(250_000))
    );
    assert_eq!(
        (
            settings.train_config().max_train_rows,
            settings.train_config().refit_max_rows
        ),
        (250_000, 0)
    );
    assert_eq!(
        DriftWindow::parse(" since-last-check ").unwrap().to_string(),
        "since-last-check"
    );
    let err = settings_of(&[
        ("DRIFTLOOP_DRIFT_WINDOW", "last:0"),
        ("DRIFTLOOP_MAX_TRAIN_ROWS", "1.5"),
        ("DRIFTLOOP_REFIT_MAX_ROWS", "-3"),
        ("DRIFTLOOP_CALIBRATE", "no"),
        ("DRIFTLOOP_BALANCE_CLASSES", "1"),
        ("DRIFTLOOP_DEFAULT_FAMILY", "forest"),
        ("DRIFTLOOP_DRIFT_PSI_MIN_ROWS", "some"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "DRIFTLOOP_DRIFT_PSI_MIN_ROWS: \"some\" is not a whole number of rows (0: PSI counts at any size)"
        ),
        "{err}"
    );
    assert!(
        err.contains("DRIFTLOOP_CALIBRATE: \"no\" is neither true nor false"),
        "{err}"
    );
    assert!(
        err.contains("DRIFTLOOP_BALANCE_CLASSES: \"1\" is neither true nor false"),
        "{err}"
    );
    assert!(
        err.contains(
            "DRIFTLOOP_DEFAULT_FAMILY: \"forest\" is not a model family (logistic_regression, random_forest, decision_tree, naive_bayes, gradient_boosting) or none"
        ),
        "{err}"
    );
    assert!(
        err.contains("DRIFTLOOP_DRIFT_WINDOW: \"last:0\" is not a drift window"),
        "{err}"
    );
    assert!(
        err.contains("DRIFTLOOP_MAX_TRAIN_ROWS: 1.5 is not a whole number"),
        "{err}"
    );
    assert!(
        err.contains("DRIFTLOOP_REFIT_MAX_ROWS: \"-3\" is not a whole number"),
        "{err}"
    );
}

#[test]
fn wandb_is_on_with_a_key_or_offline_and_its_key_never_printed() {
    assert_eq!(settings_of(&[]).unwrap().wandb, None);
    assert_eq!(settings_of(&[("WANDB_PROJECT", "p")]).unwrap().wandb, None);
    let on = settings_of(&[("WANDB_API_KEY", "local-secret-key")]).unwrap();
    let w = on.wandb.clone().unwrap();
    assert_eq!(
        (
            w.base_url.as_str(),
            w.project.as_str(),
            w.entity.as_deref(),
            w.offline,
            w.dir.as_deref()
        ),
        (DEFAULT_WANDB_BASE_URL, "driftloop", None, false, None)
    );
    assert!(!format!("{on:?}").contains("local-secret-key"));
    let offline = settings_of(&[
        ("WANDB_MODE", "offline"),
        ("WANDB_DIR", "/tmp/runs"),
        ("WANDB_ENTITY", "team"),
        ("WANDB_PROJECT", "churn"),
        ("WANDB_BASE_URL", "http://127.0.0.1:8080/"),
    ])
    .unwrap()
    .wandb
    .unwrap();
    assert_eq!(
        (
            offline.base_url.as_str(),
            offline.project.as_str(),
            offline.entity.as_deref(),
            offline.offline
        ),
        ("http://127.0.0.1:8080", "churn", Some("team"), true)
    );
    assert_eq!(offline.dir.as_deref(), Some(Path::new("/tmp/runs")));
    assert_eq!(
        settings_of(&[("WANDB_API_KEY", "k"), ("WANDB_MODE", "disabled")])
            .unwrap()
            .wandb,
        None
    );
    let err = settings_of(&[
        ("WANDB_API_KEY", "k"),
        ("WANDB_MODE", "sometimes"),
        ("WANDB_BASE_URL", "api.wandb.ai"),
        ("WANDB_PROJECT", "a/b"),
    ])
    .unwrap_err()
    .to_string();
    for part in ["WANDB_MODE", "WANDB_BASE_URL", "WANDB_PROJECT"] {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert!(!err.contains("\"k\""), "{err}");
}
