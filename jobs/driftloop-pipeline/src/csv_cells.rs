//! Parsing a CSV's cells once per distinct text: what import and offline predict share
//! (a file's drift profile counts its texts in `csv_count.rs`).

use driftloop_core::{spec, CellError};

/// The cells of a file's counted columns parsed once per distinct text: a column of
/// levels or scores holds a handful of texts in millions of rows, and a text parses the
/// same way each time. Continuous columns are parsed cell by cell.
pub(crate) struct CellCache {
    /// Per feature column, then the label: each text seen with its value, up to
    /// [`CellCache::TEXTS`] texts (`None`: a column not cached).
    seen: Vec<Option<Vec<Parsed>>>,
}

/// A cell's text and the value it parses to.
type Parsed = (Box<str>, f64);

impl CellCache {
    const TEXTS: usize = 64;

    pub(crate) fn new() -> Self {
        let s = spec();
        let seen = s
            .features
            .iter()
            .map(|column| (!matches!(column.kind, driftloop_core::ColumnKind::Number { .. })).then(Vec::new))
            .chain([Some(Vec::new())])
            .collect();
        CellCache { seen }
    }

    fn cached(
        &mut self,
        at: usize,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<f64, CellError>,
    ) -> Result<f64, CellError> {
        let Some(seen) = self.seen[at].as_mut() else {
            return parse(raw);
        };
        // Length and first byte first: most texts of a column differ there. The bytes
        // are then compared in a loop: a call to compare a few bytes costs more.
        let first = raw.as_bytes().first();
        let found = seen.iter().find(|(text, _)| {
            text.len() == raw.len()
                && text.as_bytes().first() == first
                && text.bytes().zip(raw.bytes()).all(|(a, b)| a == b)
        });
        if let Some((_, value)) = found {
            return Ok(*value);
        }
        let value = parse(raw)?;
        if seen.len() < Self::TEXTS {
            seen.push((raw.into(), value));
        }
        Ok(value)
    }

    /// [`driftloop_core::DatasetSpec::parse_feature`] of column `col_idx`.
    pub(crate) fn feature(&mut self, col_idx: usize, raw: &str) -> Result<f64, CellError> {
        self.cached(col_idx, raw, |raw| spec().parse_feature(col_idx, raw))
    }

    /// [`driftloop_core::DatasetSpec::parse_class`].
    pub(crate) fn class(&mut self, raw: &str) -> Result<u8, CellError> {
        let at = self.seen.len() - 1;
        self.cached(at, raw, |raw| spec().parse_class(raw).map(f64::from))
            .map(|class| class as u8)
    }
}
