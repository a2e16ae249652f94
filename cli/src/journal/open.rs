//! Opening a journal: check and lock the directory, find the numbering, cut a torn tail, place
//! every output (present or not) and say what waits and what was lost.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex};

use super::dir::{self, Entry};
use super::format;
use super::state::{self, Output, Reader, Segment, Slots, State};
use super::{Inbox, JournalError, JournalOptions, OpenReport, Shared, SyncStats};

/// The largest payload `opts` allows: one that fits half the size limit.
pub(super) fn max_record(opts: &JournalOptions) -> usize {
    let half = usize::try_from(opts.max_bytes / 2).unwrap_or(usize::MAX);
    format::MAX_RECORD.min(half)
}

/// The size a new segment may grow to: small next to the limit and the free space, so that a
/// drop frees little at a time.
pub(super) fn segment_size(opts: &JournalOptions, free: Option<u64>) -> u64 {
    let size = opts.segment_bytes.min(8 << 20).min(opts.max_bytes / 64);
    free.map_or(size, |f| size.min(f / 16)).max(4096)
}

/// The journal's shared state, recovered from `dir`, what it held, and the high-water mark's
/// file (the committer's).
pub(super) fn open(
    dir_path: &Path,
    outputs: &[&str],
    opts: JournalOptions,
) -> Result<(Shared, OpenReport, Slots), JournalError> {
    check_outputs(outputs, &opts.forget)?;
    dir::prepare(dir_path)?;
    let lock = dir::lock(dir_path)?;
    let dir_file = dir::open_dir(dir_path)?;
    let entries = dir::list(dir_path)?;
    let (seq, hwm) = high_water_mark(dir_path)?;
    let (segments, torn_bytes, next_seq, created) = numbering(dir_path, &entries, hwm)?;
    let forgot = forget(&opts.forget, &entries, segments[0].first, next_seq)?;
    let outs = place_outputs(
        dir_path,
        outputs,
        &opts.forget,
        &entries,
        &segments,
        next_seq,
    )?;
    if created || torn_bytes > 0 || forgot {
        dir_file
            .sync_all()
            .map_err(|e| JournalError::io("sync the journal directory", dir_path, e))?;
    }
    let report = OpenReport {
        waiting: outs
            .iter()
            .filter(|o| o.present)
            .map(|o| (o.name.clone(), next_seq.saturating_sub(o.acked)))
            .collect(),
        torn_bytes,
        bytes: segments.iter().map(|s| s.len).sum(),
    };
    let shared = Shared {
        dir: dir_path.into(),
        names: outputs.join(", "),
        inbox: Mutex::new(Inbox {
            buf: Vec::new(),
            next_seq,
            closed: false,
            idle: false,
        }),
        work: Condvar::new(),
        state: Mutex::new(State {
            bytes: report.bytes,
            segments,
            written: next_seq,
            durable: next_seq,
            outputs: outs,
            closed: false,
            committer_done: false,
            stats: SyncStats::default(),
        }),
        readable: Condvar::new(),
        kick: AtomicBool::new(false),
        refused: AtomicU64::new(0),
        opts,
        dir_file,
        _lock: lock,
    };
    Ok((shared, report, seq))
}

/// The high-water mark's file, and the mark (0 if missing or damaged).
fn high_water_mark(dir_path: &Path) -> Result<(Slots, u64), JournalError> {
    let (mut seq, n, slot) = Slots::open(dir_path.join(dir::SEQ), true)?;
    if slot.is_none() && n > 0 {
        log::warn!(
            "the journal's high-water mark {} is damaged; numbering goes on from the segments",
            seq.path.display()
        );
    }
    let hwm = slot.map_or(0, |(_, next, _)| next);
    seq.synced = (hwm, 0);
    Ok((seq, hwm))
}

/// This run's outputs, in order, then those with a cursor that are not in it (and not
/// forgotten): each opened at its place.
fn place_outputs(
    dir_path: &Path,
    outputs: &[&str],
    forget: &[String],
    entries: &[(Entry, PathBuf)],
    segments: &VecDeque<Segment>,
    next_seq: u64,
) -> Result<Vec<Output>, JournalError> {
    let absent = entries.iter().filter_map(|(e, _)| match e {
        Entry::Cursor(name) if !outputs.contains(&name.as_str()) && !forget.contains(name) => {
            Some((name.as_str(), false))
        }
        _ => None,
    });
    let present = outputs.iter().map(|n| (*n, true));
    present
        .chain(absent)
        .map(|(name, present)| open_output(dir_path, name, present, segments, next_seq))
        .collect()
}

/// Opens every segment; reads the newest through, skipping damage, to find where numbering
/// goes on; cuts a torn tail (bytes after its last valid record). Returns the segments, the
/// bytes cut, the next sequence number (past the newest record and the high-water mark `hwm`),
/// and whether a segment was created for it.
fn numbering(
    dir_path: &Path,
    entries: &[(Entry, PathBuf)],
    hwm: u64,
) -> Result<(VecDeque<Segment>, u64, u64, bool), JournalError> {
    let mut firsts: Vec<u64> = entries
        .iter()
        .filter_map(|(e, _)| match e {
            Entry::Segment(first) => Some(*first),
            _ => None,
        })
        .collect();
    firsts.sort_unstable();
    let mut segments = VecDeque::new();
    let (mut torn, mut end) = (0, 0);
    for (k, &first) in firsts.iter().enumerate() {
        let path = dir_path.join(dir::segment_name(first));
        let file = dir::open_file(&path, false)?;
        let read = |e| JournalError::io("read the journal segment", &path, e);
        let mut len = file.metadata().map_err(read)?.len();
        if k + 2 >= firsts.len() {
            // A killed process may have left writes in the page cache only.
            file.sync_data().map_err(read)?;
        }
        if k + 1 == firsts.len() {
            let (last, valid) = state::scan(&file, first, len).map_err(read)?;
            if valid < len {
                log::warn!(
                    "the journal segment {} ends in {} bytes that are not a whole record (a \
                     write cut short by a crash); cut them off",
                    path.display(),
                    len - valid
                );
                file.set_len(valid)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| JournalError::io("cut the torn tail of", &path, e))?;
                torn += len - valid;
                len = valid;
            }
            end = last.map_or(first, |l| l + 1);
        }
        let file = Arc::new(file);
        segments.push_back(Segment {
            first,
            path,
            file,
            len,
        });
    }
    let next_seq = end.max(hwm);
    let created = segments.is_empty() || next_seq > end;
    if created {
        // Numbering goes on past the high-water mark: the readers find the gap.
        segments.push_back(Segment::create(dir_path, next_seq)?);
    }
    Ok((segments, torn, next_seq, created))
}

/// Output names become file names: valid, and each once; none both used and forgotten.
fn check_outputs(outputs: &[&str], forget: &[String]) -> Result<(), JournalError> {
    for (i, name) in outputs.iter().enumerate() {
        if !dir::valid_output(name) || outputs[..i].contains(name) {
            return Err(JournalError::bad_output(name));
        }
    }
    for name in forget {
        if !dir::valid_output(name) {
            return Err(JournalError::bad_output(name));
        }
        if outputs.contains(&name.as_str()) {
            return Err(JournalError(format!(
                "--spool-forget {name}: {name} is an output of this run; forget only an output \
                 that is not"
            )));
        }
    }
    Ok(())
}

/// Removes the cursors of the outputs to forget, saying how many events each had not taken;
/// whether any was removed.
fn forget(
    names: &[String],
    entries: &[(Entry, PathBuf)],
    oldest: u64,
    next_seq: u64,
) -> Result<bool, JournalError> {
    let mut forgot = false;
    for name in names {
        let Some((_, path)) = entries
            .iter()
            .find(|(e, _)| *e == Entry::Cursor(name.clone()))
        else {
            log::warn!("--spool-forget {name}: the journal has no cursor of that name");
            continue;
        };
        let (_, _, slot) = Slots::open(path.clone(), false)?;
        let acked = slot.map_or(oldest, |(_, next, _)| next);
        std::fs::remove_file(path).map_err(|e| JournalError::io("remove", path, e))?;
        forgot = true;
        log::warn!(
            "forgot the output {name} (--spool-forget): the {} events it had not taken are no \
             longer kept for it",
            next_seq.saturating_sub(acked.max(oldest))
        );
    }
    Ok(forgot)
}

/// One output's cursor, opened or created, and its reading position. A cursor that is empty,
/// damaged or past the end falls back to the oldest event kept (WARN); events dropped for it
/// by an earlier run are reported now if it is present.
fn open_output(
    dir_path: &Path,
    name: &str,
    present: bool,
    segments: &VecDeque<Segment>,
    next_seq: u64,
) -> Result<Output, JournalError> {
    let path = dir_path.join(dir::cursor_name(name));
    let existed = path.symlink_metadata().is_ok();
    let (cursor, n, slots) = Slots::open(path, true)?;
    let oldest = segments[0].first;
    let (acked, lost, problem) = match slots {
        Some((_, next, lost)) if next <= next_seq => (next, lost, None),
        Some((_, next, lost)) => (oldest, lost, Some(format!("points past the end ({next})"))),
        None if !existed => (oldest, 0, None),
        None if n == 0 => (oldest, 0, Some("is empty".into())),
        None => (oldest, 0, Some("is damaged".into())),
    };
    if let Some(problem) = problem {
        log::warn!(
            "the journal cursor {} {problem}: {name} starts again at the oldest event kept; up \
             to {} events may come to it again",
            cursor.path.display(),
            next_seq - oldest
        );
    }
    let k = segments
        .partition_point(|s| s.first <= acked)
        .saturating_sub(1);
    let mut out = Output {
        name: name.into(),
        present,
        acked,
        unreported: lost,
        dropped: 0,
        cursor,
        stopped: false,
        reader: Reader {
            want: acked,
            seg: segments[k].first,
            ..Reader::default()
        },
    };
    report_drops(&mut out, next_seq.saturating_sub(acked.max(oldest)));
    if let Some(w) = out.cursor_write() {
        w.run()
            .map_err(|e| JournalError::io("write the journal cursor", &w.path, e))?;
        out.cursor.synced = w.value;
    }
    Ok(out)
}

/// Events dropped for an output by earlier runs: reported (ERROR, counted) if it is in this
/// run; else said, with what waits for it.
fn report_drops(out: &mut Output, waiting: u64) {
    let (name, lost, present) = (out.name.clone(), out.unreported, out.present);
    if present && lost > 0 {
        log::error!(
            "{name}: {lost} events were dropped from the journal by an earlier run before {name} \
             took them (size limit or full disk)"
        );
        (out.dropped, out.unreported) = (lost, 0);
    } else if !present && waiting + lost > 0 {
        log::warn!(
            "the journal holds {waiting} events for {name}{}, which is not an output of this run: \
             they are kept (within the size limit) until it runs again; --spool-forget {name} \
             drops them",
            if lost > 0 {
                format!(" (and {lost} were dropped for it)")
            } else {
                String::new()
            }
        );
    }
}
