//! Bulk reads of the feature table into Polars DataFrames with one schema on every
//! backend ([`feature_schema`]): categorical and ordinal columns as Polars `Enum`s of the
//! spec's levels, integers as `UInt8` (from 0 to 255) or `Int64`, numbers as `Float64`,
//! missing values as nulls, timestamps as UTC `Datetime(ms)`, rows sorted by `id`.
//!
//! MySQL goes through connectorx (binary protocol, partitioned on `id` for large
//! tables, each level as its ENUM index) into Arrow record batches, which cross into
//! Polars over the Arrow C Data Interface without copying the buffers. SQLite rows are
//! read through rusqlite.

use arrow::array::RecordBatch;
use connectorx::prelude::{get_arrow, CXQuery, SourceConn};
use driftloop_core::{spec, ColumnKind, LabelSource};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::records::RowFilter;
use crate::url::Secret;

mod rounds;
use rounds::TypedRounds;
pub use rounds::{frame_bytes, is_null_scalar, nulls_as_scalar};

/// How a bulk read is cut. The rows of one round are held as the source gives them (a
/// level as MySQL's ENUM index, or as a `String` per cell on SQLite) only until they are
/// typed (a level in one byte) and appended to the rounds before, so a read holds its
/// typed rows and one round's raw rows, not every row's raw cells. On MySQL a round is a
/// range of ids, read by partitions in parallel when the whole read spans enough ids; on
/// SQLite it is a number of rows of the one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRounds {
    /// The ids (MySQL) or rows (SQLite) of one round.
    pub round_rows: i64,
    /// From this many ids in range, each round of a MySQL read is split into partitions
    /// read in parallel.
    pub partition_min_ids: i64,
}

impl Default for ReadRounds {
    fn default() -> Self {
        ReadRounds {
            round_rows: 131_072,
            partition_min_ids: 200_000,
        }
    }
}

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
        select_list("created_at", Levels::Text),
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

/// How a level column is selected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Levels {
    /// As its text.
    Text,
    /// As MySQL's ENUM index (1 for the first level), named as the column: an integer
    /// per cell crosses the wire and Arrow, where the text took a string view of 16 bytes.
    EnumIndex,
}

fn select_list(created_at: &str, levels: Levels) -> String {
    let names: Vec<String> = feature_schema()
        .iter()
        .map(|(name, dtype)| {
            if name == "created_at" {
                created_at.to_string()
            } else if levels == Levels::EnumIndex && matches!(dtype, DataType::Enum(..)) {
                format!("{name} + 0 AS {name}")
            } else {
                name.to_string()
            }
        })
        .collect();
    names.join(", ")
}

/// The level columns of a MySQL read, selected as their ENUM index, as the levels they
/// number (the ENUMs' levels are the spec's, in its order: see [`crate::ddl`]). An index
/// that is no level (0, what MySQL stores when it is made to keep a value that is not one
/// of the ENUM's) is an error naming the column, as a text that is no level is.
fn levels_from_enum_index(frame: DataFrame) -> Result<DataFrame> {
    let schema = feature_schema();
    let mut columns = frame.into_columns();
    for column in columns.iter_mut() {
        let Some(dtype @ DataType::Enum(categories, _)) = schema.get(column.name()) else {
            continue;
        };
        let series = column.as_materialized_series();
        if matches!(series.dtype(), DataType::Enum(..) | DataType::String) {
            continue;
        }
        let n_levels = categories.categories().len() as i64;
        let index = series.strict_cast(&DataType::Int64)?;
        let index = index.i64()?;
        if let Some(bad) = index.iter().flatten().find(|i| !(1..=n_levels).contains(i)) {
            return Err(Error::Corrupt(format!(
                "features.{} holds ENUM index {bad}, which is not one of its {n_levels} levels \
                 (MySQL keeps index 0 for a value it was made to store outside them)",
                column.name()
            )));
        }
        let codes = (index - 1).into_series().strict_cast(&dtype.to_physical())?;
        // The Enum made from its codes directly: casting integers to an Enum is deprecated
        // in Polars and says so on stderr, once a column and round.
        let levels = with_match_categorical_physical_type!(dtype.cat_physical()?, |$C| {
            type Physical = ChunkedArray<<$C as PolarsCategoricalType>::PolarsPhysical>;
            let codes: &Physical = codes.as_ref().as_ref();
            CategoricalChunked::<$C>::from_cats_and_dtype(codes.clone(), dtype.clone()).into_series()
        });
        *column = levels.into_column();
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// Casts every column to its type in [`feature_schema`] (a value outside the spec's
/// levels is an error, not a null) and sorts by `id`. Rows already in `id` order (a
/// snapshot, a round read in one piece) are kept where they are: sorting copies every
/// column (and first makes each one chunk), twice the frame's memory for nothing.
pub fn canonicalize(frame: DataFrame) -> Result<DataFrame> {
    let columns = feature_schema()
        .iter()
        .map(|(name, dtype)| {
            let column = frame.column(name)?;
            // A column of nulls held as one value stays so (made, it would be 16 bytes a
            // row for text).
            if is_null_scalar(column) && column.dtype() == dtype {
                return Ok(column.clone());
            }
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
    if in_id_order(&frame)? {
        return Ok(frame);
    }
    Ok(frame.sort(["id"], SortMultipleOptions::default().with_multithreaded(true))?)
}

/// Whether the frame's rows are in `id` order (ids never fall; no id is missing).
fn in_id_order(frame: &DataFrame) -> Result<bool> {
    let ids = frame.column("id")?.i64()?;
    if ids.null_count() > 0 {
        return Ok(false);
    }
    let mut previous = i64::MIN;
    for id in ids.into_no_null_iter() {
        if id < previous {
            return Ok(false);
        }
        previous = id;
    }
    Ok(true)
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

/// Reads feature rows from MySQL with connectorx, a round of ids at a time; `id_range` is
/// the filter's smallest and largest `id` (from [`id_range_sql`]), `None` when it selects
/// no row.
pub(crate) fn read_mysql(
    url: &Secret,
    shown_url: &str,
    filter: &RowFilter,
    id_range: Option<(i64, i64)>,
    rounds: ReadRounds,
) -> Result<DataFrame> {
    let bulk_error = |reason: String| Error::BulkRead {
        url: shown_url.to_string(),
        reason,
    };
    let source = SourceConn::try_from(url.expose()).map_err(|e| bulk_error(e.to_string()))?;
    let query = format!(
        "SELECT {} FROM features WHERE {}",
        select_list("created_at", Levels::EnumIndex),
        where_clause(filter)
    );
    let Some((min_id, max_id)) = id_range else {
        return Ok(empty_frame());
    };
    let n_partitions = if max_id - min_id >= rounds.partition_min_ids {
        std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8) as i64
    } else {
        1
    };
    let pre_execution: Vec<String> = crate::sql::MYSQL_SESSION_INIT.iter().map(|s| s.to_string()).collect();
    let round_ids = rounds.round_rows.max(1);
    let mut typed = TypedRounds::default();
    let mut start = min_id;
    while start <= max_id {
        let end = start.saturating_add(round_ids - 1).min(max_id);
        // Ranges over `id`, known already: connectorx runs the queries as they are, one
        // per partition (bounds are integers formatted as numbers).
        let step = ((end - start + 1) + n_partitions - 1) / n_partitions;
        let queries: Vec<CXQuery<String>> = (0..n_partitions)
            .map(|p| start + p * step)
            .filter(|&lo| lo <= end)
            .map(|lo| {
                let hi = lo.saturating_add(step - 1).min(end);
                CXQuery::naked(format!("{query} AND id BETWEEN {lo} AND {hi}"))
            })
            .collect();
        let destination = get_arrow(&source, Some(query.clone()), &queries, Some(&pre_execution))
            .map_err(|e| bulk_error(e.to_string()))?;
        let mut batches = destination.arrow().map_err(|e| bulk_error(e.to_string()))?;
        batches.retain(|b| b.num_rows() > 0);
        if !batches.is_empty() {
            // Partitions come back in the order their threads finished, each a range of
            // ids in batches of its own: put in order by their first id, the batches are
            // the round in id order, which canonicalize then keeps as it is (it sorts a
            // round that is not). Rounds follow one another in id order.
            batches.sort_by_key(first_id);
            typed.push(canonicalize(levels_from_enum_index(record_batches_to_frame(
                &batches,
            )?)?)?)?;
        }
        start = end.saturating_add(1);
    }
    typed.finish()
}

/// A batch's first `id` (`None` before any: a batch whose `id` is not a 64-bit integer
/// goes first and leaves the sorting to [`canonicalize`]).
fn first_id(batch: &RecordBatch) -> Option<i64> {
    use arrow::array::Array;
    let ids = batch.column_by_name("id")?;
    let ids = ids.as_any().downcast_ref::<arrow::array::Int64Array>()?;
    (!ids.is_empty() && ids.is_valid(0)).then(|| ids.value(0))
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

/// Reads feature rows from SQLite, typing them a round of rows at a time.
pub(crate) fn read_sqlite(conn: &rusqlite::Connection, filter: &RowFilter, rounds: ReadRounds) -> Result<DataFrame> {
    let s = spec();
    let sql = format!(
        "SELECT {} FROM features WHERE {} ORDER BY id",
        select_list(
            "CAST(ROUND(unixepoch(created_at, 'subsec') * 1000) AS INTEGER)",
            Levels::Text,
        ),
        where_clause(filter)
    );
    let sqlite_error = |e| Error::Sqlite {
        context: "reading feature rows".into(),
        source: e,
    };
    let mut stmt = conn.prepare(&sql).map_err(sqlite_error)?;
    let n_columns = stmt.column_count();
    let schema = feature_schema();
    let kinds: Vec<Cell> = schema
        .iter_values()
        .map(|dtype| match dtype {
            DataType::Enum(..) | DataType::String => Cell::Text,
            DataType::Float64 => Cell::Real,
            _ => Cell::Integer,
        })
        .collect();
    let round_rows = rounds.round_rows.max(1) as usize;
    let mut round = SqliteRound::new(n_columns);
    let mut typed = TypedRounds::default();
    let mut rows = stmt.query([]).map_err(sqlite_error)?;
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        round.ids.push(row.get(0).map_err(sqlite_error)?);
        for (col_idx, kind) in kinds.iter().enumerate().skip(1) {
            match kind {
                Cell::Text => round.texts[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
                Cell::Integer => round.integers[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
                Cell::Real => round.reals[col_idx].push(row.get(col_idx).map_err(sqlite_error)?),
            }
        }
        if round.ids.len() >= round_rows {
            typed.push(round.typed(&schema, &kinds)?)?;
        }
    }
    if !round.ids.is_empty() {
        typed.push(round.typed(&schema, &kinds)?)?;
    }
    debug_assert_eq!(n_columns, s.n_features() + 6);
    typed.finish()
}

/// The rows of one round of an SQLite read, column by column as read.
struct SqliteRound {
    ids: Vec<i64>,
    texts: Vec<Vec<Option<String>>>,
    integers: Vec<Vec<Option<i64>>>,
    reals: Vec<Vec<Option<f64>>>,
}

impl SqliteRound {
    fn new(n_columns: usize) -> SqliteRound {
        SqliteRound {
            ids: Vec::new(),
            texts: vec![Vec::new(); n_columns],
            integers: vec![Vec::new(); n_columns],
            reals: vec![Vec::new(); n_columns],
        }
    }

    /// The round's rows as a typed frame; the round is left empty.
    fn typed(&mut self, schema: &Schema, kinds: &[Cell]) -> Result<DataFrame> {
        let mut columns = vec![Series::new("id".into(), std::mem::take(&mut self.ids)).into_column()];
        for (col_idx, name) in schema.iter_names().enumerate().skip(1) {
            let series = match kinds[col_idx] {
                Cell::Text => Series::new(name.clone(), std::mem::take(&mut self.texts[col_idx])),
                Cell::Integer => Series::new(name.clone(), std::mem::take(&mut self.integers[col_idx])),
                Cell::Real => Series::new(name.clone(), std::mem::take(&mut self.reals[col_idx])),
            };
            columns.push(series.into_column());
        }
        canonicalize(DataFrame::new_infer_height(columns)?)
    }
}
