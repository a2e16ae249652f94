//! The rules of one connection, with no I/O (in the spirit of ureq-proto and tungstenite's
//! `WebSocketContext`): when a heartbeat is due, when the peer counts as dead, how long the next
//! read may wait, and what each message read means. The loop in `client` reads the clock and the
//! socket, and asks.

use std::time::{Duration, Instant};

use tungstenite::Message;

use crate::error::Secs;
use crate::escape::escaped;
use crate::event::Event;
use crate::protocol::{self, Frame};
use crate::skip::Skip;

/// What the loop does next, given the time.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send a heartbeat now (the session counts it as sent).
    Heartbeat,
    /// Nothing arrived for too long: drop the connection.
    Dead(End),
    /// Read; a read must return by `until`.
    Read {
        /// The next heartbeat or the dead-peer bound, whichever comes first.
        until: Instant,
    },
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Stopped through a [`StopHandle`](crate::StopHandle).
    Stopped,
    /// The connection broke, closed or went silent.
    Lost {
        /// What happened, in a few words.
        reason: String,
        /// How long Zoom had accepted it; `None` when it never did.
        accepted_for: Option<Duration>,
        /// When anything last arrived.
        last_received: Instant,
        /// How long nothing had arrived when it ended.
        quiet_for: Duration,
    },
    /// Zoom refused the token: at the handshake, in its first frame (`accepted_for` is `None`),
    /// or later, when the token aged or was revoked while in use.
    TokenRefused {
        /// Zoom's words.
        content: String,
        /// How long Zoom had accepted the connection; `None` when it never did.
        accepted_for: Option<Duration>,
        /// When anything last arrived.
        last_received: Instant,
    },
}

/// What one message meant.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing to do (a pong, a repeated acceptance).
    Nothing,
    /// A ping: tungstenite queued the pong; flush it now rather than with the next heartbeat.
    Flush,
    /// Zoom accepted the subscription.
    Accepted,
    /// An event; `accepts` when it is also the first sign that Zoom accepted the subscription.
    Event {
        /// The event.
        event: Event,
        /// True for an event that arrived before any `build_connection` answer.
        accepts: bool,
    },
    /// Zoom answered a heartbeat.
    HeartbeatAnswered,
    /// Zoom reported a failure in a `message` frame (not about the token).
    Failure(String),
    /// A frame that is counted and skipped.
    Skipped {
        /// Why.
        reason: Skip,
        /// A sentence for the log.
        note: String,
        /// The start of the frame, for the debug log (it may hold an event's data).
        start: Option<String>,
    },
    /// The server closed: flush tungstenite's answer, then end.
    Closed(End),
    /// The connection is over.
    End(End),
}

/// One connection's state: the heartbeat schedule, the dead-peer bound, acceptance.
#[derive(Debug)]
pub(crate) struct Session {
    interval: Duration,
    dead_after: Duration,
    next_beat: Instant,
    last_received: Instant,
    /// A message arrived since the last [`poll`](Self::poll): it counts as received at that
    /// poll's instant, so the loop reads the clock once per message, not twice.
    received: bool,
    /// The loop last held off reading (the consumer had no room): the silence up to then is
    /// ours, not the peer's.
    held_at: Instant,
    accepted_at: Option<Instant>,
    beat_sent_at: Option<Instant>,
    now: Instant,
}

impl Session {
    /// A session for a socket opened at `now`.
    pub(crate) fn new(now: Instant, interval: Duration, dead_after: Duration) -> Session {
        Session {
            interval,
            dead_after,
            next_beat: now + interval,
            last_received: now,
            received: false,
            held_at: now,
            accepted_at: None,
            beat_sent_at: None,
            now,
        }
    }

    /// What to do at `now`: a heartbeat when one is due (checked whether the last read returned
    /// a message or timed out, so heartbeats go out on time on a busy stream too), the end when
    /// the peer has been silent for the dead-peer bound, else read until the nearer of the two.
    pub(crate) fn poll(&mut self, now: Instant) -> Next {
        self.now = now;
        if self.received {
            self.last_received = now;
            self.received = false;
        }
        if now >= self.next_beat {
            self.next_beat = now + self.interval;
            self.beat_sent_at = Some(now);
            return Next::Heartbeat;
        }
        let heard = self.last_received.max(self.held_at);
        let silent_for = now.saturating_duration_since(heard);
        if silent_for >= self.dead_after {
            let reason = format!(
                "nothing received for {}; the connection is dead",
                Secs(silent_for)
            );
            return Next::Dead(self.lost(now, reason));
        }
        Next::Read {
            until: self.next_beat.min(heard + self.dead_after),
        }
    }

    /// The loop does not read at `now` because the consumer has no room (see
    /// [`Client::pause_while`](crate::Client::pause_while)): what Zoom sent waits in TCP's
    /// buffers, heartbeat answers too, so the dead-peer bound counts from the end of the pause.
    pub(crate) fn hold(&mut self, now: Instant) {
        self.held_at = self.held_at.max(now);
    }

    /// The end of a connection that broke at `now` (a failed read or write, a close).
    pub(crate) fn lost(&self, now: Instant, reason: String) -> End {
        End::Lost {
            reason,
            accepted_for: self.accepted_for(),
            last_received: self.last_received,
            quiet_for: now.saturating_duration_since(self.last_received),
        }
    }

    /// The time between the last heartbeat sent and `now`, when an answer comes in.
    pub(crate) fn round_trip(&self, now: Instant) -> Option<Duration> {
        self.beat_sent_at
            .map(|sent| now.saturating_duration_since(sent))
    }

    fn accepted_for(&self) -> Option<Duration> {
        self.accepted_at
            .map(|at| self.now.saturating_duration_since(at))
    }

    fn accept(&mut self) -> bool {
        let first = self.accepted_at.is_none();
        self.accepted_at.get_or_insert(self.now);
        first
    }

    fn token_refused(&self, content: String) -> Step {
        Step::End(End::TokenRefused {
            content,
            accepted_for: self.accepted_for(),
            last_received: self.last_received,
        })
    }

    /// What a message read from the socket means.
    pub(crate) fn message(&mut self, message: Message) -> Step {
        self.received = true;
        match message {
            Message::Text(text) => self.text(&text),
            Message::Binary(data) => Step::Skipped {
                reason: Skip::Binary,
                note: format!("skipped a binary frame of {} bytes", data.len()),
                start: None,
            },
            Message::Ping(_) => Step::Flush,
            Message::Close(frame) => {
                let reason = match frame {
                    Some(f) if f.reason.is_empty() => {
                        format!("server closed the connection (code {})", u16::from(f.code))
                    }
                    Some(f) => format!(
                        "server closed the connection (code {}: {})",
                        u16::from(f.code),
                        escaped(&f.reason)
                    ),
                    None => "server closed the connection".to_string(),
                };
                // Go at once: a server that closes may keep the TCP connection open, and every
                // moment spent waiting is lost events.
                Step::Closed(self.lost(self.now, reason))
            }
            Message::Pong(_) | Message::Frame(_) => Step::Nothing,
        }
    }

    fn text(&mut self, text: &str) -> Step {
        match protocol::decode_frame(text) {
            Ok(Frame::Event(event)) => Step::Event {
                accepts: self.accept(),
                event,
            },
            Ok(Frame::BuildConnection { success: true, .. }) => match self.accept() {
                true => Step::Accepted,
                false => Step::Nothing,
            },
            Ok(Frame::BuildConnection { content, .. }) => self.token_refused(content),
            Ok(Frame::Heartbeat { success, content }) => {
                if !success && protocol::says_token_invalid(&content) {
                    return self.token_refused(content);
                }
                Step::HeartbeatAnswered
            }
            Ok(Frame::Other {
                module,
                success,
                content,
            }) => {
                if protocol::says_token_invalid(&content) {
                    self.token_refused(content)
                } else if module == "message" && !success {
                    Step::Failure(content)
                } else {
                    Step::Skipped {
                        reason: Skip::UnknownModule,
                        note: format!("skipped a frame of unknown module {:?}", shorten(module)),
                        start: None,
                    }
                }
            }
            Err(reason) => Step::Skipped {
                reason,
                note: format!("skipped a frame: {reason} ({} bytes)", text.len()),
                start: Some(shorten(text).to_string()),
            },
        }
    }
}

/// The first characters of a text, for logs.
pub(crate) fn shorten(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn session(t0: Instant) -> Session {
        // Zoom's defaults: 30 s heartbeats, dead after two intervals plus 5 s.
        Session::new(t0, 30 * SECOND, 65 * SECOND)
    }

    fn text(frame: &str) -> Message {
        Message::text(frame.to_string())
    }

    fn event_frame(name: &str) -> Message {
        let content = serde_json::Value::from(format!(r#"{{"event":"{name}","payload":{{}}}}"#));
        text(&format!(
            r#"{{"module":"message","success":true,"content":{content},"header":{{}}}}"#
        ))
    }

    const ACCEPTED: &str = r#"{"module":"build_connection","success":true,"content":"ok"}"#;
    const ANSWER: &str = r#"{"module":"heartbeat","success":true,"content":"live"}"#;

    #[test]
    fn idle_connection_beats_every_interval_and_sleeps_in_between() {
        let t0 = Instant::now();
        let mut s = session(t0);
        assert_eq!(
            s.poll(t0),
            Next::Read {
                until: t0 + 30 * SECOND
            }
        );
        assert_eq!(
            s.poll(t0 + 29 * SECOND),
            Next::Read {
                until: t0 + 30 * SECOND
            }
        );
        assert_eq!(s.poll(t0 + 30 * SECOND), Next::Heartbeat);
        assert!(matches!(s.message(text(ANSWER)), Step::HeartbeatAnswered));
        let answered = t0 + 30 * SECOND + Duration::from_millis(40);
        assert_eq!(s.round_trip(answered), Some(Duration::from_millis(40)));
        assert_eq!(
            s.poll(answered),
            Next::Read {
                until: t0 + 60 * SECOND
            }
        );
        assert_eq!(s.poll(t0 + 60 * SECOND), Next::Heartbeat);
    }

    #[test]
    fn busy_stream_still_beats_on_time() {
        let t0 = Instant::now();
        let mut s = session(t0);
        assert!(matches!(s.message(text(ACCEPTED)), Step::Accepted));
        let mut beats = 0;
        // An event every 100 ms for 95 s: heartbeats at 30, 60 and 90 s, never a dead peer.
        for tenth in 1..=950u32 {
            let now = t0 + Duration::from_millis(100) * tenth;
            loop {
                match s.poll(now) {
                    Next::Heartbeat => beats += 1,
                    Next::Read { until } => {
                        assert!(until > now && until <= now + 30 * SECOND);
                        break;
                    }
                    Next::Dead(end) => panic!("{end:?}"),
                }
            }
            assert!(matches!(
                s.message(event_frame("meeting.started")),
                Step::Event { accepts: false, .. }
            ));
        }
        assert_eq!(beats, 3);
    }

    #[test]
    fn a_trickled_frame_cannot_hold_back_the_heartbeat() {
        // The read was told to return by the heartbeat's due time; when it does (a frame split
        // across the deadline comes whole later), the heartbeat is due at once.
        let t0 = Instant::now();
        let mut s = session(t0);
        let Next::Read { until } = s.poll(t0 + 29 * SECOND) else {
            panic!()
        };
        assert_eq!(until, t0 + 30 * SECOND);
        assert_eq!(s.poll(until), Next::Heartbeat);
        assert!(matches!(
            s.message(event_frame("a.b")),
            Step::Event { accepts: true, .. }
        ));
        assert!(
            matches!(s.message(text(ACCEPTED)), Step::Nothing),
            "already accepted"
        );
    }

    #[test]
    fn silent_peer_is_dead_after_the_bound() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.message(text(ACCEPTED));
        s.poll(t0 + 10 * SECOND); // the acceptance counts as received here
        assert_eq!(s.poll(t0 + 40 * SECOND), Next::Heartbeat);
        assert_eq!(
            s.poll(t0 + 40 * SECOND),
            Next::Read {
                until: t0 + 70 * SECOND
            }
        );
        assert_eq!(s.poll(t0 + 70 * SECOND), Next::Heartbeat);
        assert_eq!(
            s.poll(t0 + 70 * SECOND),
            Next::Read {
                until: t0 + 75 * SECOND
            }
        );
        match s.poll(t0 + 75 * SECOND) {
            Next::Dead(End::Lost {
                reason,
                accepted_for,
                last_received,
                quiet_for,
            }) => {
                assert_eq!(quiet_for, 65 * SECOND);
                assert_eq!(
                    reason,
                    "nothing received for 65.0 s; the connection is dead"
                );
                assert_eq!(accepted_for, Some(75 * SECOND));
                assert_eq!(last_received, t0 + 10 * SECOND);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pause_of_ours_beats_on_time_and_never_counts_as_a_dead_peer() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.message(text(ACCEPTED));
        s.poll(t0);
        let mut beats = 0;
        // Five minutes without reading (the consumer is full), asked every 100 ms.
        for tenth in 1..=3000u32 {
            let now = t0 + Duration::from_millis(100) * tenth;
            s.hold(now);
            match s.poll(now) {
                Next::Heartbeat => beats += 1,
                Next::Read { until } => assert!(until > now),
                Next::Dead(end) => panic!("dead while paused: {end:?}"),
            }
        }
        assert_eq!(beats, 10, "heartbeats on time while paused");
        // Reading again: the peer gets the whole bound from the end of the pause.
        let resumed = t0 + 300 * SECOND;
        assert_eq!(s.poll(resumed + 30 * SECOND), Next::Heartbeat);
        assert_eq!(s.poll(resumed + 60 * SECOND), Next::Heartbeat);
        assert_eq!(
            s.poll(resumed + 60 * SECOND),
            Next::Read {
                until: resumed + 65 * SECOND
            }
        );
        assert!(matches!(s.poll(resumed + 65 * SECOND), Next::Dead(_)));
    }

    #[test]
    fn refusal_before_acceptance_has_no_accepted_time() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.poll(t0);
        let refused = r#"{"module":"build_connection","success":false,"content":"Invalid Token"}"#;
        match s.message(text(refused)) {
            Step::End(End::TokenRefused {
                content,
                accepted_for: None,
                ..
            }) => assert_eq!(content, "Invalid Token"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusal_after_acceptance_says_for_how_long() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.poll(t0 + SECOND);
        s.message(text(ACCEPTED));
        s.poll(t0 + 20 * SECOND);
        let refused = r#"{"module":"heartbeat","success":false,"content":"Token is invalid"}"#;
        match s.message(text(refused)) {
            Step::End(End::TokenRefused {
                accepted_for,
                last_received,
                ..
            }) => {
                assert_eq!(accepted_for, Some(19 * SECOND));
                assert_eq!(last_received, t0 + 20 * SECOND);
            }
            other => panic!("{other:?}"),
        }
        // The same words in an unknown module mean the same; in a failed heartbeat without
        // them, it is only an answer.
        let other = r#"{"module":"notice","content":"invalid token"}"#;
        assert!(matches!(
            s.message(text(other)),
            Step::End(End::TokenRefused { .. })
        ));
        let odd = r#"{"module":"heartbeat","success":false,"content":"busy"}"#;
        assert!(matches!(s.message(text(odd)), Step::HeartbeatAnswered));
    }

    #[test]
    fn what_other_messages_mean() {
        let t0 = Instant::now();
        let mut s = session(t0);
        assert!(matches!(s.message(text(ACCEPTED)), Step::Accepted));
        assert!(matches!(s.message(text(ACCEPTED)), Step::Nothing));
        let failure = r#"{"module":"message","success":false,"content":"quota"}"#;
        assert!(matches!(s.message(text(failure)), Step::Failure(c) if c == "quota"));
        let unknown = r#"{"module":"news","content":"x"}"#;
        assert!(matches!(
            s.message(text(unknown)),
            Step::Skipped {
                reason: Skip::UnknownModule,
                ..
            }
        ));
        assert!(matches!(
            s.message(text("not json")),
            Step::Skipped {
                reason: Skip::NotJson,
                ..
            }
        ));
        assert!(matches!(
            s.message(Message::binary(vec![1, 2])),
            Step::Skipped {
                reason: Skip::Binary,
                ..
            }
        ));
        assert!(matches!(
            s.message(Message::Ping(Vec::new().into())),
            Step::Flush
        ));
        match s.message(Message::Close(None)) {
            Step::Closed(End::Lost { reason, .. }) => {
                assert_eq!(reason, "server closed the connection")
            }
            other => panic!("{other:?}"),
        }
        // The peer's words cannot start a log line of their own.
        let frame = tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Away,
            reason: "bye\nINFO forged".into(),
        };
        match s.message(Message::Close(Some(frame))) {
            Step::Closed(End::Lost { reason, .. }) => {
                assert_eq!(
                    reason,
                    "server closed the connection (code 1001: bye\\nINFO forged)"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
