//! Feature rows from outside the database as Polars DataFrames with the feature table's
//! schema ([`feature_schema`]: rows parsed from CSV, Parquet or CSV files of rows), and
//! frames as training data. Bulk reads of the table itself are `driftloop_db::frames`.

use driftloop_core::{spec, FeatureRow, LabelSource};
pub use driftloop_db::frames::{describe_query, feature_schema, frame_bytes, record_batches_to_frame};
use polars::prelude::*;

use crate::error::{Error, Result};

/// The spec columns of rows that come from outside the feature table (a CSV file): the
/// features, the label and `label_source`, with the types of [`feature_schema`].
pub fn rows_frame(rows: &[FeatureRow]) -> Result<DataFrame> {
    let s = spec();
    let schema = feature_schema();
    let mut columns = Vec::with_capacity(s.n_features() + 2);
    for (col_idx, column) in s.features.iter().enumerate() {
        let values = rows.iter().map(|r| Some(r.features[col_idx]).filter(|v| !v.is_nan()));
        let series = match column.kind.levels() {
            Some(levels) => {
                let texts: Vec<Option<&str>> = values.map(|v| v.map(|v| levels[v as usize].as_str())).collect();
                Series::new(column.name.as_str().into(), texts)
            }
            None => Series::new(column.name.as_str().into(), values.collect::<Vec<Option<f64>>>()),
        };
        columns.push(series);
    }
    columns.push(Series::new(
        s.label.as_str().into(),
        rows.iter().map(|r| r.label_text()).collect::<Vec<&str>>(),
    ));
    columns.push(Series::new(
        "label_source".into(),
        rows.iter().map(|r| r.label_source.as_str()).collect::<Vec<&str>>(),
    ));
    let columns = columns
        .into_iter()
        .map(|series| {
            let dtype = schema.get(series.name()).expect("a schema column");
            Ok(series.strict_cast(dtype)?.into_column())
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new_infer_height(columns)?)
}

fn is_parquet(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

fn open_file(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A Parquet file's reader, after checking that the file has every spec column (the
/// features and the label); returns their names too.
fn parquet_with_spec_columns(path: &std::path::Path) -> Result<(ParquetReader<std::fs::File>, Vec<String>)> {
    let s = spec();
    let names: Vec<String> = s
        .features
        .iter()
        .map(|c| c.name.clone())
        .chain([s.label.clone()])
        .collect();
    let mut reader = ParquetReader::new(open_file(path)?);
    let schema = reader.schema()?;
    if let Some(name) = names.iter().find(|name| !schema.contains(name.as_str())) {
        return Err(Error::Corrupt(format!("{}: no column {name:?}", path.display())));
    }
    Ok((reader, names))
}

/// The spec columns (features and label) of a Parquet file, as the file stores them.
fn read_parquet_spec_columns(path: &std::path::Path) -> Result<DataFrame> {
    let (reader, names) = parquet_with_spec_columns(path)?;
    Ok(reader.with_columns(Some(names)).finish()?)
}

/// The [`driftloop_core::Profile`] of a Parquet (`.parquet`) or CSV file of feature rows,
/// counted from the values as the file holds them: a CSV row by row as it is read (no row
/// kept), a Parquet file's spec columns read one at a time as they are stored (text,
/// categoricals or typed) and counted by comparing each value with the levels
/// ([`driftloop_stats::profile_columns`]), no row cast. `which` names the file in errors ("reference", "current"). A value outside
/// the spec is an error, as in [`read_rows_file`].
pub fn profile_rows_file(path: &std::path::Path, which: &'static str) -> Result<driftloop_core::Profile> {
    if !is_parquet(path) {
        return crate::csv_io::profile_feature_csv(path);
    }
    drop(parquet_with_spec_columns(path)?);
    // A column at a time, as many at once as there are cores: memory holds a few columns,
    // not the file's every row. A dictionary-encoded column of text or whole numbers is
    // counted from its dictionary indices as stored; any other column is read through
    // Polars.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stored = crate::parquet_texts::ParquetTexts::open(path);
    let read_column = |name: &str| {
        let file = std::fs::File::open(path).map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
        ParquetReader::new(file)
            .with_columns(Some(vec![name.to_string()]))
            .finish()
    };
    let count_stored = |name: &str| stored.as_ref().and_then(|file| file.count(name));
    driftloop_stats::profile_columns(which, threads, read_column, count_stored)
        .map_err(|e| Error::Corrupt(format!("{}: {e}", path.display())))
}

/// Reads the spec columns of a Parquet (`.parquet`) or CSV file of feature rows, with the
/// types of [`feature_schema`]. CSV files are validated cell by cell like an import; a
/// Parquet value outside the spec is an error too.
pub fn read_rows_file(path: &std::path::Path) -> Result<DataFrame> {
    if !is_parquet(path) {
        let rows = crate::csv_io::read_feature_csv(path, LabelSource::Expert)?;
        return rows_frame(&rows);
    }
    let frame = read_parquet_spec_columns(path)?;
    let s = spec();
    let schema = feature_schema();
    let names = s.features.iter().map(|c| c.name.as_str()).chain([s.label.as_str()]);
    let columns = names
        .map(|name| {
            let column = frame
                .column(name)
                .map_err(|_| Error::Corrupt(format!("{}: no column {name:?}", path.display())))?;
            let dtype = schema.get(name).expect("a schema column");
            let series = column.as_materialized_series();
            // Already typed (a snapshot) or text (most other writers): cast once; other
            // types (integer scores, categoricals) go through their text form.
            let text = match series.dtype() {
                t if t == dtype || *t == DataType::String => series.clone(),
                _ => series.cast(&DataType::String)?,
            };
            let cast = text.strict_cast(dtype).map_err(|e| {
                Error::Corrupt(format!(
                    "{}: column {name:?} has values outside the spec: {e}",
                    path.display()
                ))
            })?;
            Ok(cast.into_column())
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new_infer_height(columns)?)
}

/// The values of a column's physical series as `f64`, a null as NaN.
fn column_numbers(physical: &Series) -> Result<Vec<f64>> {
    let values = physical.cast(&DataType::Float64)?;
    Ok(values
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(driftloop_core::MISSING))
        .collect())
}

/// The class indices of the label column, refusing nulls.
fn label_codes(frame: &DataFrame, name: &str) -> Result<Vec<u8>> {
    let physical = frame.column(name)?.as_materialized_series().to_physical_repr();
    let codes = physical.cast(&DataType::UInt8)?;
    let codes = codes.u8()?;
    if codes.null_count() > 0 {
        return Err(Error::Corrupt(format!(
            "column {name} has {} missing value(s)",
            codes.null_count()
        )));
    }
    Ok(codes.into_no_null_iter().collect())
}

/// `frame` with only what training reads from it: `id`, the features and the label. The
/// other columns (the scored rows' `model_version` and `request_id`, 16 bytes a row each
/// even when empty, `created_at`, `label_source`) are freed here, before the training
/// values are built beside the frame.
pub fn training_columns(frame: DataFrame) -> Result<DataFrame> {
    let s = spec();
    let kept = std::iter::once("id")
        .chain(s.features.iter().map(|c| c.name.as_str()))
        .chain(std::iter::once(s.label.as_str()));
    Ok(frame.select(kept)?)
}

/// A frame of labelled feature rows ([`feature_schema`]) as training data: feature values
/// row-major in the spec's column order, one byte each when the spec's columns allow it
/// (`driftloop_model::FeatureValues`), and class indices. A missing value in a column the
/// dataset does not declare nullable is refused.
pub fn frame_to_dataset(frame: &DataFrame) -> Result<driftloop_model::Dataset> {
    let s = spec();
    let mut values = feature_values(frame.height());
    for (c, column) in s.features.iter().enumerate() {
        set_feature(&mut values, c, frame.column(&column.name)?)?;
    }
    Ok(driftloop_model::Dataset {
        n_features: s.n_features(),
        values,
        labels: label_codes(frame, &s.label)?,
    })
}

/// [`frame_to_dataset`] of a frame taken whole, and its `id` column: each feature column
/// is freed once its values are copied in, so that the frame and the training values are
/// not both held whole (26 MB and 18 MB at 1,000,000 rows of the shipped dataset).
pub fn into_dataset(mut frame: DataFrame) -> Result<(driftloop_model::Dataset, Column)> {
    let s = spec();
    let ids = frame.drop_in_place("id")?;
    let labels = label_codes(&frame, &s.label)?;
    let mut values = feature_values(frame.height());
    for (c, column) in s.features.iter().enumerate() {
        set_feature(&mut values, c, &frame.drop_in_place(&column.name)?)?;
    }
    let data = driftloop_model::Dataset {
        n_features: s.n_features(),
        values,
        labels,
    };
    Ok((data, ids))
}

/// Room for `n` rows of the spec's features (see [`frame_to_dataset`]).
fn feature_values(n: usize) -> driftloop_model::FeatureValues {
    driftloop_model::FeatureValues::for_columns(&driftloop_model::Encoder::from_spec(spec()), n)
}

/// Sets feature `c` of the training values from its column: a column of one-byte values
/// (levels, small integers) a byte at a time, any other as numbers.
fn set_feature(values: &mut driftloop_model::FeatureValues, c: usize, column: &Column) -> Result<()> {
    let spec_column = &spec().features[c];
    let p = spec().n_features();
    let physical = column.as_materialized_series().to_physical_repr();
    let refuse_missing = |missing: usize| {
        if missing > 0 && !spec_column.nullable {
            return Err(Error::Corrupt(format!(
                "column {} has {missing} missing value(s) and is not nullable",
                spec_column.name
            )));
        }
        Ok(())
    };
    if let Ok(bytes) = physical.u8() {
        refuse_missing(bytes.null_count())?;
        values.set_column_bytes(c, p, || bytes.iter());
    } else {
        let numbers = column_numbers(&physical)?;
        refuse_missing(numbers.iter().filter(|v| v.is_nan()).count())?;
        values.set_column(c, p, &numbers);
    }
    Ok(())
}
