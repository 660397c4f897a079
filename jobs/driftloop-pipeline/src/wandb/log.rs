//! W&B's transaction log (`run-<id>.wandb`): a 7-byte file header (`:W&B`, the magic
//! 0xBEE1 little-endian, version 0), then LevelDB's log format: 32 KiB blocks of records,
//! each with a 7-byte header (CRC-32 of the type byte and the data, little-endian; the
//! data's length, little-endian u16; the type: 1 full, 2 first, 3 middle, 4 last of a
//! record split across blocks). A block's last 1–6 bytes, too few for a header, are
//! zeros. The header counts as the first 7 bytes of the first block.

/// The size of a block.
pub const BLOCK: usize = 32 * 1024;
/// The file header.
pub const FILE_HEADER: [u8; 7] = [b':', b'W', b'&', b'B', 0xE1, 0xBE, 0x00];
const RECORD_HEADER: usize = 7;

const FULL: u8 = 1;
const FIRST: u8 = 2;
const MIDDLE: u8 = 3;
const LAST: u8 = 4;

/// A log being written, in memory (a training's run is a few kilobytes).
#[derive(Debug, Clone)]
pub struct TransactionLog {
    bytes: Vec<u8>,
}

impl Default for TransactionLog {
    fn default() -> Self {
        TransactionLog {
            bytes: FILE_HEADER.to_vec(),
        }
    }
}

impl TransactionLog {
    /// Appends one record's data, split across blocks where it does not fit.
    pub fn append(&mut self, data: &[u8]) {
        let mut rest = data;
        let mut first = true;
        loop {
            let left = BLOCK - self.bytes.len() % BLOCK;
            if left < RECORD_HEADER {
                self.bytes.resize(self.bytes.len() + left, 0);
                continue;
            }
            let take = rest.len().min(left - RECORD_HEADER);
            let last = take == rest.len();
            let kind = match (first, last) {
                (true, true) => FULL,
                (true, false) => FIRST,
                (false, false) => MIDDLE,
                (false, true) => LAST,
            };
            let (chunk, after) = rest.split_at(take);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&[kind]);
            crc.update(chunk);
            self.bytes.extend(crc.finalize().to_le_bytes());
            self.bytes.extend((take as u16).to_le_bytes());
            self.bytes.push(kind);
            self.bytes.extend(chunk);
            rest = after;
            first = false;
            if last {
                return;
            }
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads the records of a log back (checking every checksum), for tests and `models
/// sync`'s checks: the data of each record, or what is wrong and where.
pub fn read_records(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.len() < FILE_HEADER.len() || bytes[..FILE_HEADER.len()] != FILE_HEADER {
        return Err("not a W&B transaction log: the file header is missing".into());
    }
    let mut records = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    let mut at = FILE_HEADER.len();
    while at < bytes.len() {
        let left = BLOCK - at % BLOCK;
        if left < RECORD_HEADER {
            at += left;
            continue;
        }
        if at + RECORD_HEADER > bytes.len() {
            return Err(format!("a record header is cut off at byte {at}"));
        }
        let checksum = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let length = u16::from_le_bytes(bytes[at + 4..at + 6].try_into().expect("2 bytes")) as usize;
        let kind = bytes[at + 6];
        let start = at + RECORD_HEADER;
        let Some(chunk) = bytes.get(start..start + length) else {
            return Err(format!("the record at byte {at} runs past the end of the file"));
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(chunk);
        if crc.finalize() != checksum {
            return Err(format!("the record at byte {at} fails its checksum"));
        }
        match (kind, pending.take()) {
            (FULL, None) => records.push(chunk.to_vec()),
            (FIRST, None) => pending = Some(chunk.to_vec()),
            (MIDDLE, Some(mut data)) => {
                data.extend(chunk);
                pending = Some(data);
            }
            (LAST, Some(mut data)) => {
                data.extend(chunk);
                records.push(data);
            }
            (kind, _) => return Err(format!("the record at byte {at} has type {kind} out of order")),
        }
        at = start + length;
    }
    match pending {
        Some(_) => Err("the last record is cut off".into()),
        None => Ok(records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_across_blocks() {
        let mut log = TransactionLog::default();
        let small = b"a small record".to_vec();
        let large: Vec<u8> = (0..BLOCK * 2 + 123).map(|i| (i % 251) as u8).collect();
        log.append(&small);
        log.append(&large);
        log.append(&small);
        let bytes = log.into_bytes();
        assert_eq!(&bytes[..7], b":W&B\xe1\xbe\x00");
        // The large record starts in the first block and ends in the third.
        assert_eq!(bytes[7 + 7 + small.len() + 6], FIRST);
        assert_eq!(read_records(&bytes).unwrap(), vec![small.clone(), large, small]);
    }

    #[test]
    fn a_block_tail_too_short_for_a_header_is_padded() {
        let mut log = TransactionLog::default();
        // Leaves 3 bytes in the first block: 7 (file) + 7 (record) + data = BLOCK - 3.
        let data = vec![7u8; BLOCK - 3 - 14];
        log.append(&data);
        log.append(b"next");
        let bytes = log.into_bytes();
        assert_eq!(&bytes[BLOCK - 3..BLOCK], &[0, 0, 0]);
        assert_eq!(bytes[BLOCK + 6], FULL);
        assert_eq!(read_records(&bytes).unwrap(), vec![data, b"next".to_vec()]);
    }

    #[test]
    fn a_flipped_byte_is_found() {
        let mut log = TransactionLog::default();
        log.append(b"the record");
        let mut bytes = log.into_bytes();
        bytes[20] ^= 0x40;
        assert!(read_records(&bytes).unwrap_err().contains("fails its checksum"));
    }
}
