//! The [`Profile`] of a Polars frame of feature rows: every counted column and the label
//! counted in one lazy query, each continuous column's values sorted and counted.

use driftloop_core::profile::{distinct_counts, ColumnProfile, Profile};
use driftloop_core::spec;
use polars::prelude::*;

use super::{spec_levels, Error, Levels, Result};

/// Checks that `frame` has the column with the type the spec gives it: an Enum of exactly
/// the spec's levels, or an unsigned integer score.
fn check_column(frame: &DataFrame, which: &'static str, levels: &Levels) -> Result<()> {
    let column = frame.column(levels.name).map_err(|_| Error::MissingColumn {
        frame: which,
        column: levels.name.into(),
    })?;
    let ok = match column.dtype() {
        DataType::Enum(categories, _) => {
            levels.is_enum
                && categories
                    .categories()
                    .values_iter()
                    .eq(levels.values.iter().map(String::as_str))
        }
        DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64 => !levels.is_enum,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let expected = if levels.is_enum {
            format!("Enum[{}]", levels.values.join(", "))
        } else {
            "an integer".into()
        };
        Err(Error::WrongType {
            frame: which,
            column: levels.name.into(),
            dtype: column.dtype().to_string(),
            expected,
        })
    }
}

/// Counts every category of every column in one lazy query: for each column and each of
/// its level codes (the physical code of an Enum, the value of a score), one vectorized
/// `code == level` summed, plus the column's null count, all in a single `select` that
/// Polars evaluates in parallel. Returns per column the count of each code and of nulls.
fn count_all(frame: &DataFrame, which: &'static str, columns: &[&Levels]) -> Result<Vec<(Vec<u64>, u64)>> {
    let mut exprs = Vec::new();
    for (column_idx, levels) in columns.iter().enumerate() {
        check_column(frame, which, levels)?;
        let physical = frame.column(levels.name)?.dtype().to_physical();
        let code = if levels.is_enum {
            col(levels.name).to_physical()
        } else {
            col(levels.name)
        };
        for (position, value) in levels.codes.iter().enumerate() {
            // The literal takes the column's own type, so the column is compared as it is.
            exprs.push(
                code.clone()
                    .eq(lit(*value).cast(physical.clone()))
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
    let counted = frame.clone().lazy().select(exprs).collect()?;
    let value = |name: String| -> Result<u64> { Ok(counted.column(&name)?.u64()?.get(0).unwrap_or(0)) };
    let mut result = Vec::with_capacity(columns.len());
    for (column_idx, levels) in columns.iter().enumerate() {
        let counts = (0..levels.codes.len())
            .map(|position| value(format!("{column_idx}:{position}")))
            .collect::<Result<Vec<u64>>>()?;
        let nulls = value(format!("{column_idx}:null"))?;
        if counts.iter().sum::<u64>() + nulls != frame.height() as u64 {
            return Err(outside_levels(frame, which, levels));
        }
        result.push((counts, nulls));
    }
    Ok(result)
}

/// The error for a column holding a value outside its levels, naming one such value.
fn outside_levels(frame: &DataFrame, which: &'static str, levels: &Levels) -> Error {
    let found = frame
        .column(levels.name)
        .ok()
        .map(|c| c.as_materialized_series().to_physical_repr().into_owned())
        .and_then(|s| s.cast(&DataType::Int64).ok())
        .and_then(|s| {
            s.i64()
                .ok()
                .and_then(|codes| codes.iter().flatten().find(|c| !levels.codes.contains(c)))
        });
    Error::Config(format!(
        "{which} frame: column {:?} holds {}, which is not one of its levels",
        levels.name,
        found.map_or("a value".to_string(), |c| c.to_string())
    ))
}

/// The non-missing values of a continuous column as `f64`, sorted, and its count of missing ones.
fn continuous_values(frame: &DataFrame, which: &'static str, name: &str) -> Result<(Vec<f64>, u64)> {
    let column = frame.column(name).map_err(|_| Error::MissingColumn {
        frame: which,
        column: name.into(),
    })?;
    if !column.dtype().is_primitive_numeric() {
        return Err(Error::WrongType {
            frame: which,
            column: name.into(),
            dtype: column.dtype().to_string(),
            expected: "a number".into(),
        });
    }
    let values = column.as_materialized_series().cast(&DataType::Float64)?;
    let values = values.f64()?;
    let nulls = values.null_count() as u64;
    let mut present: Vec<f64> = values.iter().flatten().collect();
    present.sort_unstable_by(f64::total_cmp);
    Ok((present, nulls))
}

/// The profile of a frame of feature rows: its counted columns and label counted in one
/// lazy query, its continuous columns' values sorted and counted. `which` names the frame
/// in errors. The frame needs the spec's columns with their canonical types (categories
/// as Enums of the spec's levels, scores as integers, numbers as floats); other columns
/// are ignored.
pub fn profile(frame: &DataFrame, which: &'static str) -> Result<Profile> {
    let (features, label) = spec_levels();
    let mut counted: Vec<&Levels> = features.iter().flatten().collect();
    counted.push(&label);
    let mut counts = count_all(frame, which, &counted)?.into_iter();
    let mut columns = Vec::with_capacity(features.len());
    // A missing value in a column that cannot miss one is left uncounted, as the label's.
    for (levels, column) in features.iter().zip(&spec().features) {
        let nullable = |missing: u64| if column.nullable { missing } else { 0 };
        columns.push(match levels {
            Some(_) => {
                let (counts, missing) = counts.next().expect("one count per counted column");
                ColumnProfile::Counted {
                    name: column.name.clone(),
                    counts,
                    missing: nullable(missing),
                }
            }
            None => {
                let (sorted, missing) = continuous_values(frame, which, &column.name)?;
                let missing = nullable(missing);
                let (values, counts) = distinct_counts(&sorted);
                ColumnProfile::Continuous {
                    name: column.name.clone(),
                    values,
                    counts,
                    missing,
                }
            }
        });
    }
    let (label, _) = counts.next().expect("the label's counts");
    Ok(Profile {
        rows: frame.height() as u64,
        columns,
        label,
    })
}
