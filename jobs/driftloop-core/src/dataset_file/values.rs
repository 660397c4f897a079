//! The dataset file's values: strings, names, level lists and numbers, each checked where
//! it stands and reported by its key path.

use toml::{Table, Value};

use super::{join, Reader, NAME_MAX, SQL_RESERVED};

impl Reader {
    pub(super) fn string<'t>(&mut self, table: &'t Table, path: &str, key: &str) -> Option<&'t str> {
        match table.get(key) {
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.problem(join(path, key), "must be a string");
                None
            }
            None => {
                self.problem(join(path, key), "missing");
                None
            }
        }
    }

    /// `Some(None)` when absent, `None` when present and wrong.
    pub(super) fn optional_string(&mut self, table: &Table, path: &str, key: &str) -> Option<Option<String>> {
        match table.get(key) {
            None => Some(None),
            Some(_) => self.string(table, path, key).map(|s| Some(s.to_string())),
        }
    }

    pub(super) fn identifier(&mut self, table: &Table, path: &str, key: &str) -> Option<String> {
        let name = self.string(table, path, key)?;
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            self.problem(
                join(path, key),
                format!("{name:?} is not a name: a lowercase letter, then lowercase letters, digits or _"),
            );
            return None;
        }
        if name.len() > NAME_MAX {
            self.problem(
                join(path, key),
                format!("{name:?} is longer than {NAME_MAX} characters"),
            );
            return None;
        }
        if SQL_RESERVED.contains(&name) {
            self.problem(join(path, key), format!("{name:?} is an SQL reserved word"));
            return None;
        }
        Some(name.to_string())
    }

    /// A list of distinct, non-blank level names (at least `min_len`), matched after
    /// trimming and in any case, so none may differ from another only by case.
    pub(super) fn levels(&mut self, table: &Table, path: &str, key: &str, min_len: usize) -> Option<Vec<String>> {
        let at = join(path, key);
        let items = match table.get(key) {
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem(at, "must be an array of strings");
                return None;
            }
            None => {
                self.problem(at, "missing");
                return None;
            }
        };
        if items.len() < min_len {
            let message = if items.is_empty() {
                "is empty".to_string()
            } else {
                format!("needs at least {min_len} entries")
            };
            self.problem(at, message);
            return None;
        }
        let mut levels: Vec<String> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Value::String(level) = item else {
                self.problem(here, "must be a string");
                ok = false;
                continue;
            };
            if level.trim().is_empty() {
                self.problem(here, "is blank");
                ok = false;
            } else if level.trim() != level {
                self.problem(
                    here,
                    format!("{level:?} has white space around it (values are matched after trimming)"),
                );
                ok = false;
            } else if level.contains(['\'', '\\']) {
                self.problem(here, format!("{level:?} contains a quote or a backslash"));
                ok = false;
            } else if let Some(first) = levels.iter().position(|l| l.eq_ignore_ascii_case(level)) {
                self.problem(
                    here,
                    format!("{level:?} repeats {at}[{first}] (values are matched in any case)"),
                );
                ok = false;
            }
            levels.push(level.clone());
        }
        ok.then_some(levels)
    }

    pub(super) fn integer(&mut self, table: &Table, path: &str, key: &str) -> Option<i64> {
        match table.get(key) {
            Some(Value::Integer(n)) => Some(*n),
            Some(_) => {
                self.problem(join(path, key), "must be an integer");
                None
            }
            None => {
                self.problem(join(path, key), "missing: integer columns declare min and max");
                None
            }
        }
    }

    pub(super) fn optional_number(&mut self, table: &Table, path: &str, key: &str) -> Option<Option<f64>> {
        match table.get(key) {
            None => Some(None),
            Some(Value::Integer(n)) => Some(Some(*n as f64)),
            Some(Value::Float(x)) if x.is_finite() => Some(Some(*x)),
            Some(_) => {
                self.problem(join(path, key), "must be a finite number");
                None
            }
        }
    }
}
