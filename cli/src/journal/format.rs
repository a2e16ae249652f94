//! The bytes on disk, apart from any state: records (format 2: each carries its sequence
//! number), their checksum, finding the next valid record after damage, and the slot files.

use std::ops::Range;

/// Bytes before each payload: length (u32 LE), CRC-32 (u32 LE) of the length, sequence number
/// and payload, then the sequence number (u64 LE).
pub const HEADER: usize = 16;
/// The largest payload a record may hold; a larger length in a header is damage, not data.
pub const MAX_RECORD: usize = 16 << 20;
/// Bytes in a slot file (cursors, `seq`): two slots, written in turn.
pub const SLOTS_LEN: usize = 2 * SLOT;
const SLOT: usize = 24;
const SLOT_MAGIC: &[u8; 4] = b"ZWC2";

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320) tables for slicing by 8, built at compile time.
const CRC: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
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
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][(t[k - 1][i] & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

/// CRC-32 of `parts` as if they were one buffer (the checksum of zip, gzip and PNG).
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for b in &mut chunks {
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            c = CRC[7][(lo & 0xFF) as usize]
                ^ CRC[6][((lo >> 8) & 0xFF) as usize]
                ^ CRC[5][((lo >> 16) & 0xFF) as usize]
                ^ CRC[4][(lo >> 24) as usize]
                ^ CRC[3][b[4] as usize]
                ^ CRC[2][b[5] as usize]
                ^ CRC[1][b[6] as usize]
                ^ CRC[0][b[7] as usize];
        }
        for &b in chunks.remainder() {
            c = CRC[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Appends record `seq` to `buf` with its checksum left out: [`seal`] fills it in later, off
/// the appending thread.
pub fn push(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Fills in the checksum of every record of `buf` (whole records, back to back).
pub fn seal(buf: &mut [u8]) {
    let mut at = 0;
    while at < buf.len() {
        let end = at + HEADER + u32_at(buf, at) as usize;
        let crc = crc32(&[&buf[at..at + 4], &buf[at + 8..end]]);
        buf[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// The sizes of the records in `buf` (as [`push`] leaves them), with their sequence numbers.
pub fn records(buf: &[u8]) -> impl Iterator<Item = (u64, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        (at < buf.len()).then(|| {
            let size = HEADER + u32_at(buf, at) as usize;
            let seq = u64_at(buf, at + 8);
            at += size;
            (seq, size)
        })
    })
}

/// The bytes end before the header or the payload does: damage, or a read that stopped short.
pub const SHORT: &str = "a record cut short";

/// The record at `at` of `bytes`: its sequence number and where its payload is; else why the
/// bytes there are not a whole, valid record ([`SHORT`], a length beyond [`MAX_RECORD`], a
/// checksum that does not match), in the words of the log line.
pub fn parse(bytes: &[u8], at: usize) -> Result<(u64, Range<usize>), &'static str> {
    if bytes.len().saturating_sub(at) < HEADER {
        return Err(SHORT);
    }
    let len = u32_at(bytes, at) as usize;
    if len > MAX_RECORD {
        return Err("a record with an impossible length");
    }
    let payload = at + HEADER..at + HEADER + len;
    if payload.end > bytes.len() {
        return Err(SHORT);
    }
    let crc = crc32(&[&bytes[at..at + 4], &bytes[at + 8..payload.end]]);
    if crc != u32_at(bytes, at + 4) {
        return Err("a record whose checksum does not match");
    }
    Ok((u64_at(bytes, at + 8), payload))
}

/// The first offset from `from` where a whole, valid record numbered in `seqs` starts (as
/// LevelDB's log reader resynchronises): what lies between is damage.
pub fn resync(bytes: &[u8], from: usize, seqs: Range<u64>) -> Option<(usize, u64)> {
    let last = bytes.len().checked_sub(HEADER)?;
    (from..=last).find_map(|at| {
        let len = u32_at(bytes, at) as usize;
        let plausible = len <= bytes.len() - at - HEADER && seqs.contains(&u64_at(bytes, at + 8));
        match plausible.then(|| parse(bytes, at)) {
            Some(Ok((seq, _))) => Some((at, seq)),
            _ => None,
        }
    })
}

/// One slot: magic, a sequence number, a count of events dropped and not yet reported (both
/// u64 LE), CRC-32 of the three.
pub fn encode_slot(next: u64, lost: u64) -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    out[..4].copy_from_slice(SLOT_MAGIC);
    out[4..12].copy_from_slice(&next.to_le_bytes());
    out[12..20].copy_from_slice(&lost.to_le_bytes());
    let crc = crc32(&[&out[..20]]);
    out[20..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Byte offset of slot `i` (0 or 1).
pub fn slot_offset(i: usize) -> u64 {
    (i * SLOT) as u64
}

/// A slot read back: (its index, sequence number, lost).
pub type Slot = (usize, u64, u64);

/// The newest valid slot of a slot file's bytes: (slot index, sequence number, lost). A slot
/// torn by a crash fails its checksum, and the other one still holds the previous value.
pub fn decode_slots(bytes: &[u8]) -> Option<Slot> {
    (0..2)
        .filter_map(|i| {
            let slot = bytes.get(i * SLOT..(i + 1) * SLOT)?;
            let valid = &slot[..4] == SLOT_MAGIC && crc32(&[&slot[..20]]) == u32_at(slot, 20);
            valid.then(|| (i, u64_at(slot, 4), u64_at(slot, 12)))
        })
        .max_by_key(|&(_, next, _)| next)
}
