//! What happens to each event on the socket threads: filter, dedupe, the `--max-events` count,
//! and the hand-off to the [`Fanout`] (one append to the journal, or a push to each output's
//! queue; never a wait for an output). One `Sink` behind a mutex serves every subscription, so
//! every output sees the same order.
//!
//! Each event is decoded once, on the socket: the outputs get it packed with what they need
//! (name, `event_ts`, its line, the exact content; see [`Item`]).

use std::sync::Arc;

use zoom_ws::{Dedupe, Event, EventFilter, StopHandle};

use crate::feed::{Fanout, Item, describe};

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

    /// True once a stop was asked for (a later signal cuts the grace period short).
    pub fn is_stopped(&self) -> bool {
        self.0.iter().any(StopHandle::is_stopped)
    }
}

/// The shared end of every subscription.
pub struct Sink {
    /// `--event` patterns.
    pub filter: EventFilter,
    /// `--dedupe`.
    pub dedupe: Option<Dedupe>,
    /// Every output's supply.
    pub fanout: Arc<Fanout>,
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
    /// Events read after `--max-events` was reached (not handed on).
    pub after_max: u64,
}

impl Sink {
    /// A sink with nothing counted yet.
    pub fn new(filter: EventFilter, fanout: Arc<Fanout>, stop: StopAll) -> Self {
        Sink {
            filter,
            dedupe: None,
            fanout,
            max_events: None,
            stop,
            passed: 0,
            filtered_out: 0,
            duplicates: 0,
            after_max: 0,
        }
    }

    /// Handles one event from any subscription.
    pub fn event(&mut self, event: &Event) {
        if self.max_events.is_some_and(|max| self.passed >= max) {
            self.after_max += 1;
            return;
        }
        if !self.filter.matches(event.name()) {
            self.filtered_out += 1;
            return;
        }
        if let Some(dedupe) = self.dedupe.as_mut() {
            if !dedupe.first_time(event.content()) {
                self.duplicates += 1;
                log::debug!(
                    "dropped a repeat of {}",
                    describe(event.name(), event.event_ts())
                );
                return;
            }
        }
        // A refusal (journal full, disk full) is counted and logged by the fan-out.
        self.fanout.push(&Item::pack(event));
        self.passed += 1;
        if self.max_events.is_some_and(|max| self.passed >= max) {
            self.stop.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed;

    fn event(name: &str, i: usize) -> Event {
        Event::from_content(format!(
            r#"{{"event":"{name}","event_ts":{i},"payload":{{}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn filter_dedupe_and_max_events() {
        let bounds = feed::Bounds {
            bytes: 1 << 20,
            stall: std::time::Duration::from_secs(60),
        };
        let (fanout, feeds) = feed::build(&["stdout"], bounds);
        let stop = StopAll(Arc::new(Vec::new()));
        let filter = EventFilter::new(["meeting.*"]).unwrap();
        let mut sink = Sink::new(filter, Arc::new(fanout), stop);
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
        let mut got = Vec::new();
        assert!(feeds[0].next_batch(std::time::Instant::now(), &mut got));
        let got: Vec<&str> = got.iter().map(Item::content).collect();
        let want = [0, 3, 4].map(|i| events[i].content());
        assert_eq!(got, want);
        assert_eq!((sink.passed, sink.filtered_out, sink.duplicates), (3, 1, 1));
        assert_eq!(sink.after_max, 1);
    }

    #[test]
    fn an_item_carries_what_the_outputs_need_without_decoding_again() {
        let compact = Event::from_content(r#"{"event":"a","event_ts":7,"payload":{}}"#.into());
        let item = Item {
            seq: 0,
            data: Item::pack(&compact.unwrap()),
        };
        assert_eq!((item.name(), item.event_ts()), ("a", Some(7)));
        assert_eq!(
            item.line(),
            b"{\"event\":\"a\",\"event_ts\":7,\"payload\":{}}\n"
        );
        assert_eq!(
            item.content().as_bytes(),
            item.line().strip_suffix(b"\n").unwrap()
        );
        assert_eq!(item.describe(), "a (event_ts 7)");
        // Pretty content: stdout gets one compact line, --forward the exact content.
        let pretty = "{\n  \"event\": \"b\",\n  \"payload\": {\"t\": \"x y\"}\n}";
        let item = Item {
            seq: 1,
            data: Item::pack(&Event::from_content(pretty.into()).unwrap()),
        };
        assert_eq!(
            item.line(),
            b"{\"event\":\"b\",\"payload\":{\"t\":\"x y\"}}\n"
        );
        assert_eq!((item.content(), item.describe().as_str()), (pretty, "b"));
    }
}
