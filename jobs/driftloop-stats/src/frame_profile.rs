//! The [`Profile`] of a Polars frame of feature rows: every counted column and the label
//! counted (by their codes, or in one lazy query), each continuous column's values sorted
//! and counted.

use driftloop_core::profile::{distinct_counts, ColumnProfile, Profile};
use driftloop_core::spec;
use driftloop_core::spec::FeatureColumn;
use polars::prelude::*;

use super::{spec_levels, Error, Levels, Result};

/// How a column's values are compared with its levels.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// The canonical type: an Enum of exactly the spec's levels (compared by physical
    /// code) or an integer score (by value).
    Codes,
    /// Text or a categorical (as most writers other than driftloop leave categories):
    /// compared as it is with each level's text, so no row is cast.
    Text,
    /// Floats holding an integer score (as a writer that knows no integer with nulls
    /// leaves them): compared with each value as a float.
    Number,
    /// Another type (an Enum of other categories, numbers where the spec has levels):
    /// cast to text row by row, then compared with each level's text.
    CastText,
}

/// How `frame`'s column `levels.name` is compared with the spec's levels; a column of a
/// type that cannot hold them (a list, a boolean, a date) is an error.
fn compare_of(frame: &DataFrame, which: &'static str, levels: &Levels) -> Result<Compare> {
    let column = frame.column(levels.name).map_err(|_| Error::MissingColumn {
        frame: which,
        column: levels.name.into(),
    })?;
    let compare = match column.dtype() {
        DataType::Enum(categories, _)
            if levels.is_enum
                && categories
                    .categories()
                    .values_iter()
                    .eq(levels.values.iter().map(String::as_str)) =>
        {
            Some(Compare::Codes)
        }
        DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
            if !levels.is_enum =>
        {
            Some(Compare::Codes)
        }
        DataType::String | DataType::Categorical(..) => Some(Compare::Text),
        DataType::Float32 | DataType::Float64 if !levels.is_enum => Some(Compare::Number),
        DataType::Enum(..) | DataType::UInt64 | DataType::Float32 | DataType::Float64 => Some(Compare::CastText),
        t if t.is_integer() => Some(Compare::CastText),
        _ => None,
    };
    compare.ok_or_else(|| {
        let expected = if levels.is_enum {
            format!("Enum[{}] or text", levels.values.join(", "))
        } else {
            "an integer or text".into()
        };
        Error::WrongType {
            frame: which,
            column: levels.name.into(),
            dtype: column.dtype().to_string(),
            expected,
        }
    })
}

/// Counts every category of every column: a column of its canonical type (an Enum of the
/// levels, an integer score) by one pass over its codes; the others in one lazy query, for
/// each column and each of its levels one vectorized comparison summed (`value == "level"`
/// on text or a categorical, `value == level` on floats), plus the column's null count, all
/// in a single `select` that Polars evaluates in parallel. A frame of canonical columns
/// alone (what the database and a snapshot give) needs no query at all, nor Polars' query
/// engine in memory: the train job over 1,000,000 rows peaked 8 MB lower for it. Returns
/// per column the count of each level and of nulls; a value outside the levels is an error.
fn count_all(frame: &DataFrame, which: &'static str, columns: &[&Levels]) -> Result<Vec<(Vec<u64>, u64)>> {
    let mut direct: Vec<Option<(Vec<u64>, u64)>> = Vec::with_capacity(columns.len());
    let mut exprs = Vec::new();
    for (column_idx, levels) in columns.iter().enumerate() {
        let compare = compare_of(frame, which, levels)?;
        if compare == Compare::Codes {
            direct.push(Some(count_codes(frame.column(levels.name)?, &levels.codes)?));
            continue;
        }
        direct.push(None);
        let code = match compare {
            Compare::CastText => col(levels.name).cast(DataType::String),
            Compare::Text | Compare::Number => col(levels.name),
            Compare::Codes => unreachable!("a column of codes is counted by them above"),
        };
        let physical = frame.column(levels.name)?.dtype().to_physical();
        for (position, (value, text)) in levels.codes.iter().zip(&levels.values).enumerate() {
            let level = match compare {
                Compare::Number => lit(*value as f64).cast(physical.clone()),
                Compare::Text | Compare::CastText => lit(text.as_str()),
                Compare::Codes => unreachable!("a column of codes is counted by them above"),
            };
            exprs.push(
                code.clone()
                    .eq(level)
                    .sum()
                    .cast(DataType::UInt64)
                    .alias(format!("{column_idx}:{position}")),
            );
        }
        exprs.push(
            code.null_count()
                .cast(DataType::UInt64)
                .alias(format!("{column_idx}:null")),
        );
    }
    let counted = if exprs.is_empty() {
        None
    } else {
        Some(frame.clone().lazy().select(exprs).collect()?)
    };
    let value = |name: String| -> Result<u64> {
        let counted = counted.as_ref().expect("a column not counted directly was queried");
        Ok(counted.column(&name)?.u64()?.get(0).unwrap_or(0))
    };
    let mut result = Vec::with_capacity(columns.len());
    for ((column_idx, levels), direct) in columns.iter().enumerate().zip(direct) {
        let (counts, nulls) = match direct {
            Some(counted) => counted,
            None => (
                (0..levels.codes.len())
                    .map(|position| value(format!("{column_idx}:{position}")))
                    .collect::<Result<Vec<u64>>>()?,
                value(format!("{column_idx}:null"))?,
            ),
        };
        if counts.iter().sum::<u64>() + nulls != frame.height() as u64 {
            return Err(outside_levels(frame, which, levels));
        }
        result.push((counts, nulls));
    }
    Ok(result)
}

/// A column of codes (an Enum's physical codes, integers) counted by `codes`' positions,
/// with its nulls; a value outside `codes` is counted nowhere, so the counts fall short of
/// the rows.
fn count_codes(column: &Column, codes: &[i64]) -> Result<(Vec<u64>, u64)> {
    match column {
        // A column of one value (as a read may keep one): its one value counted as many
        // times as it has rows, without making them.
        Column::Scalar(scalar) => {
            let n = scalar.len() as u64;
            let (counts, nulls) = count_series(&scalar.as_single_value_series(), codes)?;
            Ok((counts.into_iter().map(|c| c * n).collect(), nulls * n))
        }
        _ => count_series(column.as_materialized_series(), codes),
    }
}

/// [`count_codes`] of a series.
fn count_series(series: &Series, codes: &[i64]) -> Result<(Vec<u64>, u64)> {
    let mut counts = vec![0u64; codes.len()];
    // The position of each code by its value, for values from the smallest code to the
    // largest; anything else is outside.
    let (low, high) = match (codes.iter().min(), codes.iter().max()) {
        (Some(&low), Some(&high)) => (low, high),
        _ => return Ok((counts, series.null_count() as u64)),
    };
    let mut position = vec![usize::MAX; (high - low + 1) as usize];
    for (at, &code) in codes.iter().enumerate() {
        position[(code - low) as usize] = at;
    }
    let mut tally = |value: i64| {
        if (low..=high).contains(&value) {
            let at = position[(value - low) as usize];
            if at != usize::MAX {
                counts[at] += 1;
            }
        }
    };
    let physical = series.to_physical_repr();
    macro_rules! tally_all {
        ($chunked:expr) => {
            for array in $chunked.downcast_iter() {
                if array.validity().is_none() {
                    array.values().iter().for_each(|&v| tally(v as i64));
                } else {
                    array.iter().flatten().for_each(|&v| tally(v as i64));
                }
            }
        };
    }
    match physical.dtype() {
        DataType::UInt8 => tally_all!(physical.u8()?),
        DataType::UInt16 => tally_all!(physical.u16()?),
        DataType::UInt32 => tally_all!(physical.u32()?),
        DataType::Int8 => tally_all!(physical.i8()?),
        DataType::Int16 => tally_all!(physical.i16()?),
        DataType::Int32 => tally_all!(physical.i32()?),
        DataType::Int64 => tally_all!(physical.i64()?),
        other => unreachable!("a column of codes is an Enum or an integer column, not {other}"),
    }
    Ok((counts, physical.null_count() as u64))
}

/// The error for a column holding a value outside its levels, naming one such value.
fn outside_levels(frame: &DataFrame, which: &'static str, levels: &Levels) -> Error {
    let series = frame.column(levels.name).ok().map(|c| c.as_materialized_series());
    let found = series.and_then(|series| match series.dtype() {
        DataType::Enum(..) if levels.is_enum => {
            let codes = series.to_physical_repr().cast(&DataType::Int64).ok()?;
            let code = codes.i64().ok()?.iter().flatten().find(|c| !levels.codes.contains(c));
            code.map(|c| c.to_string())
        }
        t if t.is_primitive_numeric() && !levels.is_enum => {
            let values = series.cast(&DataType::Float64).ok()?;
            let value = values
                .f64()
                .ok()?
                .iter()
                .flatten()
                .find(|v| v.fract() != 0.0 || !levels.codes.contains(&(*v as i64)));
            value.map(|v| v.to_string())
        }
        t => {
            let numeric = t.is_primitive_numeric();
            let texts = series.cast(&DataType::String).ok()?;
            let text = texts
                .str()
                .ok()?
                .iter()
                .flatten()
                .find(|t| !levels.values.iter().any(|v| v == t))
                .map(|t| if numeric { t.to_string() } else { format!("{t:?}") });
            text
        }
    });
    not_a_level(which, levels, found.unwrap_or_else(|| "a value".to_string()))
}

/// The error for column `levels.name` holding `found` (a number, or quoted text).
fn not_a_level(which: &'static str, levels: &Levels, found: String) -> Error {
    Error::Config(format!(
        "{which} frame: column {:?} holds {found}, which is not one of its levels ({})",
        levels.name,
        levels.values.join(", ")
    ))
}

/// The non-missing values of a continuous column as `f64`, sorted, and its count of missing ones.
fn continuous_values(frame: &DataFrame, which: &'static str, name: &str) -> Result<(Vec<f64>, u64)> {
    let column = frame.column(name).map_err(|_| Error::MissingColumn {
        frame: which,
        column: name.into(),
    })?;
    let wrong_type = || Error::WrongType {
        frame: which,
        column: name.into(),
        dtype: column.dtype().to_string(),
        expected: "a number, or numbers as text".into(),
    };
    let series = column.as_materialized_series();
    let values = match series.dtype() {
        t if t.is_primitive_numeric() => series.cast(&DataType::Float64)?,
        // Numbers as text (a CSV read without types): parsed, and a cell that is not a
        // number is an error rather than a missing value.
        DataType::String => series.strict_cast(&DataType::Float64).map_err(|_| wrong_type())?,
        _ => return Err(wrong_type()),
    };
    let values = values.f64()?;
    let nulls = values.null_count() as u64;
    let mut present: Vec<f64> = values.iter().flatten().collect();
    present.sort_unstable_by(f64::total_cmp);
    Ok((present, nulls))
}

/// A feature column's profile: from its counts and missing values when it is counted,
/// from `frame`'s values when it is continuous. A missing value in a column that cannot
/// miss one is left uncounted, as the label's.
fn column_profile(
    column: &FeatureColumn,
    counted: Option<(Vec<u64>, u64)>,
    frame: &DataFrame,
    which: &'static str,
) -> Result<ColumnProfile> {
    let nullable = |missing: u64| if column.nullable { missing } else { 0 };
    Ok(match counted {
        Some((counts, missing)) => ColumnProfile::Counted {
            name: column.name.clone(),
            counts,
            missing: nullable(missing),
        },
        None => {
            let (sorted, missing) = continuous_values(frame, which, &column.name)?;
            let (values, counts) = distinct_counts(&sorted);
            ColumnProfile::Continuous {
                name: column.name.clone(),
                values,
                counts,
                missing: nullable(missing),
            }
        }
    })
}

/// The profile of a frame of feature rows: its counted columns and label counted (by their
/// codes, or in one lazy query), its continuous columns' values sorted and counted. `which` names the frame
/// in errors. The frame needs the spec's columns, with their canonical types (categories
/// as Enums of the spec's levels, scores as integers, numbers as floats) or as other
/// writers leave them (text or categoricals, counted by comparing each value with the
/// levels' text, without casting a row); other columns are ignored.
pub fn profile(frame: &DataFrame, which: &'static str) -> Result<Profile> {
    let (features, label) = spec_levels();
    let mut counted: Vec<&Levels> = features.iter().flatten().collect();
    counted.push(&label);
    let mut counts = count_all(frame, which, &counted)?.into_iter();
    let mut columns = Vec::with_capacity(features.len());
    for (levels, column) in features.iter().zip(&spec().features) {
        let counted = levels
            .as_ref()
            .map(|_| counts.next().expect("one count per counted column"));
        columns.push(column_profile(column, counted, frame, which)?);
    }
    let (label, _) = counts.next().expect("the label's counts");
    Ok(Profile {
        rows: frame.height() as u64,
        columns,
        label,
    })
}

/// One spec column's part of a profile, and the rows it was counted over.
enum Part {
    Feature(ColumnProfile),
    Label(Vec<u64>),
}

/// A column of text as a file stores it, counted without reading it into a frame: each
/// distinct text with the number of rows holding it, and the missing values (a Parquet
/// column chunk's dictionary and the counts of its indices, for example).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredTexts {
    pub rows: u64,
    pub missing: u64,
    /// Each text with its count; a text may appear more than once (one per dictionary),
    /// and a text counted 0 times is ignored, even outside the levels.
    pub texts: Vec<(Vec<u8>, u64)>,
    /// Whether the texts are whole numbers' decimal text (an integer column): an error
    /// names such a value as a number, not quoted.
    pub numeric: bool,
}

impl StoredTexts {
    /// The count of each of `levels`' values and of missing values, as [`count_all`]
    /// gives them for a text column; a text outside the levels held by a row is an error
    /// naming it, as there.
    fn level_counts(&self, which: &'static str, levels: &Levels) -> Result<(Vec<u64>, u64)> {
        let mut counts = vec![0u64; levels.values.len()];
        for (text, n) in self.texts.iter().filter(|(_, n)| *n > 0) {
            match levels.values.iter().position(|v| v.as_bytes() == text.as_slice()) {
                Some(at) => counts[at] += n,
                None => {
                    let text = String::from_utf8_lossy(text);
                    let found = if self.numeric {
                        text.to_string()
                    } else {
                        format!("{text:?}")
                    };
                    return Err(not_a_level(which, levels, found));
                }
            }
        }
        Ok((counts, self.missing))
    }
}

/// The profile of rows whose spec columns are read one at a time: `read(name)` gives a
/// frame holding that column (of any type [`profile`] takes) for every row. Counting a
/// column at a time holds one column per thread in memory, not the whole frame: what a
/// large file's drift check needs. `threads` columns are read and counted at once.
///
/// `stored(name)` may count a column of text as it is stored instead ([`StoredTexts`]);
/// where it gives `None` (a continuous column, numbers, an encoding it does not read) the
/// column is read with `read`. The profile is the same either way.
pub fn profile_columns<F, S>(which: &'static str, threads: usize, read: F, stored: S) -> Result<Profile>
where
    F: Fn(&str) -> PolarsResult<DataFrame> + Sync,
    S: Fn(&str) -> Option<StoredTexts> + Sync,
{
    let (features, label) = spec_levels();
    let s = spec();
    let count_one = |i: usize| -> Result<(Part, u64)> {
        let Some(column) = s.features.get(i) else {
            if let Some(texts) = stored(label.name) {
                let (counts, _) = texts.level_counts(which, &label)?;
                return Ok((Part::Label(counts), texts.rows));
            }
            let frame = read(label.name)?;
            let (counts, _) = count_all(&frame, which, &[&label])?.pop().expect("one column counted");
            return Ok((Part::Label(counts), frame.height() as u64));
        };
        if let (Some(levels), Some(texts)) = (&features[i], stored(&column.name)) {
            let (counts, missing) = texts.level_counts(which, levels)?;
            let part = ColumnProfile::Counted {
                name: column.name.clone(),
                counts,
                missing: if column.nullable { missing } else { 0 },
            };
            return Ok((Part::Feature(part), texts.rows));
        }
        let frame = read(&column.name)?;
        let counted = match &features[i] {
            Some(levels) => Some(count_all(&frame, which, &[levels])?.pop().expect("one column counted")),
            None => None,
        };
        let part = column_profile(column, counted, &frame, which)?;
        Ok((Part::Feature(part), frame.height() as u64))
    };
    let n = s.features.len() + 1;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut parts: Vec<Option<Result<(Part, u64)>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, n))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            return done;
                        }
                        done.push((i, count_one(i)));
                    }
                })
            })
            .collect();
        for worker in workers {
            for (i, part) in worker.join().expect("counting a column does not panic") {
                parts[i] = Some(part);
            }
        }
    });
    let mut rows = None;
    let mut columns = Vec::with_capacity(n - 1);
    let mut label_counts = Vec::new();
    for part in parts {
        let (part, height) = part.expect("every column counted")?;
        if *rows.get_or_insert(height) != height {
            return Err(Error::Config(format!(
                "{which} frame: its columns have different lengths ({} and {height} rows)",
                rows.unwrap_or_default()
            )));
        }
        match part {
            Part::Feature(column) => columns.push(column),
            Part::Label(counts) => label_counts = counts,
        }
    }
    Ok(Profile {
        rows: rows.unwrap_or(0),
        columns,
        label: label_counts,
    })
}

#[cfg(test)]
mod tests;
