//! A CSV file's [`Profile`], counted as it is read. A file without quotes (what a CSV of
//! levels and numbers nearly always is) has fields that are the bytes between commas, so
//! it is split a block of lines at a time, and each counted column's cells are counted per
//! distinct text, each text parsed once when first seen ([`Tally`]). Anything the plain split cannot read as the CSV
//! reader would (a quote, a bare carriage return, a blank line, a line with another number
//! of fields, a bad cell, a label-source column) sends the whole file through the full
//! reader ([`crate::csv_io::for_each_feature_row`]), which says what is wrong: the profile,
//! and every error, are the same either way.

use std::io::Read;
use std::path::Path;

use driftloop_core::{spec, LabelSource, Profile, RowCounter};

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
        // Every whole line in the buffer at once; then the rest moves to the front and more
        // is read.
        if let Some(last) = memchr::memrchr(b'\n', &buffer[start..end]) {
            if !lines.take(&buffer[start..start + last]) {
                return Ok(None);
            }
            start += last + 1;
        }
        if eof {
            let rest = &buffer[start..end];
            if !(rest.is_empty() || lines.take(rest)) {
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

/// What a field of the header's columns is counted as.
#[derive(Clone, Copy)]
enum Role {
    /// Feature column `c` of the spec, counted per distinct text.
    Feature(usize),
    /// The label, counted per distinct text.
    Label,
    /// Continuous feature column `c`: each cell parsed, its value counted.
    Continuous(usize),
    /// A column the dataset does not declare.
    Ignored,
}

struct Layout {
    /// Per field of a line, in the header's order.
    roles: Vec<Role>,
    texts: Texts,
    counter: RowCounter<'static>,
    rows: u64,
}

impl Lines {
    /// Counts whole lines (`\n` between them, none after the last); `false` when they
    /// need the full reader.
    fn take(&mut self, block: &[u8]) -> bool {
        if std::str::from_utf8(block).is_err() {
            return false;
        }
        // A quote needs the full reader, and so does a carriage return anywhere but before
        // a line end (the CSV reader ends a line there).
        let plain = memchr::memchr2_iter(b'"', b'\r', block)
            .all(|at| block[at] == b'\r' && block.get(at + 1).is_none_or(|&next| next == b'\n'));
        if !plain {
            return false;
        }
        match &mut self.layout {
            Some(layout) => layout.count(block),
            None => {
                let (header, rest) = match memchr::memchr(b'\n', block) {
                    Some(at) => (&block[..at], Some(&block[at + 1..])),
                    None => (block, None),
                };
                let header = header.strip_suffix(b"\r").unwrap_or(header);
                let Some(mut layout) = Layout::of_header(header) else {
                    return false;
                };
                let counted = rest.is_none_or(|rest| layout.count(rest));
                self.layout = Some(layout);
                counted
            }
        }
    }

    fn finish(self) -> Option<Profile> {
        let mut layout = self.layout?;
        if layout.rows == 0 {
            return None;
        }
        for text in &layout.texts.kept {
            match layout.roles[text.field] {
                Role::Feature(c) => layout.counter.add_cells(c, text.value, text.count),
                Role::Label => layout.counter.add_labels(text.value as u8, text.count),
                Role::Continuous(_) | Role::Ignored => unreachable!("only counted fields keep texts"),
            }
        }
        Some(layout.counter.finish())
    }
}

impl Layout {
    /// The layout a header gives, when it names every spec column once, the label, and no
    /// label source (whose cells the full reader checks).
    fn of_header(line: &[u8]) -> Option<Layout> {
        if line.is_empty() {
            return None;
        }
        let mut problems = Vec::new();
        let (csv, _) = FeatureCsv::open(line, true, &mut problems)?;
        if !problems.is_empty() || csv.label_source.is_some() {
            return None;
        }
        let s = spec();
        let mut roles = vec![Role::Ignored; csv.headers.len()];
        roles[csv.label?] = Role::Label;
        for (c, at) in csv.features.iter().enumerate() {
            roles[at.expect("every feature column was located")] = match s.features[c].kind {
                driftloop_core::ColumnKind::Number { .. } => Role::Continuous(c),
                _ => Role::Feature(c),
            };
        }
        Some(Layout {
            texts: Texts::new(roles.len()),
            roles,
            counter: RowCounter::new(s),
            rows: 0,
        })
    }

    /// Counts whole lines (checked by [`Lines::take`]); `false` when one needs the full
    /// reader.
    fn count(&mut self, block: &[u8]) -> bool {
        let last_field = self.roles.len() - 1;
        let n = block.len();
        // The commas and line ends are found 64 bytes at a time, as a mask with a bit per
        // byte, and then taken one by one from the mask: fields of varying length cost
        // no search and no mispredicted branch each.
        let (mut field, mut from) = (0, 0);
        let mut chunks = block.chunks_exact(64);
        let mut base = 0;
        let mut tail = [0u8; 64];
        loop {
            let mut ends = match chunks.next() {
                Some(chunk) => separators(chunk.try_into().expect("64 bytes")),
                None if base < n => {
                    let rest = chunks.remainder();
                    tail[..rest.len()].copy_from_slice(rest);
                    tail[rest.len()..].fill(0);
                    separators(&tail)
                }
                None => break,
            };
            while ends != 0 {
                let to = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                // A line ends after its last field and nowhere else.
                let line_end = block[to] == b'\n';
                if line_end != (field == last_field) || !self.cell(field, block, from, to, line_end) {
                    return false;
                }
                from = to + 1;
                if line_end {
                    self.rows += 1;
                    field = 0;
                } else {
                    field += 1;
                }
            }
            base += 64;
        }
        // The last line ends with the block.
        if field != last_field || !self.cell(field, block, from, n, true) {
            return false;
        }
        self.rows += 1;
        true
    }

    /// Counts field `field`'s cell `block[from..to]` (a line's last with a carriage return
    /// before its end dropped); `false` when it does not parse.
    #[inline(always)]
    fn cell(&mut self, field: usize, block: &[u8], from: usize, to: usize, line_end: bool) -> bool {
        let to = if line_end && to > from && block[to - 1] == b'\r' {
            to - 1
        } else {
            to
        };
        match self.roles[field] {
            Role::Feature(_) | Role::Label => {
                let key = Key::of(block, from, to);
                self.texts.count(field, key, &block[from..to]) || self.first_seen(field, key, &block[from..to])
            }
            Role::Continuous(c) => {
                let raw = std::str::from_utf8(&block[from..to]).expect("a field of a UTF-8 line");
                match spec().parse_feature(c, raw) {
                    Ok(value) => {
                        self.counter.add_cells(c, value, 1);
                        true
                    }
                    Err(_) => false,
                }
            }
            Role::Ignored => true,
        }
    }

    /// Counts a cell whose text is not among the kept texts' slots (the first of its text,
    /// or one whose slot holds another text): parsed, and kept when its field has room;
    /// `false` when it does not parse.
    #[cold]
    #[inline(never)]
    fn first_seen(&mut self, field: usize, key: Key, cell: &[u8]) -> bool {
        if let Some(text) = self
            .texts
            .kept
            .iter_mut()
            .find(|text| text.field == field && text.is(key, cell))
        {
            text.count += 1;
            return true;
        }
        // Lines were checked as UTF-8 whole, and fields end at ASCII bytes.
        let raw = std::str::from_utf8(cell).expect("a field of a UTF-8 line");
        let parsed = match self.roles[field] {
            Role::Feature(c) => spec().parse_feature(c, raw),
            Role::Label => spec().parse_class(raw).map(f64::from),
            Role::Continuous(_) | Role::Ignored => unreachable!("only counted fields have texts"),
        };
        let Ok(value) = parsed else {
            return false;
        };
        match self.roles[field] {
            Role::Feature(c) if self.texts.per_field[field] >= Texts::PER_FIELD => self.counter.add_cells(c, value, 1),
            _ => self.texts.keep(field, key, cell, value),
        }
        true
    }
}

/// The distinct texts of a file's counted fields, each with its value and the cells that
/// held it: a column of levels or scores holds a handful of texts in millions of rows,
/// each parsed once, when first seen.
struct Texts {
    /// Per field, [`Texts::SLOTS`] slots, each the index + 1 in `kept` of a text whose
    /// [`Key::slot`] it is (0: none), so that a cell is found with one comparison.
    slots: Vec<u16>,
    kept: Vec<Text>,
    /// Per field, the texts kept.
    per_field: Vec<usize>,
}

/// A distinct text of a field, the value it parses to, and the cells that held it.
struct Text {
    field: usize,
    key: Key,
    /// The text, when longer than its key holds.
    long: Option<Box<[u8]>>,
    value: f64,
    count: u64,
}

impl Text {
    /// Whether the cell with key `key` holds this text.
    #[inline(always)]
    fn is(&self, key: Key, cell: &[u8]) -> bool {
        self.key == key && (key.len <= Key::BYTES || self.long.as_deref() == Some(cell))
    }
}

impl Texts {
    const SLOTS: usize = 256;
    /// The distinct texts kept per feature field; the cells of any other text are parsed
    /// one by one. A label's texts are all kept: they are its classes, give or take spaces
    /// around them.
    const PER_FIELD: usize = 64;

    fn new(fields: usize) -> Texts {
        Texts {
            slots: vec![0; fields * Self::SLOTS],
            kept: Vec::new(),
            per_field: vec![0; fields],
        }
    }

    /// Counts a cell of a kept text found by its slot; `false` when it is not one.
    #[inline(always)]
    fn count(&mut self, field: usize, key: Key, cell: &[u8]) -> bool {
        let at = self.slots[field * Self::SLOTS + key.slot()];
        match (at as usize).checked_sub(1).and_then(|at| self.kept.get_mut(at)) {
            // A field's slots hold only its own texts.
            Some(text) if text.is(key, cell) => {
                text.count += 1;
                true
            }
            _ => false,
        }
    }

    fn keep(&mut self, field: usize, key: Key, cell: &[u8], value: f64) {
        self.kept.push(Text {
            field,
            key,
            long: (cell.len() > Key::BYTES).then(|| cell.into()),
            value,
            count: 1,
        });
        self.per_field[field] += 1;
        let slot = &mut self.slots[field * Self::SLOTS + key.slot()];
        if *slot == 0 {
            *slot = u16::try_from(self.kept.len()).unwrap_or(0);
        }
    }
}

/// A cell's length and its first 16 bytes as one number (zeros past its end): two cells
/// of at most 16 bytes hold the same text when their keys are equal, which is compared
/// without a loop whose length depends on the text.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    word: u128,
}

impl Key {
    const BYTES: usize = 16;

    /// The key of the cell `block[from..to]`.
    #[inline(always)]
    fn of(block: &[u8], from: usize, to: usize) -> Key {
        let len = to - from;
        let mut bytes = [0u8; Self::BYTES];
        match block.get(from..from + Self::BYTES) {
            Some(sixteen) => bytes.copy_from_slice(sixteen),
            None => {
                let short = len.min(Self::BYTES);
                bytes[..short].copy_from_slice(&block[from..from + short]);
            }
        }
        let keep = match len {
            0 => 0,
            1..Self::BYTES => u128::MAX >> (8 * (Self::BYTES - len)),
            _ => u128::MAX,
        };
        Key {
            len,
            word: u128::from_le_bytes(bytes) & keep,
        }
    }

    /// The key's slot among a field's [`Texts::SLOTS`].
    #[inline(always)]
    fn slot(self) -> usize {
        let mixed = (self.word as u64) ^ ((self.word >> 64) as u64).rotate_left(17) ^ self.len as u64;
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
    }
}

/// A bit per byte of `chunk`, set where it holds a comma or a line end. Eight bytes at a
/// time as one 64-bit word: a byte equal to the one sought becomes zero after an XOR,
/// and the top bit of each zero byte is set without carries between bytes (exact, unlike
/// the shorter test that may mark a byte after a zero one), then gathered into 8 bits.
fn separators(chunk: &[u8; 64]) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let zero_bytes = |word: u64| !(((word & LOW7) + LOW7) | word | LOW7);
    let mut mask = 0;
    for (i, eight) in chunk.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
        let found =
            zero_bytes(word ^ u64::from_ne_bytes([b','; 8])) | zero_bytes(word ^ u64::from_ne_bytes([b'\n'; 8]));
        // The top bits, one per byte, moved by one multiplication into the top byte.
        mask |= ((found >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    mask
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

    /// `text` with each cell of each line after the header replaced by `cell(line, cell)`.
    fn with_cells(text: &str, cell: impl Fn(usize, &str) -> String) -> String {
        text.lines()
            .enumerate()
            .map(|(i, line)| match i {
                0 => format!("{line}\n"),
                _ => format!(
                    "{}\n",
                    line.split(',').map(|c| cell(i, c)).collect::<Vec<_>>().join(",")
                ),
            })
            .collect()
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
        // More distinct texts than a column keeps (spaces around a level, a class): the
        // cells past them are parsed one by one and counted the same.
        let padded = with_cells(&text, |line, cell| {
            let pad = " ".repeat(line % (Texts::PER_FIELD + 30));
            format!("{pad}{cell}{pad}")
        });
        let expected = full(&padded).unwrap();
        assert_eq!(expected.rows, 3_000);
        assert_eq!(count_plain(padded.as_bytes()).unwrap(), Some(expected));
    }

    #[test]
    fn texts_longer_than_a_key_are_told_apart_by_all_their_bytes() {
        // "YES" and "NO" padded to the same length with the same first 16 bytes: equal
        // keys, different texts.
        let text = written(500, 6);
        let padded = with_cells(&text, |_, cell| match cell {
            "YES" => format!("{}YES", " ".repeat(16)),
            "NO" => format!("{}NO", " ".repeat(17)),
            other => other.to_string(),
        });
        let expected = full(&text).unwrap();
        assert_eq!(full(&padded).unwrap(), expected);
        assert_eq!(count_plain(padded.as_bytes()).unwrap(), Some(expected));
    }

    #[test]
    fn separators_marks_each_comma_and_line_end_and_nothing_else() {
        let naive = |chunk: &[u8; 64]| {
            (0..64).fold(0u64, |mask, at| {
                mask | (u64::from(chunk[at] == b',' || chunk[at] == b'\n') << at)
            })
        };
        // Every byte value at every position.
        let mut chunk = [b'a'; 64];
        for value in 0..=255u8 {
            for at in 0..64 {
                chunk.fill(b'a');
                chunk[at] = value;
                assert_eq!(separators(&chunk), naive(&chunk), "{value:#04x} at {at}");
            }
        }
        // Mixes of the two sought and their neighbours (which differ from them in one bit,
        // where a test for zero bytes with borrows between bytes goes wrong), seeded.
        let alphabet = [
            b',',
            b'\n',
            b',' ^ 1,
            b'\n' ^ 1,
            b',' ^ 0x80,
            b'\n' ^ 0x80,
            0,
            1,
            0xff,
            0x7f,
            b'a',
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            for byte in chunk.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = alphabet[(state % alphabet.len() as u64) as usize];
            }
            assert_eq!(separators(&chunk), naive(&chunk), "{chunk:?}");
        }
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
        let bare_return = text.replacen(",YES,", ",YES\r,", 1);
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
            ("a carriage return inside a line", bare_return),
            ("a label-source column", with_source),
            ("no rows", format!("{header}\n")),
            ("nothing", String::new()),
        ] {
            assert_eq!(count_plain(case.as_bytes()).unwrap(), None, "{what}");
        }
    }
}
