//! CSV in and out: feature rows from files with the public column names or the
//! originally published headers, and fixture files written with the public names.

use std::io::{Read, Write};
use std::path::Path;

use driftloop_core::header::{header_target, HeaderTarget};
use driftloop_core::{spec, FeatureRow, LabelSource};

use crate::csv_cells::CellCache;
pub use crate::csv_count::profile_feature_csv;
use crate::error::{CsvProblem, Error, Result};

/// The header of a CSV of feature rows and where the spec's columns are in it. Headers
/// may be the public names or the published ones; other columns are left alone.
pub(crate) struct FeatureCsv {
    pub headers: csv::StringRecord,
    /// The position of each spec feature column (`None`: missing, reported as a problem).
    pub features: Vec<Option<usize>>,
    pub label: Option<usize>,
    pub label_source: Option<usize>,
}

fn header_problem(column: &str, message: impl Into<String>) -> CsvProblem {
    CsvProblem {
        line: 1,
        column: column.to_string(),
        message: message.into(),
    }
}

/// What a header row lacks: the column's name, or the other header the dataset declares.
fn header_needed(name: &str, other: Option<&str>) -> String {
    match other {
        Some(other) => format!("missing: the header needs {name:?} (or {other:?})"),
        None => format!("missing: the header needs {name:?}"),
    }
}

impl FeatureCsv {
    /// Reads the header and locates the columns; a missing feature column, or a column
    /// named twice (only feature columns, unless `labels_too`), is a problem. Returns the
    /// layout and the reader, positioned at the first record.
    pub(crate) fn open<R: Read>(
        input: R,
        labels_too: bool,
        problems: &mut Vec<CsvProblem>,
    ) -> Option<(FeatureCsv, csv::Reader<R>)> {
        let s = spec();
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = match reader.headers() {
            Ok(headers) => headers.clone(),
            Err(e) => {
                problems.push(header_problem("", e.to_string()));
                return None;
            }
        };
        let mut csv = FeatureCsv {
            headers: headers.clone(),
            features: vec![None; s.n_features()],
            label: None,
            label_source: None,
        };
        for (position, header) in headers.iter().enumerate() {
            let slot = match header_target(header) {
                HeaderTarget::Feature(col_idx) => &mut csv.features[col_idx],
                HeaderTarget::Label if labels_too => &mut csv.label,
                HeaderTarget::LabelSource if labels_too => &mut csv.label_source,
                _ => continue,
            };
            if slot.is_some() {
                problems.push(header_problem(
                    header,
                    "names a column that an earlier header already names",
                ));
            }
            *slot = Some(position);
        }
        for (col_idx, at) in csv.features.iter().enumerate() {
            if at.is_none() {
                let column = &s.features[col_idx];
                problems.push(header_problem(
                    &column.name,
                    header_needed(&column.name, column.header.as_deref()),
                ));
            }
        }
        Some((csv, reader))
    }

    /// Calls `f` with each record of `reader` and its line, in file order; a record that
    /// cannot be read, or has another number of fields than the header, is a problem
    /// instead. A file with a header and no rows is a problem too.
    pub(crate) fn for_each_record<R: Read>(
        &self,
        reader: &mut csv::Reader<R>,
        problems: &mut Vec<CsvProblem>,
        mut f: impl FnMut(u64, &csv::StringRecord, &mut Vec<CsvProblem>),
    ) {
        let mut any = false;
        // One record, read into again and again: no allocation per row.
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => any = true,
                Ok(false) => break,
                Err(e) => {
                    any = true;
                    let fatal = !matches!(
                        e.kind(),
                        csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                    );
                    problems.push(CsvProblem {
                        line: e.position().map_or(0, line_of),
                        column: String::new(),
                        message: e.to_string(),
                    });
                    if fatal {
                        break;
                    }
                    continue;
                }
            }
            let line = record.position().map_or(0, line_of);
            if record.len() != self.headers.len() {
                problems.push(CsvProblem {
                    line,
                    column: String::new(),
                    message: format!("has {} fields, the header has {}", record.len(), self.headers.len()),
                });
                continue;
            }
            f(line, &record, problems);
        }
        if !any && problems.is_empty() {
            problems.push(CsvProblem {
                line: 2,
                column: String::new(),
                message: "the file has a header but no rows".into(),
            });
        }
    }

    /// The feature values of a record; each bad cell is a problem naming its line and column.
    pub(crate) fn features_of(
        &self,
        record: &csv::StringRecord,
        line: u64,
        problems: &mut Vec<CsvProblem>,
        cells: &mut CellCache,
    ) -> Option<Vec<f64>> {
        let s = spec();
        let mut codes = Vec::with_capacity(s.n_features());
        for (col_idx, at) in self.features.iter().enumerate() {
            let at = at.expect("every feature column was located");
            match cells.feature(col_idx, &record[at]) {
                Ok(code) => codes.push(code),
                Err(e) => problems.push(self.cell_problem(line, at, e.to_string())),
            }
        }
        (codes.len() == s.n_features()).then_some(codes)
    }

    pub(crate) fn cell_problem(&self, line: u64, at: usize, message: String) -> CsvProblem {
        CsvProblem {
            line,
            column: self.headers[at].to_string(),
            message,
        }
    }
}

/// Parses a whole CSV of feature rows. Every cell is checked; if any is bad, the answer
/// lists every bad cell with its line and column and no row is returned, so an import
/// is all or nothing. Rows without a `label_source` column take `default_source`.
pub fn read_feature_rows(
    input: impl Read,
    default_source: LabelSource,
) -> std::result::Result<Vec<FeatureRow>, Vec<CsvProblem>> {
    let mut rows = Vec::new();
    for_each_feature_row(input, default_source, |row| rows.push(row))?;
    Ok(rows)
}

/// Parses a CSV of feature rows as [`read_feature_rows`] does, handing each good row to
/// `each` as it is read instead of keeping them; if any cell is bad, the answer lists every
/// bad cell (the rows handed over until then are the caller's to drop).
pub fn for_each_feature_row(
    input: impl Read,
    default_source: LabelSource,
    mut each: impl FnMut(FeatureRow),
) -> std::result::Result<(), Vec<CsvProblem>> {
    let s = spec();
    let mut problems = Vec::new();
    let Some((csv, mut reader)) = FeatureCsv::open(input, true, &mut problems) else {
        return Err(problems);
    };
    if csv.label.is_none() {
        problems.push(header_problem(
            &s.label,
            header_needed(&s.label, s.label_header.as_deref()),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (label_at, source_at) = (csv.label.expect("checked above"), csv.label_source);
    let mut cells = CellCache::new();
    csv.for_each_record(&mut reader, &mut problems, |line, record, problems| {
        let features = csv.features_of(record, line, problems, &mut cells);
        let label = cells
            .class(&record[label_at])
            .map_err(|e| problems.push(csv.cell_problem(line, label_at, e.to_string())))
            .ok();
        let source = match source_at {
            Some(at) => LabelSource::parse(&record[at])
                .map_err(|e| problems.push(csv.cell_problem(line, at, e.to_string())))
                .ok(),
            None => Some(default_source),
        };
        if let (Some(features), Some(label), Some(source)) = (features, label, source) {
            if problems.is_empty() {
                each(FeatureRow::new(features, label, source).expect("parsed values follow the spec"));
            }
        }
    });
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Reads a CSV file of feature rows; see [`read_feature_rows`].
pub fn read_feature_csv(path: &Path, default_source: LabelSource) -> Result<Vec<FeatureRow>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_feature_rows(std::io::BufReader::new(file), default_source).map_err(|problems| Error::InvalidCsv {
        path: path.to_path_buf(),
        problems,
    })
}

/// Writes rows with the public column names: the features, then the label.
pub fn write_feature_rows(rows: &[FeatureRow], output: impl Write) -> std::io::Result<()> {
    let s = spec();
    let mut writer = csv::Writer::from_writer(output);
    let mut header: Vec<&str> = s.features.iter().map(|c| c.name.as_str()).collect();
    header.push(&s.label);
    writer.write_record(&header)?;
    for row in rows {
        let mut record: Vec<String> = (0..s.n_features())
            .map(|col_idx| s.feature_text(col_idx, row.features[col_idx]))
            .collect();
        record.push(row.label_text().to_string());
        writer.write_record(&record)?;
    }
    writer.flush()
}

/// The 1-based line of a record, the header being line 1, counted by records: the csv
/// reader's own line count starts a record on the line before when the file ends its lines
/// with CRLF, as the published file does. (A quoted cell spanning lines would shift it.)
pub(crate) fn line_of(position: &csv::Position) -> u64 {
    position.record() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftloop_core::fixtures::{generate, Scenario};

    #[test]
    fn written_rows_read_back_equal() {
        let rows = generate(Scenario::Baseline, 50, 9);
        let mut bytes = Vec::new();
        write_feature_rows(&rows, &mut bytes).unwrap();
        assert_eq!(read_feature_rows(bytes.as_slice(), LabelSource::Expert).unwrap(), rows);
    }

    #[test]
    fn every_bad_cell_is_named_with_line_and_column() {
        let mut bytes = Vec::new();
        write_feature_rows(&generate(Scenario::Baseline, 3, 1), &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<Vec<String>> = text.lines().map(|l| l.split(',').map(String::from).collect()).collect();
        lines[2][0] = "Never".into(); // line 3, sadness
        lines[2][16] = "11".into(); // line 3, optimism
        lines[3][17] = "Anxiety".into(); // line 4, diagnosis
        let csv = lines.iter().map(|l| l.join(",")).collect::<Vec<_>>().join("\n");
        let problems = read_feature_rows(csv.as_bytes(), LabelSource::Expert).unwrap_err();
        let found: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.column.as_str())).collect();
        assert_eq!(
            found,
            [(3, "sadness"), (3, "optimism"), (4, "diagnosis")],
            "{problems:?}"
        );
        assert!(
            problems[0].message.contains("\"Never\" is not one of Seldom"),
            "{problems:?}"
        );
    }

    #[test]
    fn lines_are_counted_the_same_with_crlf_endings() {
        let mut bytes = Vec::new();
        write_feature_rows(&generate(Scenario::Baseline, 3, 1), &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap().replacen("Normal", "Anxiety", 1);
        let bad_line = text.lines().position(|l| l.contains("Anxiety")).unwrap() as u64 + 1;
        for csv in [text.clone(), text.replace('\n', "\r\n")] {
            let problems = read_feature_rows(csv.as_bytes(), LabelSource::Expert).unwrap_err();
            assert_eq!(problems[0].line, bad_line, "{problems:?}");
        }
    }

    #[test]
    fn missing_columns_are_named() {
        let problems =
            read_feature_rows("sadness,diagnosis\nSeldom,Normal\n".as_bytes(), LabelSource::Expert).unwrap_err();
        assert_eq!(problems.len(), 16, "{problems:?}");
        assert!(problems.iter().all(|p| p.line == 1 && p.message.starts_with("missing")));
    }

    #[test]
    fn ragged_rows_and_empty_files_are_problems() {
        let mut bytes = Vec::new();
        write_feature_rows(&generate(Scenario::Baseline, 1, 1), &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap() + "Seldom,YES\n";
        let problems = read_feature_rows(text.as_bytes(), LabelSource::Expert).unwrap_err();
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].message.contains("fields"));
        let header_only = text.lines().next().unwrap().to_string() + "\n";
        assert!(read_feature_rows(header_only.as_bytes(), LabelSource::Expert).is_err());
    }
}
