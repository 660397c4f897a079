//! A CSV file's [`Profile`], counted as it is read. A file without quotes (what a CSV of
//! levels and numbers nearly always is) has fields that are the bytes between commas, so
//! it is split with `memchr` a block at a time and each counted column's cells parsed
//! once per distinct text ([`CellCache`]). Anything the plain split cannot read as the CSV
//! reader would (a quote, a bare carriage return, a blank line, a line with another number
//! of fields, a bad cell, a label-source column) sends the whole file through the full
//! reader ([`crate::csv_io::for_each_feature_row`]), which says what is wrong: the profile,
//! and every error, are the same either way.

use std::io::Read;
use std::path::Path;

use driftloop_core::{spec, LabelSource, Profile, RowCounter};

use crate::csv_cells::CellCache;
use crate::csv_io::{for_each_feature_row, FeatureCsv};
use crate::error::{Error, Result};

/// The block read at a time; a longer line grows it.
const BLOCK: usize = 1 << 20;

/// The [`Profile`] of a CSV file of feature rows, counted as the rows are read (the rows
/// are not kept); every cell is checked as by [`crate::csv_io::read_feature_csv`].
pub fn profile_feature_csv(path: &Path) -> Result<Profile> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(profile) = count_plain(std::fs::File::open(path).map_err(io)?).map_err(io)? {
        return Ok(profile);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut counter = RowCounter::new(spec());
    for_each_feature_row(std::io::BufReader::new(file), LabelSource::Expert, |row| {
        counter.add(&row.features, row.label)
    })
    .map_err(|problems| Error::InvalidCsv {
        path: path.to_path_buf(),
        problems,
    })?;
    Ok(counter.finish())
}

/// The profile of a CSV read by splitting on commas and line ends, or `None` when the file
/// holds anything that needs the full reader (see the module's documentation).
fn count_plain(mut input: impl Read) -> std::io::Result<Option<Profile>> {
    let mut buffer = vec![0u8; BLOCK];
    let (mut start, mut end) = (0, 0);
    let mut eof = false;
    let mut lines = Lines::default();
    loop {
        // Every whole line in the buffer, checked as UTF-8 at once; then the rest moves to
        // the front and more is read.
        if let Some(last) = memchr::memrchr(b'\n', &buffer[start..end]) {
            let Ok(block) = std::str::from_utf8(&buffer[start..start + last]) else {
                return Ok(None);
            };
            if !block.split('\n').all(|line| lines.take(line)) {
                return Ok(None);
            }
            start += last + 1;
        }
        if eof {
            let rest = std::str::from_utf8(&buffer[start..end]);
            if !rest.is_ok_and(|rest| rest.is_empty() || lines.take(rest)) {
                return Ok(None);
            }
            return Ok(lines.finish());
        }
        buffer.copy_within(start..end, 0);
        (start, end) = (0, end - start);
        if end == buffer.len() {
            buffer.resize(buffer.len() * 2, 0);
        }
        let read = input.read(&mut buffer[end..])?;
        eof = read == 0;
        end += read;
    }
}

/// The lines of a plain CSV, the header first, counted into a profile.
#[derive(Default)]
struct Lines {
    layout: Option<Layout>,
}

struct Layout {
    csv: FeatureCsv,
    label_at: usize,
    cells: CellCache,
    counter: RowCounter<'static>,
    /// Where each field of the line at hand starts and ends.
    fields: Vec<(usize, usize)>,
    features: Vec<f64>,
    rows: u64,
}

impl Lines {
    /// Counts one line (without its `\n`); `false` when it needs the full reader.
    fn take(&mut self, line: &str) -> bool {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        match &mut self.layout {
            None => {
                self.layout = Layout::of_header(line);
                self.layout.is_some()
            }
            Some(layout) => layout.count(line),
        }
    }

    fn finish(self) -> Option<Profile> {
        let layout = self.layout?;
        (layout.rows > 0).then(|| layout.counter.finish())
    }
}

impl Layout {
    /// The layout a header gives, when it names every spec column once, the label, and no
    /// label source (whose cells the full reader checks).
    fn of_header(line: &str) -> Option<Layout> {
        if line.contains(['"', '\r']) {
            return None;
        }
        let mut problems = Vec::new();
        let (csv, _) = FeatureCsv::open(line.as_bytes(), true, &mut problems)?;
        if !problems.is_empty() || csv.label_source.is_some() {
            return None;
        }
        let label_at = csv.label?;
        let s = spec();
        Some(Layout {
            fields: Vec::with_capacity(csv.headers.len()),
            csv,
            label_at,
            cells: CellCache::new(),
            counter: RowCounter::new(s),
            features: vec![0.0; s.n_features()],
            rows: 0,
        })
    }

    fn count(&mut self, line: &str) -> bool {
        self.fields.clear();
        let mut from = 0;
        // Commas end fields; a quote or a carriage return needs the full reader.
        for at in memchr::memchr3_iter(b',', b'"', b'\r', line.as_bytes()) {
            if line.as_bytes()[at] != b',' {
                return false;
            }
            self.fields.push((from, at));
            from = at + 1;
        }
        self.fields.push((from, line.len()));
        if self.fields.len() != self.csv.headers.len() {
            return false;
        }
        // Fields end at ASCII commas, so each is whole UTF-8.
        let text = |at: usize| {
            let (from, to) = self.fields[at];
            &line[from..to]
        };
        for (col_idx, at) in self.csv.features.iter().enumerate() {
            let at = at.expect("every feature column was located");
            match self.cells.feature(col_idx, text(at)) {
                Ok(value) => self.features[col_idx] = value,
                Err(_) => return false,
            }
        }
        let Ok(label) = self.cells.class(text(self.label_at)) else {
            return false;
        };
        self.counter.add(&self.features, label);
        self.rows += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftloop_core::fixtures::{generate, Scenario};

    /// The profile the full reader counts of `text`, or its problems.
    fn full(text: &str) -> std::result::Result<Profile, Vec<crate::error::CsvProblem>> {
        let mut counter = RowCounter::new(spec());
        for_each_feature_row(text.as_bytes(), LabelSource::Expert, |row| {
            counter.add(&row.features, row.label)
        })?;
        Ok(counter.finish())
    }

    fn written(rows: usize, seed: u64) -> String {
        let mut bytes = Vec::new();
        crate::csv_io::write_feature_rows(&generate(Scenario::CovariateShift, rows, seed), &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_plain_file_is_counted_as_the_full_reader_counts_it() {
        let text = written(3_000, 4);
        let expected = full(&text).unwrap();
        assert_eq!(count_plain(text.as_bytes()).unwrap(), Some(expected.clone()));
        // CRLF line ends, no final line end, a BOM, columns in another order and one more.
        let crlf = text.trim_end().replace('\n', "\r\n");
        assert_eq!(count_plain(crlf.as_bytes()).unwrap(), Some(expected.clone()));
        let bom = format!("\u{feff}{text}");
        assert_eq!(count_plain(bom.as_bytes()).unwrap(), full(&bom).ok());
        let reordered: String = text
            .lines()
            .map(|line| {
                let mut cells: Vec<&str> = line.split(',').collect();
                cells.rotate_left(5);
                format!("{},extra\n", cells.join(","))
            })
            .collect();
        assert_eq!(count_plain(reordered.as_bytes()).unwrap(), Some(expected.clone()));
        // Blocks smaller than a line still read every line whole.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(self.0.len()).min(7);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert_eq!(count_plain(Dribble(text.as_bytes())).unwrap(), Some(expected));
    }

    #[test]
    fn what_the_plain_split_cannot_read_goes_to_the_full_reader() {
        let text = written(50, 5);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header = lines[0].clone();
        let quoted = text.replacen("YES", "\"YES\"", 1);
        let blank = format!("{}\n\n{}", lines[..10].join("\n"), lines[10..].join("\n"));
        lines[3] = lines[3].replacen(',', ",,", 1);
        let uneven = lines.join("\n");
        let bad_cell = text.replacen("Usually", "Always", 1);
        let with_source = format!(
            "{header},label_source\n{}",
            text.lines()
                .skip(1)
                .map(|l| format!("{l},expert\n"))
                .collect::<String>()
        );
        for (what, case) in [
            ("a quoted cell", quoted),
            ("a blank line", blank),
            ("a line with a field more", uneven),
            ("a cell outside its levels", bad_cell),
            ("a label-source column", with_source),
            ("no rows", format!("{header}\n")),
            ("nothing", String::new()),
        ] {
            assert_eq!(count_plain(case.as_bytes()).unwrap(), None, "{what}");
        }
    }
}
