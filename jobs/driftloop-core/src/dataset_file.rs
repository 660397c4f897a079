//! The dataset file: a TOML declaration of the label and the feature columns (README,
//! "Your own dataset"). Reading it checks every key and lists every problem by its key
//! path, so a user mends the file in one go; nothing is built from a file with a problem.

use toml::{Table, Value};

pub use error::{DatasetFileError, Problem};

use crate::header::normalize_header;
use crate::spec::{ColumnKind, DatasetSpec, FeatureColumn};

/// The columns every feature table has besides the dataset's own.
pub const RESERVED_COLUMNS: &[&str] = &["id", "label_source", "model_version", "request_id", "created_at"];

/// Names a column may not take because MySQL or SQLite reserve them (the ones a
/// dataset is likely to reach for; the table's DDL does not quote names).
const SQL_RESERVED: &[&str] = &[
    "add",
    "all",
    "alter",
    "and",
    "as",
    "asc",
    "between",
    "by",
    "case",
    "check",
    "column",
    "condition",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "database",
    "default",
    "delete",
    "desc",
    "distinct",
    "div",
    "drop",
    "else",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "left",
    "like",
    "limit",
    "load",
    "match",
    "mod",
    "natural",
    "not",
    "null",
    "of",
    "on",
    "or",
    "order",
    "outer",
    "primary",
    "range",
    "rank",
    "references",
    "right",
    "row",
    "rows",
    "select",
    "set",
    "table",
    "then",
    "to",
    "trigger",
    "true",
    "union",
    "unique",
    "update",
    "usage",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// The longest column or dataset name (MySQL names are at most 64 characters, and the
/// DDL names constraints after columns).
const NAME_MAX: usize = 48;

/// Parses and checks a dataset file's text.
pub fn parse_dataset(text: &str) -> Result<DatasetSpec, DatasetFileError> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| DatasetFileError::Toml {
        file: None,
        reason: e.message().to_string(),
    })?;
    let mut reader = Reader::default();
    let spec = reader.dataset(&table);
    DatasetFileError::from_problems(reader.problems)?;
    Ok(spec.expect("a dataset without problems is complete"))
}

#[derive(Default)]
struct Reader {
    problems: Vec<(String, String)>,
}

impl Reader {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push((path.into(), message.into()));
    }

    fn unknown_keys(&mut self, table: &Table, path: &str, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(
                    join(path, key),
                    format!("unknown key (known here: {})", known.join(", ")),
                );
            }
        }
    }

    fn dataset(&mut self, table: &Table) -> Option<DatasetSpec> {
        self.unknown_keys(table, "", &["name", "label", "features"]);
        let name = self.identifier(table, "", "name");
        let label = match table.get("label") {
            Some(Value::Table(label)) => self.label(label),
            Some(_) => {
                self.problem("label", "must be a table ([label])");
                None
            }
            None => {
                self.problem("label", "missing: declare the label column under [label]");
                None
            }
        };
        let features = match table.get("features") {
            Some(Value::Array(items)) if items.is_empty() => {
                self.problem("features", "declares no feature column");
                None
            }
            Some(Value::Array(items)) => {
                let columns: Vec<Option<FeatureColumn>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Table(column) => self.feature(column, &format!("features[{i}]")),
                        _ => {
                            self.problem(format!("features[{i}]"), "must be a table ([[features]])");
                            None
                        }
                    })
                    .collect();
                columns.into_iter().collect::<Option<Vec<_>>>()
            }
            Some(_) => {
                self.problem("features", "must be an array of tables ([[features]])");
                None
            }
            None => {
                self.problem("features", "missing: declare each feature column under [[features]]");
                None
            }
        };
        if let (Some(features), Some((label, label_header, _))) = (&features, &label) {
            self.names_are_distinct(features, label, label_header.as_deref());
        }
        let (label, label_header, classes) = label?;
        Some(DatasetSpec::new(name?, features?, label, label_header, classes))
    }

    fn label(&mut self, table: &Table) -> Option<(String, Option<String>, Vec<String>)> {
        self.unknown_keys(table, "label", &["name", "classes", "header"]);
        let name = self.identifier(table, "label", "name");
        let header = self.optional_string(table, "label", "header");
        let classes = self.levels(table, "label", "classes", 2);
        Some((name?, header?, classes?))
    }

    fn feature(&mut self, table: &Table, path: &str) -> Option<FeatureColumn> {
        let name = self.identifier(table, path, "name");
        let header = self.optional_string(table, path, "header");
        let description = self.optional_string(table, path, "description");
        let nullable = match table.get("nullable") {
            None => Some(false),
            Some(Value::Boolean(b)) => Some(*b),
            Some(_) => {
                self.problem(join(path, "nullable"), "must be true or false");
                None
            }
        };
        let common = ["name", "kind", "header", "description", "nullable"];
        let kind = match table.get("kind") {
            None => {
                self.problem(
                    join(path, "kind"),
                    "missing: one of categorical, ordinal, integer, number",
                );
                None
            }
            Some(Value::String(kind)) => match kind.as_str() {
                "categorical" | "ordinal" => {
                    self.unknown_keys(table, path, &[&common[..], &["levels"]].concat());
                    let levels = self.levels(table, path, "levels", 1)?;
                    Some(if kind == "categorical" {
                        ColumnKind::Categorical { levels }
                    } else {
                        ColumnKind::Ordinal { levels }
                    })
                }
                "integer" => {
                    self.unknown_keys(table, path, &[&common[..], &["min", "max", "suffix"]].concat());
                    let min = self.integer(table, path, "min");
                    let max = self.integer(table, path, "max");
                    let suffix = self.optional_string(table, path, "suffix");
                    if let Some(Some(suffix)) = &suffix {
                        if suffix.trim().is_empty() || suffix.trim().starts_with(|c: char| c.is_ascii_digit()) {
                            self.problem(join(path, "suffix"), "must be text that does not start with a digit");
                        }
                    }
                    let (min, max) = (min?, max?);
                    if min > max {
                        self.problem(join(path, "min"), format!("min {min} is greater than max {max}"));
                        return None;
                    }
                    Some(ColumnKind::Integer {
                        min,
                        max,
                        suffix: suffix?,
                    })
                }
                "number" => {
                    self.unknown_keys(table, path, &[&common[..], &["min", "max"]].concat());
                    let min = self.optional_number(table, path, "min");
                    let max = self.optional_number(table, path, "max");
                    let (min, max) = (min?, max?);
                    if let (Some(lo), Some(hi)) = (min, max) {
                        if lo > hi {
                            self.problem(join(path, "min"), format!("min {lo} is greater than max {hi}"));
                            return None;
                        }
                    }
                    Some(ColumnKind::Number { min, max })
                }
                other => {
                    self.problem(
                        join(path, "kind"),
                        format!("unknown kind {other:?}: one of categorical, ordinal, integer, number"),
                    );
                    None
                }
            },
            Some(_) => {
                self.problem(join(path, "kind"), "must be a string");
                None
            }
        };
        Some(FeatureColumn {
            name: name?,
            header: header?,
            description: description?,
            kind: kind?,
            nullable: nullable?,
        })
    }

    /// Every column name, and every header as CSV files spell it, names one column only.
    fn names_are_distinct(&mut self, features: &[FeatureColumn], label: &str, label_header: Option<&str>) {
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut claim = |reader: &mut Reader, key: String, path: String, what: &str| {
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                reader.problem(path.clone(), format!("{what} {key:?} is already used by {first}"));
            } else {
                seen.push((key, path));
            }
        };
        for name in RESERVED_COLUMNS {
            claim(self, name.to_string(), "driftloop's own columns".into(), "name");
        }
        claim(self, label.to_string(), "label.name".into(), "name");
        for (i, column) in features.iter().enumerate() {
            claim(self, column.name.clone(), format!("features[{i}].name"), "name");
        }
        let headers = features
            .iter()
            .enumerate()
            .map(|(i, column)| {
                (
                    column.header.as_deref(),
                    column.name.as_str(),
                    format!("features[{i}].header"),
                )
            })
            .chain([(label_header, label, "label.header".to_string())]);
        for (header, name, path) in headers {
            if let Some(header) = header {
                let key = normalize_header(header);
                if key != name {
                    claim(self, key, path, "header (as CSV files compare it)");
                }
            }
        }
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

mod error;
#[cfg(test)]
mod tests;
mod values;
