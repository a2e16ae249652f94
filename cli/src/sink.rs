//! What happens to each event on the socket threads: filter, dedupe, the line on stdout, the
//! hand-off to the actions, the `--max-events` count. One `Sink` behind a mutex serves every
//! subscription, so lines stay whole and every action sees the same order as stdout.

use std::io::{self, Write};
use std::sync::Arc;

use zoom_ws::{Dedupe, Event, EventFilter, StopHandle};

use crate::outputs::pipe::Pipe;

/// `meeting.started (event_ts 1764500000000)`, for log lines.
pub fn describe(event: &Event) -> String {
    match event.event_ts() {
        Some(ts) => format!("{} (event_ts {ts})", event.name()),
        None => event.name().to_string(),
    }
}

/// Stops every client at once (one per subscription).
#[derive(Clone)]
pub struct StopAll(pub Arc<Vec<StopHandle>>);

impl StopAll {
    /// Asks every client to stop.
    pub fn stop(&self) {
        for handle in self.0.iter() {
            handle.stop();
        }
    }

    /// True once a stop was asked for (a second signal exits at once).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn is_stopped(&self) -> bool {
        self.0.iter().any(StopHandle::is_stopped)
    }
}

/// The shared end of every subscription.
pub struct Sink<W: Write> {
    /// Where event lines go; `None` with `--quiet`.
    pub out: Option<W>,
    /// `--event` patterns.
    pub filter: EventFilter,
    /// `--dedupe`.
    pub dedupe: Option<Dedupe>,
    /// `--exec`, `--forward`.
    pub pipes: Vec<Arc<Pipe>>,
    /// `--max-events`.
    pub max_events: Option<u64>,
    /// Stops the clients when done.
    pub stop: StopAll,
    /// Events that passed the filter and dedupe.
    pub passed: u64,
    /// Events the filter left out.
    pub filtered_out: u64,
    /// Repeats dropped by `--dedupe`.
    pub duplicates: u64,
    done: bool,
}

impl<W: Write> Sink<W> {
    /// A sink with nothing counted yet.
    pub fn new(out: Option<W>, filter: EventFilter, stop: StopAll) -> Self {
        Sink {
            out,
            filter,
            dedupe: None,
            pipes: Vec::new(),
            max_events: None,
            stop,
            passed: 0,
            filtered_out: 0,
            duplicates: 0,
            done: false,
        }
    }

    /// Handles one event from any subscription.
    pub fn event(&mut self, event: &Event) {
        if self.done {
            return;
        }
        if !self.filter.matches(event.name()) {
            self.filtered_out += 1;
            return;
        }
        if let Some(dedupe) = self.dedupe.as_mut() {
            if !dedupe.first_time(event.content()) {
                self.duplicates += 1;
                log::debug!("dropped a repeat of {}", describe(event));
                return;
            }
        }
        if let Some(out) = self.out.as_mut() {
            let mut line = event.json_line().into_owned();
            line.push('\n');
            if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                // `zoom-ws | head -1`: the reader is gone, which is a normal way to finish.
                if e.kind() != io::ErrorKind::BrokenPipe {
                    log::error!("cannot write to stdout: {e}");
                }
                self.done = true;
                self.stop.stop();
                return;
            }
        }
        for pipe in &self.pipes {
            pipe.push(event);
        }
        self.passed += 1;
        if self.max_events.is_some_and(|max| self.passed >= max) {
            self.done = true;
            self.stop.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, i: usize) -> Event {
        Event::from_content(format!(
            r#"{{"event":"{name}","event_ts":{i},"payload":{{}}}}"#
        ))
        .unwrap()
    }

    fn sink(filter: &[&str]) -> Sink<Vec<u8>> {
        let stop = StopAll(Arc::new(Vec::new()));
        Sink::new(
            Some(Vec::new()),
            EventFilter::new(filter.to_vec()).unwrap(),
            stop,
        )
    }

    fn lines(sink: &Sink<Vec<u8>>) -> Vec<String> {
        String::from_utf8(sink.out.clone().unwrap())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn filter_dedupe_and_max_events() {
        let mut sink = sink(&["meeting.*"]);
        sink.dedupe = Some(Dedupe::new(10));
        sink.max_events = Some(3);
        let events = [
            event("meeting.started", 1),
            event("user.created", 2),
            event("meeting.started", 1),
            event("meeting.ended", 3),
            event("meeting.started", 4),
            event("meeting.started", 5),
        ];
        for e in &events {
            sink.event(e);
        }
        assert_eq!(
            lines(&sink),
            [
                events[0].content(),
                events[3].content(),
                events[4].content()
            ]
        );
        assert_eq!((sink.passed, sink.filtered_out, sink.duplicates), (3, 1, 1));
    }

    #[test]
    fn quiet_still_counts_and_hands_over() {
        let mut sink = sink(&[]);
        sink.out = None;
        let pipe = Pipe::new("test", 10, None, "");
        sink.pipes.push(pipe.clone());
        sink.event(&event("a", 1));
        sink.event(&event("a", 1));
        assert_eq!(sink.passed, 2);
        assert_eq!(pipe.finish().received, 2);
    }
}
