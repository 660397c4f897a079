//! A Parquet file's text columns counted as they are stored: for a column chunk whose
//! pages are dictionary-encoded (what pandas/pyarrow, Polars and most writers leave for a
//! column of few distinct texts), the dictionary's texts are read once and the rows'
//! dictionary indices counted straight from their run-length/bit-packed encoding, no text
//! and no categorical built per row. This is what makes `drift --reference --current` on
//! Parquet files cost about what decompressing them costs.
//!
//! Anything else (plain-encoded pages, numbers, nested columns, a malformed page) gives
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
use polars_parquet::parquet::schema::types::{PhysicalType, PrimitiveConvertedType, PrimitiveLogicalType};

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
        let primitive = &descriptor.primitive_type;
        let is_text = matches!(
            primitive.logical_type,
            Some(PrimitiveLogicalType::String | PrimitiveLogicalType::Enum)
        ) || matches!(
            primitive.converted_type,
            Some(PrimitiveConvertedType::Utf8 | PrimitiveConvertedType::Enum)
        );
        if primitive.physical_type != PhysicalType::ByteArray
            || !is_text
            || descriptor.max_rep_level != 0
            || descriptor.max_def_level > 1
        {
            return None;
        }
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
                    let entries = plain_texts(&dict.buffer, dict.num_values)?;
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

/// The texts of a dictionary page (PLAIN byte arrays: a 4-byte little-endian length, then
/// the bytes), `None` if the page holds anything else.
fn plain_texts(mut buffer: &[u8], num_values: usize) -> Option<Vec<Vec<u8>>> {
    let mut texts = Vec::with_capacity(num_values);
    for _ in 0..num_values {
        let (length, rest) = buffer.split_first_chunk::<4>()?;
        let (text, rest) = rest.split_at_checked(u32::from_le_bytes(*length) as usize)?;
        texts.push(text.to_vec());
        buffer = rest;
    }
    buffer.is_empty().then_some(texts)
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
        let mut frame = df!("t" => texts, "n" => (0..10_000i64).collect::<Vec<_>>()).unwrap();
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
            // Numbers and absent columns are left to the Polars reader.
            assert_eq!(file.count("n"), None);
            assert_eq!(file.count("absent"), None);
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
