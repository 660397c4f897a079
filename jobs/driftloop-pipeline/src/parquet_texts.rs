//! A Parquet file's text and whole-number columns counted as they are stored: for a
//! column chunk whose pages are dictionary-encoded (what pandas/pyarrow, Polars and most
//! writers leave for a column of few distinct values), the dictionary's values are read
//! once and the rows' dictionary indices counted straight from their run-length/bit-packed
//! encoding, no text and no categorical built per row. This is what makes `drift --reference --current` on
//! Parquet files cost about what decompressing them costs.
//!
//! Anything else (plain-encoded pages, floats, nested columns, a malformed page) gives
//! `None`, and the caller reads that column through Polars, which counts the same values
//! and names any error.

use std::io::Cursor;
use std::path::Path;

use driftloop_stats::StoredTexts;
use polars_buffer::Buffer;
use polars_parquet::parquet::compression::DecompressionContext;
use polars_parquet::parquet::encoding::hybrid_rle::{HybridRleChunk, HybridRleDecoder};
use polars_parquet::parquet::encoding::Encoding;
use polars_parquet::parquet::metadata::{ColumnChunkMetadata, FileMetadata};
use polars_parquet::parquet::page::{split_buffer, DataPage, Page};
use polars_parquet::parquet::read::{decompress, get_page_iterator, read_metadata};
use polars_parquet::parquet::schema::types::{
    IntegerType, PhysicalType, PrimitiveConvertedType, PrimitiveLogicalType, PrimitiveType,
};

/// The largest page accepted, compressed or not: a page of a spec column is far smaller.
const MAX_PAGE_BYTES: usize = 1 << 30;

/// A Parquet file held in memory (its bytes, compressed as stored: far smaller than its
/// rows) with its footer, from which any of its columns can be counted.
pub struct ParquetTexts {
    bytes: Buffer<u8>,
    metadata: FileMetadata,
}

impl ParquetTexts {
    /// Reads `path` and its footer; `None` when it is not a Parquet file this reader takes
    /// (the Polars reader then says what is wrong with it).
    pub fn open(path: &Path) -> Option<Self> {
        let bytes = Buffer::from_vec(std::fs::read(path).ok()?);
        let metadata = read_metadata(&mut Cursor::new(bytes.clone())).ok()?;
        Some(Self { bytes, metadata })
    }

    /// Column `name`'s texts counted as stored, or `None` when a chunk of it is not a
    /// flat text column whose every data page is dictionary-encoded.
    pub fn count(&self, name: &str) -> Option<StoredTexts> {
        let mut counted = StoredTexts::default();
        for group in &self.metadata.row_groups {
            let mut chunks = group.columns_under_root_iter(name)?;
            let chunk = chunks.next()?;
            if chunks.next().is_some() {
                return None;
            }
            self.count_chunk(chunk, &mut counted)?;
            if counted.rows != (counted.texts.iter().map(|(_, n)| n).sum::<u64>() + counted.missing) {
                return None;
            }
        }
        (counted.rows == self.metadata.num_rows as u64).then_some(counted)
    }

    fn count_chunk(&self, chunk: &ColumnChunkMetadata, counted: &mut StoredTexts) -> Option<()> {
        let descriptor = &chunk.descriptor().descriptor;
        let values = Values::of(&descriptor.primitive_type)?;
        if descriptor.max_rep_level != 0 || descriptor.max_def_level > 1 {
            return None;
        }
        counted.numeric = values != Values::Text;
        let pages = get_page_iterator(chunk, Cursor::new(self.bytes.clone()), Vec::new(), MAX_PAGE_BYTES).ok()?;
        let mut scratch = Vec::new();
        let mut context = DecompressionContext::Unset;
        // The dictionary's texts, and how many rows hold each index.
        let mut texts: Option<Vec<Vec<u8>>> = None;
        let mut counts: Vec<u64> = Vec::new();
        for page in pages {
            match decompress(page.ok()?, &mut scratch, &mut context).ok()? {
                Page::Dict(dict) => {
                    if texts.is_some() {
                        return None;
                    }
                    let entries = values.dictionary(&dict.buffer, dict.num_values)?;
                    counts = vec![0; entries.len()];
                    texts = Some(entries);
                }
                Page::Data(page) => {
                    let (rows, missing) = count_page(&page, &mut counts)?;
                    counted.rows += rows;
                    counted.missing += missing;
                }
            }
        }
        counted.texts.extend(texts.unwrap_or_default().into_iter().zip(counts));
        Some(())
    }
}

/// What a column chunk's dictionary holds: text, or whole numbers (compared with a
/// column's levels by their decimal text, as Polars' reader compares an integer column
/// with a score's value or casts it to text for a column of named levels).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Values {
    Text,
    Int32,
    Int64,
}

impl Values {
    /// `None` for any other type: floats, dates, decimals, unsigned 32 and 64-bit
    /// integers (their stored bits read signed would name other numbers), binary.
    fn of(primitive: &PrimitiveType) -> Option<Values> {
        use PrimitiveConvertedType as C;
        use PrimitiveLogicalType as L;
        let whole = |bits: usize| match (&primitive.logical_type, &primitive.converted_type) {
            (None, None) => true,
            (Some(L::Integer(integer)), _) => whole_number(*integer, bits),
            (None, Some(C::Int8 | C::Int16 | C::Int32 | C::Int64 | C::Uint8 | C::Uint16)) => true,
            _ => false,
        };
        match primitive.physical_type {
            PhysicalType::ByteArray => {
                let text = matches!(primitive.logical_type, Some(L::String | L::Enum))
                    || matches!(primitive.converted_type, Some(C::Utf8 | C::Enum));
                text.then_some(Values::Text)
            }
            PhysicalType::Int32 if whole(32) => Some(Values::Int32),
            PhysicalType::Int64 if whole(64) => Some(Values::Int64),
            _ => None,
        }
    }

    /// A dictionary page's entries (PLAIN: a byte array as a 4-byte little-endian length
    /// and its bytes, a number as its little-endian bytes), numbers as decimal text;
    /// `None` if the page holds anything else.
    fn dictionary(self, mut buffer: &[u8], num_values: usize) -> Option<Vec<Vec<u8>>> {
        let mut entries = Vec::with_capacity(num_values);
        for _ in 0..num_values {
            let (entry, rest) = match self {
                Values::Text => {
                    let (length, rest) = buffer.split_first_chunk::<4>()?;
                    let (text, rest) = rest.split_at_checked(u32::from_le_bytes(*length) as usize)?;
                    (text.to_vec(), rest)
                }
                Values::Int32 => {
                    let (number, rest) = buffer.split_first_chunk::<4>()?;
                    (i32::from_le_bytes(*number).to_string().into_bytes(), rest)
                }
                Values::Int64 => {
                    let (number, rest) = buffer.split_first_chunk::<8>()?;
                    (i64::from_le_bytes(*number).to_string().into_bytes(), rest)
                }
            };
            entries.push(entry);
            buffer = rest;
        }
        buffer.is_empty().then_some(entries)
    }
}

/// Whether an integer logical type stored in `bits`-bit words reads as signed numbers
/// of the same value: every signed width, unsigned ones narrower than the word.
fn whole_number(integer: IntegerType, bits: usize) -> bool {
    match integer {
        IntegerType::Int8 | IntegerType::Int16 | IntegerType::Int32 | IntegerType::Int64 => true,
        IntegerType::UInt8 | IntegerType::UInt16 => true,
        IntegerType::UInt32 => bits == 64,
        IntegerType::UInt64 => false,
    }
}

/// Adds a dictionary-encoded data page's indices to `counts` (one per dictionary text);
/// gives the page's rows and missing values. `None` for another encoding or an index
/// outside the dictionary.
fn count_page(page: &DataPage, counts: &mut [u64]) -> Option<(u64, u64)> {
    if !matches!(page.encoding(), Encoding::RleDictionary | Encoding::PlainDictionary) {
        return None;
    }
    let rows = page.num_values();
    let parts = split_buffer(page).ok()?;
    let present = if page.descriptor.max_def_level == 0 {
        rows
    } else {
        if page.definition_level_encoding() != Encoding::Rle {
            return None;
        }
        let mut present = 0;
        for chunk in HybridRleDecoder::new(parts.def, 1, rows).into_chunk_iter() {
            match chunk.ok()? {
                HybridRleChunk::Rle(level, n) => present += if level == 1 { n } else { 0 },
                HybridRleChunk::Bitpacked(decoder) => {
                    let mut levels = Vec::with_capacity(decoder.len());
                    decoder.collect_into(&mut levels);
                    present += levels.iter().filter(|&&level| level == 1).count();
                }
            }
        }
        present
    };
    let (&bit_width, indices) = parts.values.split_first()?;
    if bit_width > 32 || (bit_width == 0 && present > 0 && counts.len() != 1) {
        return None;
    }
    let mut seen = 0;
    let mut unpacked = Vec::new();
    for chunk in HybridRleDecoder::new(indices, bit_width as u32, present).into_chunk_iter() {
        match chunk.ok()? {
            HybridRleChunk::Rle(index, n) => {
                *counts.get_mut(index as usize)? += n as u64;
                seen += n;
            }
            HybridRleChunk::Bitpacked(decoder) => {
                unpacked.clear();
                decoder.collect_into(&mut unpacked);
                for &index in &unpacked {
                    *counts.get_mut(index as usize)? += 1;
                }
                seen += unpacked.len();
            }
        }
    }
    (seen == present).then_some((rows as u64, (rows - present) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    /// 10,000 rows of a text column with missing values and a number column, written by
    /// Polars in row groups of 3,000 with the text column as `text_type`.
    fn written(dir: &Path, text_type: &DataType) -> std::path::PathBuf {
        let texts: Vec<Option<&str>> = (0..10_000)
            .map(|i| match i % 7 {
                0 => None,
                1 | 2 => Some("b"),
                3 if i % 2 == 0 => Some("c"),
                _ => Some("a"),
            })
            .collect();
        let mut frame = df!(
            "t" => texts,
            "x" => (0..10_000).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
            "k" => (0..10_000i64).map(|i| i % 5 - 1).collect::<Vec<_>>()
        )
        .unwrap();
        frame.apply("t", |c| c.cast(text_type).unwrap()).unwrap();
        let path = dir.join(format!("{text_type}.parquet"));
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(3_000))
            .finish(&mut frame)
            .unwrap();
        path
    }

    /// The texts' counts added up across dictionaries, sorted, without texts counted 0 times.
    fn totals(counted: &StoredTexts) -> Vec<(String, u64)> {
        let mut totals = std::collections::BTreeMap::new();
        for (text, n) in counted.texts.iter().filter(|(_, n)| *n > 0) {
            *totals.entry(String::from_utf8(text.clone()).unwrap()).or_insert(0) += n;
        }
        totals.into_iter().collect()
    }

    #[test]
    fn a_dictionary_column_is_counted_as_its_values_with_missing_ones_and_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<(String, u64)> = {
            let (mut a, mut b, mut c) = (0, 0, 0);
            for i in 0..10_000 {
                match i % 7 {
                    0 => {}
                    1 | 2 => b += 1,
                    3 if i % 2 == 0 => c += 1,
                    _ => a += 1,
                }
            }
            vec![("a".into(), a), ("b".into(), b), ("c".into(), c)]
        };
        let categorical = DataType::from_categories(Categories::global());
        for text_type in [categorical, DataType::String] {
            let path = written(dir.path(), &text_type);
            let file = ParquetTexts::open(&path).unwrap();
            let counted = file
                .count("t")
                .unwrap_or_else(|| panic!("{text_type}: not counted as stored"));
            assert_eq!(counted.rows, 10_000, "{text_type}");
            assert_eq!(counted.missing, 1_429, "{text_type}");
            assert_eq!(totals(&counted), expected, "{text_type}");
            assert!(!counted.numeric);
            // Floats and absent columns are left to the Polars reader.
            assert_eq!(file.count("x"), None);
            assert_eq!(file.count("absent"), None);
        }
    }

    #[test]
    fn a_dictionary_of_whole_numbers_is_counted_as_their_decimal_text() {
        let dir = tempfile::tempdir().unwrap();
        let k: Vec<i64> = (0..10_000).map(|i| i % 5 - 1).collect();
        for dtype in [DataType::Int64, DataType::Int32, DataType::Int8, DataType::UInt8] {
            let mut frame = df!("k" => k.clone()).unwrap();
            if dtype == DataType::UInt8 {
                frame.apply("k", |c| (c + 1).cast(&dtype).unwrap()).unwrap();
            } else {
                frame.apply("k", |c| c.cast(&dtype).unwrap()).unwrap();
            }
            let path = dir.path().join(format!("{dtype}.parquet"));
            // Polars writes a column of few distinct values with a dictionary.
            ParquetWriter::new(std::fs::File::create(&path).unwrap())
                .finish(&mut frame)
                .unwrap();
            let counted = ParquetTexts::open(&path)
                .unwrap()
                .count("k")
                .unwrap_or_else(|| panic!("{dtype}: not counted as stored"));
            let texts: Vec<&str> = if dtype == DataType::UInt8 {
                vec!["0", "1", "2", "3", "4"]
            } else {
                vec!["-1", "0", "1", "2", "3"]
            };
            let expected: Vec<(String, u64)> = texts.into_iter().map(|t| (t.to_string(), 2_000)).collect();
            assert_eq!(totals(&counted), expected, "{dtype}");
            assert!(
                counted.numeric && counted.missing == 0 && counted.rows == 10_000,
                "{dtype}"
            );
        }
    }

    #[test]
    fn what_is_not_parquet_is_left_to_the_polars_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not.parquet");
        std::fs::write(&path, b"sadness,diagnosis\nUsually,Normal\n").unwrap();
        assert!(ParquetTexts::open(&path).is_none());
        assert!(ParquetTexts::open(&dir.path().join("absent.parquet")).is_none());
    }
}
