//! The bytes on disk, apart from any state: records, their checksum, and the cursor slots.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes before each payload: length (u32 LE), then CRC-32 (u32 LE) of the length bytes and the
/// payload.
pub const HEADER: u64 = 8;
/// The largest payload a record may hold; a larger length in a header is damage, not data.
pub const MAX_RECORD: usize = 16 << 20;
/// Bytes in a cursor file: two slots of 16 bytes, written in turn.
pub const CURSOR_LEN: usize = 32;
const SLOT: usize = 16;
const SLOT_MAGIC: &[u8; 4] = b"ZWC1";

const CRC_TABLE: [u32; 256] = crc_table();

/// The CRC-32 table (IEEE 802.3, reflected polynomial 0xEDB88320), built at compile time.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC-32 of `parts` as if they were one buffer (the checksum of zip, gzip and PNG).
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// One record, header and payload, ready for a single write.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32(&[&len, payload]).to_le_bytes();
    let mut out = Vec::with_capacity(HEADER as usize + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc);
    out.extend_from_slice(payload);
    out
}

/// Why the bytes at an offset are not a whole, valid record.
#[derive(Debug, PartialEq, Eq)]
pub enum Damage {
    /// The segment ends before the header or the payload does.
    Short,
    /// The length is beyond [`MAX_RECORD`].
    BadLength,
    /// The checksum does not match.
    BadCrc,
}

impl Damage {
    /// For the log.
    pub fn describe(&self) -> &'static str {
        match self {
            Damage::Short => "a record cut short",
            Damage::BadLength => "a record with an impossible length",
            Damage::BadCrc => "a record whose checksum does not match",
        }
    }
}

/// The record at `offset` of a segment whose valid bytes end at `end`: its payload read into
/// `buf` (reused, so memory stays one record), or what is wrong with it.
pub fn read_at(
    file: &File,
    offset: u64,
    end: u64,
    buf: &mut Vec<u8>,
) -> io::Result<Result<(), Damage>> {
    if end.saturating_sub(offset) < HEADER {
        return Ok(Err(Damage::Short));
    }
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, offset)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len as usize > MAX_RECORD {
        return Ok(Err(Damage::BadLength));
    }
    if end - offset - HEADER < u64::from(len) {
        return Ok(Err(Damage::Short));
    }
    buf.clear();
    buf.resize(len as usize, 0);
    file.read_exact_at(buf, offset + HEADER)?;
    if crc32(&[&header[..4], buf]) != crc {
        return Ok(Err(Damage::BadCrc));
    }
    Ok(Ok(()))
}

/// What a scan of a segment found: whole records, and where the first bad one starts.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    /// Bytes holding whole, valid records; anything after is a torn tail.
    pub valid_len: u64,
}

/// Reads a segment of `len` bytes record by record, checking every checksum.
pub fn scan(file: &File, len: u64) -> io::Result<Scan> {
    let mut buf = Vec::new();
    let (mut records, mut offset) = (0, 0);
    while offset < len {
        if read_at(file, offset, len, &mut buf)?.is_err() {
            break;
        }
        records += 1;
        offset += HEADER + buf.len() as u64;
    }
    Ok(Scan {
        records,
        valid_len: offset,
    })
}

/// Skips up to `n` records from `offset` by their headers alone (the payloads were checked on
/// open or are checked when read); returns the new offset and how many were skipped.
pub fn skip(file: &File, mut offset: u64, n: u64, end: u64) -> io::Result<(u64, u64)> {
    let mut header = [0u8; 4];
    let mut done = 0;
    while done < n && end.saturating_sub(offset) >= HEADER {
        file.read_exact_at(&mut header, offset)?;
        let len = u64::from(u32::from_le_bytes(header));
        if len as usize > MAX_RECORD || end - offset - HEADER < len {
            break;
        }
        offset += HEADER + len;
        done += 1;
    }
    Ok((offset, done))
}

/// One cursor slot: magic, the next sequence number the output wants (u64 LE), CRC-32 of both.
pub fn encode_slot(next: u64) -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    out[..4].copy_from_slice(SLOT_MAGIC);
    out[4..12].copy_from_slice(&next.to_le_bytes());
    let crc = crc32(&[&out[..12]]);
    out[12..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Byte offset of slot `i` (0 or 1) in a cursor file.
pub fn slot_offset(i: usize) -> u64 {
    (i * SLOT) as u64
}

/// The newest valid slot of a cursor file's bytes: (slot index, next sequence number). A slot
/// torn by a crash fails its checksum, and the other one still holds the previous position.
pub fn decode_slots(bytes: &[u8]) -> Option<(usize, u64)> {
    (0..2)
        .filter_map(|i| {
            let slot = bytes.get(i * SLOT..(i + 1) * SLOT)?;
            let crc = u32::from_le_bytes(slot[12..].try_into().ok()?);
            let valid = &slot[..4] == SLOT_MAGIC && crc32(&[&slot[..12]]) == crc;
            valid.then(|| (i, u64::from_le_bytes(slot[4..12].try_into().unwrap())))
        })
        .max_by_key(|&(_, next)| next)
}
