//! The SQL DDL agrees with the dataset spec: same columns in the same order, every
//! spec value accepted, every value outside the spec refused, on both backends.

use driftloop_core::spec;

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    feature_table_columns_follow_the_spec,
    the_table_accepts_exactly_the_spec_values
);

fn expected_columns() -> Vec<String> {
    let s = spec();
    let mut columns = vec!["id".to_string()];
    columns.extend(s.features.iter().map(|c| c.name.to_string()));
    columns.extend(
        [
            s.label.as_str(),
            "label_source",
            "model_version",
            "request_id",
            "created_at",
        ]
        .map(String::from),
    );
    columns
}

fn feature_table_columns_follow_the_spec(backend: Backend) {
    let t = TestDb::new(backend, "ddl_columns");
    let s = spec();
    match backend {
        Backend::Sqlite => {
            let names: Vec<String> = t
                .query("SELECT name FROM pragma_table_info('features') ORDER BY cid")
                .into_iter()
                .map(|r| r[0].clone().unwrap())
                .collect();
            assert_eq!(names, expected_columns());
        }
        Backend::Mysql => {
            let rows = t.query(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'features' ORDER BY ORDINAL_POSITION",
            );
            let names: Vec<String> = rows.iter().map(|r| r[0].clone().unwrap()).collect();
            assert_eq!(names, expected_columns());
            let enum_type = |levels: &[String]| {
                format!(
                    "enum({})",
                    levels.iter().map(|l| format!("'{l}'")).collect::<Vec<_>>().join(",")
                )
            };
            for (column, row) in s.features.iter().zip(&rows[1..]) {
                let column_type = row[1].clone().unwrap();
                match column.kind.levels() {
                    Some(levels) => assert_eq!(column_type, enum_type(levels), "{}", column.name),
                    None => assert!(
                        column_type.starts_with("tinyint") && column_type.ends_with("unsigned"),
                        "{}: {column_type}",
                        column.name
                    ),
                }
            }
            let after_features = 1 + s.n_features();
            assert_eq!(rows[after_features][1].clone().unwrap(), enum_type(&s.classes));
            assert_eq!(rows[after_features + 1][1].clone().unwrap(), "enum('expert','model')");
        }
    }
}

fn the_table_accepts_exactly_the_spec_values(backend: Backend) {
    let t = TestDb::new(backend, "ddl_values");
    let s = spec();
    let sql = driftloop_db::testing::plain_insert_sql();
    let valid: Vec<String> = s
        .features
        .iter()
        .map(|c| match (c.kind.levels(), c.kind.integer_range()) {
            (Some(levels), _) => levels[0].clone(),
            (None, Some((min, max))) => ((min + max) / 2).to_string(),
            (None, None) => unreachable!("the shipped dataset has no number column"),
        })
        .chain([s.classes[0].clone(), "expert".to_string()])
        .collect();
    let insert = |values: &[String]| t.exec(&sql, &values.iter().map(|v| Some(v.as_str())).collect::<Vec<_>>());

    let mut accepted = 0;
    for (col_idx, column) in s.features.iter().enumerate() {
        let (good, bad): (Vec<String>, Vec<String>) = match (column.kind.levels(), column.kind.integer_range()) {
            (Some(levels), _) => (levels.to_vec(), ["Never", "maybe", ""].map(String::from).to_vec()),
            (None, Some((min, max))) => (
                (min..=max).map(|n| n.to_string()).collect(),
                [min - 1, max + 1, 255]
                    .iter()
                    .filter(|n| !(min..=max).contains(*n))
                    .map(|n| n.to_string())
                    .collect(),
            ),
            (None, None) => unreachable!("the shipped dataset has no number column"),
        };
        for value in good {
            let mut values = valid.clone();
            values[col_idx] = value.clone();
            insert(&values).unwrap_or_else(|e| panic!("{} = {value:?} refused: {e}", column.name));
            accepted += 1;
        }
        for value in bad {
            let mut values = valid.clone();
            values[col_idx] = value.clone();
            assert!(insert(&values).is_err(), "{} = {value:?} was accepted", column.name);
        }
    }
    for (label_idx, bad) in [(s.n_features(), "Anxiety"), (s.n_features() + 1, "crowd")] {
        let mut values = valid.clone();
        values[label_idx] = bad.to_string();
        assert!(insert(&values).is_err(), "{bad:?} was accepted");
    }
    assert_eq!(t.db.count_rows().unwrap(), accepted);
}
