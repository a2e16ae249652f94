//! The committer: syncs what was written in groups, then makes it visible to the outputs.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::Shared;
use super::state::State;

/// What one group commit syncs, taken from the state under the lock.
struct Batch {
    /// Segments, then the directory if a segment was created.
    data: Vec<(PathBuf, Arc<File>)>,
    sync_dir: bool,
    /// Records below this become durable once `data` is synced.
    upto: u64,
    /// Cursor files of outputs that moved: (output index, path, file).
    cursors: Vec<(usize, PathBuf, Arc<File>)>,
}

/// Runs until the journal closes, then syncs a last time.
pub(super) fn run(shared: &Shared) {
    let interval = shared.opts.commit_interval;
    let mut last: Option<Instant> = None;
    loop {
        let mut st = shared.lock();
        while !st.needs_commit() && !st.closed {
            st.committer_idle = true;
            st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.committer_idle = false;
        // Gather what arrives within the interval since the last commit into one sync.
        if let Some(wait) = last.map(|t| interval.saturating_sub(t.elapsed())) {
            if !st.closed && !wait.is_zero() {
                st = shared
                    .work
                    .wait_timeout(st, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let closing = st.closed;
        let batch = take(&mut st);
        drop(st);
        last = Some(Instant::now());
        let (data_ok, cursors_ok, fsyncs) = sync(shared, &batch);
        let mut st = shared.lock();
        finish(&mut st, batch, data_ok, &cursors_ok, fsyncs);
        drop(st);
        shared.readable.notify_all();
        if closing {
            return;
        }
    }
}

fn take(st: &mut State) -> Batch {
    let mut data = std::mem::take(&mut st.unsynced);
    if std::mem::take(&mut st.current_dirty) {
        let seg = st.segments.back().expect("a journal always has a segment");
        data.push((seg.path.clone(), Arc::clone(&seg.file)));
    }
    let cursors = st
        .outputs
        .iter_mut()
        .enumerate()
        .filter_map(|(i, o)| {
            std::mem::take(&mut o.dirty).then(|| (i, o.cursor_path.clone(), Arc::clone(&o.cursor)))
        })
        .collect();
    Batch {
        data,
        sync_dir: std::mem::take(&mut st.dir_dirty),
        upto: st.next_seq,
        cursors,
    }
}

/// Syncs the batch outside the lock: whether the data (and directory) is durable, which cursors
/// are, and how many syncs that took.
fn sync(shared: &Shared, batch: &Batch) -> (bool, Vec<bool>, u64) {
    let mut fsyncs = 0;
    let mut data_ok = true;
    for (path, file) in &batch.data {
        fsyncs += 1;
        if let Err(e) = file.sync_data() {
            log::error!(
                "cannot sync the journal segment {}: {e}; retrying",
                path.display()
            );
            data_ok = false;
        }
    }
    if batch.sync_dir && data_ok {
        fsyncs += 1;
        if let Err(e) = shared.dir_file.sync_all() {
            log::error!(
                "cannot sync the journal directory {}: {e}",
                shared.dir.display()
            );
            data_ok = false;
        }
    }
    let cursors_ok = batch
        .cursors
        .iter()
        .map(|(_, path, file)| {
            fsyncs += 1;
            file.sync_data()
                .map_err(|e| log::error!("cannot sync the journal cursor {}: {e}", path.display()))
                .is_ok()
        })
        .collect();
    (data_ok, cursors_ok, fsyncs)
}

/// Makes the synced records visible; puts back what failed, for the next round.
fn finish(st: &mut State, batch: Batch, data_ok: bool, cursors_ok: &[bool], fsyncs: u64) {
    st.stats.commits += 1;
    st.stats.fsyncs += fsyncs;
    if data_ok {
        st.durable = st.durable.max(batch.upto);
    } else {
        let current = st.segments.back().map(|s| s.path.clone());
        for (path, file) in batch.data {
            if Some(&path) == current.as_ref() {
                st.current_dirty = true;
            } else {
                st.unsynced.push((path, file));
            }
        }
        st.dir_dirty |= batch.sync_dir;
    }
    for ((i, _, _), ok) in batch.cursors.iter().zip(cursors_ok) {
        if !ok {
            st.outputs[*i].dirty = true;
        }
    }
}
