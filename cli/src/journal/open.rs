//! Opening a journal: check and lock the directory, cut a torn tail, find each output's place.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::dir::{self, Entry};
use super::format::{self, CURSOR_LEN};
use super::state::{Output, Pos, Segment, State};
use super::{JournalError, JournalOptions, OpenReport, Shared};

/// The journal's shared state, recovered from `dir`, and what it held.
pub(super) fn open(
    dir_path: &Path,
    outputs: &[&str],
    mut opts: JournalOptions,
) -> Result<(Shared, OpenReport), JournalError> {
    check_outputs(outputs)?;
    // At most about 256 segments (each an open file), at least 4 (so dropping one frees room).
    let least = (opts.max_bytes / 256).max(4096);
    opts.segment_bytes = opts
        .segment_bytes
        .clamp(least, (opts.max_bytes / 4).max(least));
    dir::prepare(dir_path)?;
    let lock = dir::lock(dir_path)?;
    let dir_file = dir::open_dir(dir_path)?;
    let entries = dir::list(dir_path)?;
    let mut firsts: Vec<u64> = entries
        .iter()
        .filter_map(|(e, _)| match e {
            Entry::Segment(first) => Some(*first),
            _ => None,
        })
        .collect();
    firsts.sort_unstable();
    let (mut segments, torn_bytes, next_seq) = recover_segments(dir_path, &firsts)?;
    let created = segments.is_empty();
    if created {
        let path = dir_path.join(dir::segment_name(next_seq));
        let file = Arc::new(dir::open_file(&path, true)?);
        segments.push_back(Segment {
            first: next_seq,
            path,
            file,
            len: 0,
        });
    }
    note_unknown_cursors(&entries, outputs);
    let outs = outputs
        .iter()
        .map(|name| open_output(dir_path, name, &segments, next_seq))
        .collect::<Result<Vec<_>, _>>()?;
    if created || torn_bytes > 0 {
        dir_file
            .sync_all()
            .map_err(|e| JournalError::io("sync the journal directory", dir_path, e))?;
    }
    let report = OpenReport {
        waiting: outs
            .iter()
            .map(|o| (o.name.clone(), next_seq - o.acked))
            .collect(),
        torn_bytes,
        bytes: segments.iter().map(|s| s.len).sum(),
    };
    let shared = Shared {
        dir: dir_path.into(),
        opts,
        state: Mutex::new(State::new(segments, next_seq, outs)),
        readable: Condvar::new(),
        work: Condvar::new(),
        dir_file,
        _lock: lock,
    };
    Ok((shared, report))
}

/// Output names become file names: valid, and each once.
fn check_outputs(outputs: &[&str]) -> Result<(), JournalError> {
    for (i, name) in outputs.iter().enumerate() {
        if !dir::valid_output(name) || outputs[..i].contains(name) {
            return Err(JournalError::BadOutput {
                name: (*name).into(),
            });
        }
    }
    Ok(())
}

/// Cursors of outputs not used in this run stay, and are said to.
fn note_unknown_cursors(entries: &[(Entry, PathBuf)], outputs: &[&str]) {
    for (entry, path) in entries {
        if let Entry::Cursor(name) = entry {
            if !outputs.contains(&name.as_str()) {
                log::info!(
                    "the journal cursor {} belongs to no output of this run; it is kept, \
                     and does not hold events back",
                    path.display()
                );
            }
        }
    }
}

/// Opens the segments, checks the newest two record by record and cuts a torn tail; returns
/// them, the bytes cut, and the next sequence number.
fn recover_segments(
    dir_path: &Path,
    firsts: &[u64],
) -> Result<(VecDeque<Segment>, u64, u64), JournalError> {
    let mut segments = VecDeque::new();
    let mut torn = 0;
    let mut next_seq = 0;
    for (k, &first) in firsts.iter().enumerate() {
        let path = dir_path.join(dir::segment_name(first));
        let file = dir::open_file(&path, false)?;
        let read = |e| JournalError::io("read the journal segment", &path, e);
        let mut len = file.metadata().map_err(read)?.len();
        if k + 2 >= firsts.len() {
            let scan = format::scan(&file, len).map_err(read)?;
            if scan.valid_len < len {
                let cut = len - scan.valid_len;
                log::warn!(
                    "the journal segment {} ends in {cut} bytes that are not a whole record \
                     (a write cut short by a crash); cut them off",
                    path.display()
                );
                file.set_len(scan.valid_len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| JournalError::io("cut the torn tail of", &path, e))?;
                torn += cut;
                len = scan.valid_len;
            }
            // A killed process may have left writes in the page cache only: sync them
            // before they count as durable.
            file.sync_data().map_err(read)?;
            next_seq = first + scan.records;
        }
        segments.push_back(Segment {
            first,
            path,
            file: Arc::new(file),
            len,
        });
    }
    Ok((segments, torn, next_seq))
}

/// One output's cursor, opened or created, and its reading position.
fn open_output(
    dir_path: &Path,
    name: &str,
    segments: &VecDeque<Segment>,
    next_seq: u64,
) -> Result<Output, JournalError> {
    let path = dir_path.join(dir::cursor_name(name));
    let cursor = dir::open_file(&path, true)?;
    let mut bytes = [0u8; CURSOR_LEN];
    let n = read_up_to(&cursor, &mut bytes)
        .map_err(|e| JournalError::io("read the journal cursor", &path, e))?;
    let oldest = segments[0].first;
    let (slot, acked) = match format::decode_slots(&bytes[..n]) {
        Some((slot, next)) => (slot ^ 1, next.clamp(oldest, next_seq)),
        None if n == 0 => (0, oldest),
        None => {
            log::warn!(
                "the journal cursor {} is damaged; {name} starts again at the oldest event kept",
                path.display()
            );
            (0, oldest)
        }
    };
    let read = locate(segments, acked, next_seq)
        .map_err(|e| JournalError::io("read the journal segment", &segments[0].path, e))?;
    let mut out = Output {
        name: name.into(),
        read,
        acked,
        dropped: 0,
        cursor: Arc::new(cursor),
        cursor_path: path,
        slot,
        dirty: false,
        stopped: false,
    };
    if n == 0 {
        write_cursor(&mut out)?;
    }
    Ok(out)
}

fn read_up_to(file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes and syncs a new output's first cursor, so the file is never empty once created.
fn write_cursor(out: &mut Output) -> Result<(), JournalError> {
    let slot = format::encode_slot(out.acked);
    out.cursor
        .write_at(&slot, format::slot_offset(out.slot))
        .and_then(|_| out.cursor.sync_data())
        .map_err(|e| JournalError::io("write the journal cursor", &out.cursor_path, e))?;
    out.slot ^= 1;
    Ok(())
}

/// The reading position of sequence number `seq`: its segment, and its offset found by
/// skipping record headers.
fn locate(segments: &VecDeque<Segment>, seq: u64, next_seq: u64) -> std::io::Result<Pos> {
    let k = segments
        .partition_point(|s| s.first <= seq)
        .saturating_sub(1);
    let seg = &segments[k];
    if seq >= next_seq && k + 1 == segments.len() {
        return Ok(Pos {
            seq,
            seg: seg.first,
            offset: seg.len,
        });
    }
    let (offset, _) = format::skip(&seg.file, 0, seq - seg.first, seg.len)?;
    Ok(Pos {
        seq,
        seg: seg.first,
        offset,
    })
}
