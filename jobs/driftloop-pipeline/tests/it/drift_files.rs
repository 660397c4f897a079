//! Files counted as they are stored: the profile of a CSV (counted row by row) and of
//! Parquet files whose categories are text, categoricals, integers or the canonical Enums
//! equals the profile of the same rows read into the feature table's types.

use std::path::{Path, PathBuf};

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::{spec, LabelSource};
use driftloop_pipeline::csv_io::{read_feature_csv, write_feature_rows};
use driftloop_pipeline::frames::{profile_rows_file, read_rows_file, rows_frame};
use driftloop_pipeline::parquet_texts::ParquetTexts;
use driftloop_stats::profile;
use polars::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data-fixtures")
}

/// `frame` with every Enum column cast to `categories` (text or a categorical; `None`
/// keeps them) and every integer column to `scores`, written as Parquet.
fn write_as(frame: &DataFrame, path: &Path, categories: Option<&DataType>, scores: &DataType) {
    let columns = frame
        .columns()
        .iter()
        .map(|column| match column.dtype() {
            DataType::Enum(..) => categories.map_or_else(|| column.clone(), |c| column.cast(c).unwrap()),
            t if t.is_integer() => column.cast(scores).unwrap(),
            _ => column.clone(),
        })
        .collect::<Vec<Column>>();
    let mut frame = DataFrame::new_infer_height(columns).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut frame)
        .unwrap();
}

#[test]
fn a_file_is_profiled_as_its_typed_rows_whatever_its_column_types() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["baseline-120.csv", "covariate-shift-1000.csv", "label-shift-1000.csv"] {
        let csv = fixtures().join(name);
        let typed = read_rows_file(&csv).unwrap();
        let expected = profile(&typed, "reference").unwrap();
        assert_eq!(expected.rows, typed.height() as u64);
        assert_eq!(profile_rows_file(&csv, "reference").unwrap(), expected, "{name} as CSV");
        let categorical = DataType::from_categories(Categories::global());
        for (layout, categories, scores) in [
            ("typed", None, DataType::UInt8),
            ("text", Some(DataType::String), DataType::String),
            ("categorical", Some(categorical.clone()), DataType::Int64),
            ("text-float-scores", Some(DataType::String), DataType::Float64),
        ] {
            let path = dir.path().join(format!("{layout}-{name}.parquet"));
            write_as(&typed, &path, categories.as_ref(), &scores);
            assert_eq!(
                profile_rows_file(&path, "reference").unwrap(),
                expected,
                "{name} as Parquet with {layout} columns"
            );
        }
    }
}

/// The files pandas (pyarrow) writes (`data-fixtures/drift/pandas_parquet.py`): text
/// columns with v1 pages and zstd; categoricals (of text, and of integers for the scores)
/// with v2 pages, snappy and four row groups. Every column is counted from its
/// dictionaries, and the profile is the CSV's.
#[test]
fn pandas_parquet_files_are_counted_from_their_dictionaries() {
    let csv = fixtures().join("covariate-shift-1000.csv");
    let expected = profile_rows_file(&csv, "current").unwrap();
    let s = spec();
    let texts: Vec<&str> = s
        .features
        .iter()
        .map(|c| c.name.as_str())
        .chain([s.label.as_str()])
        .collect();
    assert_eq!(texts.len(), 18, "17 feature columns and the label");
    for name in ["categories-as-strings.parquet", "categories-as-categoricals.parquet"] {
        let path = fixtures().join("drift").join(name);
        assert_eq!(profile_rows_file(&path, "current").unwrap(), expected, "{name}");
        let file = ParquetTexts::open(&path).unwrap();
        for column in &texts {
            let counted = file
                .count(column)
                .unwrap_or_else(|| panic!("{name}: {column} is not counted from its dictionary"));
            assert_eq!((counted.rows, counted.missing), (1_000, 0), "{name}: {column}");
        }
    }
}

#[test]
fn a_large_csv_is_counted_without_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows = generate(Scenario::CovariateShift, 20_000, 7);
    let csv = dir.path().join("rows.csv");
    write_feature_rows(&rows, std::fs::File::create(&csv).unwrap()).unwrap();
    let counted = profile_rows_file(&csv, "current").unwrap();
    let typed = profile(&rows_frame(&rows).unwrap(), "current").unwrap();
    assert_eq!(counted, typed);
    assert_eq!(counted.rows, 20_000);
    assert_eq!(counted.label.iter().sum::<u64>(), 20_000);
}

#[test]
fn a_value_outside_the_levels_in_a_text_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let typed =
        rows_frame(&read_feature_csv(&fixtures().join("baseline-120.csv"), LabelSource::Expert).unwrap()).unwrap();
    let mut texts: Vec<String> = typed
        .column("sadness")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    texts[3] = "Often".into();
    let mut frame = typed.clone();
    frame.with_column(Column::new("sadness".into(), texts)).unwrap();
    let path = dir.path().join("bad.parquet");
    write_as(&frame, &path, Some(&DataType::String), &DataType::String);
    let err = profile_rows_file(&path, "current").unwrap_err().to_string();
    assert!(
        err.contains("bad.parquet") && err.contains("current frame") && err.contains("\"sadness\" holds \"Often\""),
        "{err}"
    );
    let levels = spec().features[0].kind.levels().unwrap().join(", ");
    assert!(err.contains(&levels), "the error lists the levels: {err}");

    // A score outside its range in a column of integers is named as a number.
    let mut frame = typed.clone();
    let mut scores: Vec<i64> = frame
        .column("optimism")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    scores[7] = 11;
    frame.with_column(Column::new("optimism".into(), scores)).unwrap();
    let path = dir.path().join("score.parquet");
    write_as(&frame, &path, Some(&DataType::String), &DataType::Int64);
    let err = profile_rows_file(&path, "current").unwrap_err().to_string();
    assert!(
        err.contains("column \"optimism\" holds 11, which is not one of its levels"),
        "{err}"
    );

    // A file without one of the spec's columns says which.
    let mut frame = typed.clone();
    let _ = frame.drop_in_place("optimism").unwrap();
    let path = dir.path().join("short.parquet");
    write_as(&frame, &path, Some(&DataType::String), &DataType::String);
    let err = profile_rows_file(&path, "current").unwrap_err().to_string();
    assert!(err.contains("no column \"optimism\""), "{err}");
}
