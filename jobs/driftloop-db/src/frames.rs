//! Bulk reads of the feature table into Polars DataFrames with one schema on every
//! backend ([`feature_schema`]): categorical and ordinal columns as Polars `Enum`s of the
//! spec's levels, integers as `UInt8` (from 0 to 255) or `Int64`, numbers as `Float64`,
//! missing values as nulls, timestamps as UTC `Datetime(ms)`, rows sorted by `id`.
//!
//! MySQL goes through connectorx (binary protocol, partitioned on `id` for large
//! tables) into Arrow record batches, which cross into Polars over the Arrow C Data
//! Interface without copying the buffers. SQLite rows are read through rusqlite.

use arrow::array::RecordBatch;
use connectorx::prelude::{get_arrow, CXQuery, SourceConn};
use driftloop_core::{spec, ColumnKind, LabelSource};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::records::RowFilter;
use crate::url::Secret;

/// Above this many ids in range a MySQL read is split into partitions read in parallel.
const PARTITION_MIN_ROWS: i64 = 200_000;

fn enum_dtype<S: AsRef<str>>(levels: &[S]) -> DataType {
    let categories = FrozenCategories::new(levels.iter().map(|l| l.as_ref())).expect("spec levels are unique");
    DataType::from_frozen_categories(categories)
}

/// The type of a feature column in frames and snapshots.
pub fn column_dtype(kind: &ColumnKind) -> DataType {
    match kind {
        ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => enum_dtype(levels),
        ColumnKind::Integer { min, max, .. } if *min >= 0 && *max <= 255 => DataType::UInt8,
        ColumnKind::Integer { .. } => DataType::Int64,
        ColumnKind::Number { .. } => DataType::Float64,
    }
}

/// The schema every bulk read returns, in column order.
pub fn feature_schema() -> Schema {
    let s = spec();
    let mut schema = Schema::default();
    schema.insert("id".into(), DataType::Int64);
    for column in &s.features {
        schema.insert(column.name.as_str().into(), column_dtype(&column.kind));
    }
    schema.insert(s.label.as_str().into(), enum_dtype(&s.classes));
    let sources: Vec<&str> = LabelSource::ALL.iter().map(|l| l.as_str()).collect();
    schema.insert("label_source".into(), enum_dtype(&sources));
    schema.insert("model_version".into(), DataType::String);
    schema.insert("request_id".into(), DataType::String);
    schema.insert("created_at".into(), DataType::Datetime(TimeUnit::Milliseconds, None));
    schema
}

/// The WHERE clause of a filter. connectorx takes no bound parameters, so this is the
/// one place SQL carries values: an `i64` formatted as a number and a closed enum
/// rendered from constants, never text that came from outside.
/// The SQL that selects a filter's rows, as recorded with snapshots.
pub fn describe_query(filter: &RowFilter) -> String {
    format!(
        "SELECT {} FROM features WHERE {} ORDER BY id",
        select_list("created_at"),
        where_clause(filter)
    )
}

fn where_clause(filter: &RowFilter) -> String {
    let mut conditions = vec![format!("id > {}", filter.after_id.unwrap_or(0))];
    if let Some(source) = filter.label_source {
        conditions.push(format!("label_source = '{}'", source.as_str()));
    }
    conditions.join(" AND ")
}

fn select_list(created_at: &str) -> String {
    let names: Vec<String> = feature_schema()
        .iter_names()
        .map(|name| {
            if name == "created_at" {
                created_at.to_string()
            } else {
                name.to_string()
            }
        })
        .collect();
    names.join(", ")
}

/// Casts every column to its type in [`feature_schema`] (a value outside the spec's
/// levels is an error, not a null) and sorts by `id`.
pub fn canonicalize(frame: DataFrame) -> Result<DataFrame> {
    let columns = feature_schema()
        .iter()
        .map(|(name, dtype)| {
            let column = frame.column(name)?;
            let series = column.as_materialized_series();
            let cast = match (series.dtype(), dtype) {
                // A timestamp arrives as naive UTC at whatever unit the source used.
                (DataType::Int64, DataType::Datetime(..)) => series.cast(dtype)?,
                _ => series.strict_cast(dtype)?,
            };
            Ok(cast.into_column())
        })
        .collect::<Result<Vec<Column>>>()?;
    let frame = DataFrame::new_infer_height(columns)?;
    Ok(frame.sort(["id"], SortMultipleOptions::default().with_multithreaded(true))?)
}

fn empty_frame() -> DataFrame {
    let columns = feature_schema()
        .iter()
        .map(|(name, dtype)| Column::new_empty(name.clone(), dtype))
        .collect();
    DataFrame::new_infer_height(columns).expect("empty columns have one height")
}

/// Moves Arrow record batches (arrow-rs) into a Polars DataFrame over the Arrow C Data
/// Interface: the buffers are handed over, not copied.
pub fn record_batches_to_frame(batches: &[RecordBatch]) -> Result<DataFrame> {
    let Some(first) = batches.first() else {
        return Ok(DataFrame::empty());
    };
    let arrow_schema = first.schema();
    let mut columns = Vec::with_capacity(arrow_schema.fields().len());
    for (col_idx, field) in arrow_schema.fields().iter().enumerate() {
        let mut chunks = Vec::with_capacity(batches.len());
        for batch in batches {
            chunks.push(arrow_to_polars(batch.column(col_idx).as_ref())?);
        }
        let series = Series::from_arrow_chunks(field.name().as_str().into(), chunks)?;
        columns.push(series.into_column());
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

fn arrow_to_polars(array: &dyn arrow::array::Array) -> Result<Box<dyn polars_arrow::array::Array>> {
    let (ffi_array, ffi_schema) =
        arrow::ffi::to_ffi(&array.to_data()).map_err(|e| Error::Corrupt(format!("exporting an arrow array: {e}")))?;
    // SAFETY: both crates declare these structs #[repr(C)] after the Arrow C Data
    // Interface, so they have one layout. The array is moved (its release callback now
    // belongs to Polars); the schema is only read and is released by arrow-rs on drop.
    unsafe {
        let schema = &*(&ffi_schema as *const arrow::ffi::FFI_ArrowSchema as *const polars_arrow::ffi::ArrowSchema);
        let field = polars_arrow::ffi::import_field_from_c(schema)?;
        let array = std::mem::transmute::<arrow::ffi::FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(ffi_array);
        Ok(polars_arrow::ffi::import_array_from_c(array, field.dtype)?)
    }
}

/// Reads feature rows from MySQL with connectorx; `id_range` is the filter's smallest and
/// largest `id` (from [`id_range_sql`]), `None` when it selects no row.
pub(crate) fn read_mysql(
    url: &Secret,
    shown_url: &str,
    filter: &RowFilter,
    id_range: Option<(i64, i64)>,
) -> Result<DataFrame> {
    let bulk_error = |reason: String| Error::BulkRead {
        url: shown_url.to_string(),
        reason,
    };
    let source = SourceConn::try_from(url.expose()).map_err(|e| bulk_error(e.to_string()))?;
    let query = format!(
        "SELECT {} FROM features WHERE {}",
        select_list("created_at"),
        where_clause(filter)
    );
    let Some((min_id, max_id)) = id_range else {
        return Ok(empty_frame());
    };
    let n_partitions = if max_id - min_id >= PARTITION_MIN_ROWS {
        std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8)
    } else {
        1
    };
    let queries: Vec<CXQuery<String>> = if n_partitions == 1 {
        vec![CXQuery::naked(query.clone())]
    } else {
        // Ranges over `id`, known already, so connectorx skips its own MIN/MAX query.
        let partition =
            connectorx::partition::PartitionQuery::new(&query, "id", Some(min_id), Some(max_id), n_partitions);
        connectorx::partition::partition(&partition, &source).map_err(|e| bulk_error(e.to_string()))?
    };
    let pre_execution: Vec<String> = crate::sql::MYSQL_SESSION_INIT.iter().map(|s| s.to_string()).collect();
    let destination =
        get_arrow(&source, Some(query), &queries, Some(&pre_execution)).map_err(|e| bulk_error(e.to_string()))?;
    let batches = destination.arrow().map_err(|e| bulk_error(e.to_string()))?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(empty_frame());
    }
    // Partitions come back in the order their threads finished; canonicalize sorts by id.
    canonicalize(record_batches_to_frame(&batches)?)
}

/// The query for the smallest and largest `id` a filter selects (NULLs when none), which
/// sizes the partitions of a MySQL read; the adapter runs it on its pool.
pub(crate) fn id_range_sql(filter: &RowFilter) -> String {
    format!("SELECT MIN(id), MAX(id) FROM features WHERE {}", where_clause(filter))
}

/// How a SQLite column is read.
#[derive(Clone, Copy)]
enum Cell {
    Text,
    Integer,
    Real,
}

/// Reads feature rows from SQLite.
pub(crate) fn read_sqlite(conn: &rusqlite::Connection, filter: &RowFilter) -> Result<DataFrame> {
    let s = spec();
    let sql = format!(
        "SELECT {} FROM features WHERE {} ORDER BY id",
        select_list("CAST(ROUND(unixepoch(created_at, 'subsec') * 1000) AS INTEGER)"),
        where_clause(filter)
    );
    let sqlite_error = |e| Error::Sqlite {
        context: "reading feature rows".into(),
        source: e,
    };
    let mut stmt = conn.prepare(&sql).map_err(sqlite_error)?;
    let n_columns = stmt.column_count();
    let mut ids: Vec<i64> = Vec::new();
    let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); n_columns];
    let mut integers: Vec<Vec<Option<i64>>> = vec![Vec::new(); n_columns];
    let mut reals: Vec<Vec<Option<f64>>> = vec![Vec::new(); n_columns];
    let schema = feature_schema();
    let kinds: Vec<Cell> = schema
        .iter_values()
        .map(|dtype| match dtype {
            DataType::Enum(..) | DataType::String => Cell::Text,
            DataType::Float64 => Cell::Real,
            _ => Cell::Integer,
        })
        .collect();
    let mut rows = stmt.query([]).map_err(sqlite_error)?;
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        ids.push(row.get(0).map_err(sqlite_error)?);
        for col_idx in 1..n_columns {
            match kinds[col_idx] {
                Cell::Text => texts[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
                Cell::Integer => integers[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
                Cell::Real => reals[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
            }
        }
    }
    let mut columns = vec![Series::new("id".into(), ids).into_column()];
    for (col_idx, name) in schema.iter_names().enumerate().skip(1) {
        let series = match kinds[col_idx] {
            Cell::Text => Series::new(name.clone(), std::mem::take(&mut texts[col_idx])),
            Cell::Integer => Series::new(name.clone(), std::mem::take(&mut integers[col_idx])),
            Cell::Real => Series::new(name.clone(), std::mem::take(&mut reals[col_idx])),
        };
        columns.push(series.into_column());
    }
    debug_assert_eq!(columns.len(), s.n_features() + 6);
    canonicalize(DataFrame::new_infer_height(columns)?)
}
