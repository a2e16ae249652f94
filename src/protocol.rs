//! Zoom's frames, in and out. Pure functions on strings: no sockets, no clocks, no logging.
//!
//! Every frame is an envelope `{"module":…,"success":…,"content":…,"header":{}}`. Events come in
//! `message` frames whose `content` is the event JSON encoded a second time as a string (the body a
//! webhook would carry). We parse the envelope once, unescape the content once, and read only the
//! event's name and timestamp; the payload stays text until someone asks for it.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde_json::value::RawValue;

/// The heartbeat the client sends every interval.
pub const HEARTBEAT: &str = r#"{"module":"heartbeat"}"#;

/// A masked client Close frame with status 1000 (normal closure), as raw bytes.
///
/// Used when stopping: the stop request shuts the socket's read half to wake a blocked read, after
/// which tungstenite considers the connection gone and will not write a Close frame itself.
pub fn close_frame(mask: [u8; 4]) -> [u8; 8] {
    let code = 1000u16.to_be_bytes();
    [
        0x88, // FIN + opcode 8 (close)
        0x82, // masked, 2 payload bytes
        mask[0],
        mask[1],
        mask[2],
        mask[3],
        code[0] ^ mask[0],
        code[1] ^ mask[1],
    ]
}

/// One frame from Zoom, decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// The first frame: whether Zoom accepted the subscription, and why not.
    BuildConnection {
        /// True when the subscription is live.
        success: bool,
        /// Zoom's words (`"token is empty"`, `"Invalid Token"`, …).
        content: String,
    },
    /// The answer to a heartbeat.
    Heartbeat {
        /// Zoom's `success` flag.
        success: bool,
        /// Zoom's words, `"live"` when healthy.
        content: String,
    },
    /// An event.
    Event(Event),
    /// A module this client does not know, or a `message` frame that reports a failure.
    Other {
        /// The module name as sent.
        module: &'a str,
        /// Zoom's `success` flag (`true` when absent).
        success: bool,
        /// The content as text.
        content: String,
    },
}

/// Why a frame was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Skip {
    /// The text is not a JSON object.
    NotJson,
    /// The envelope has no `module`.
    NoModule,
    /// A `message` whose content is not an event object.
    BadEvent,
    /// A binary WebSocket frame (Zoom sends text).
    Binary,
    /// A module this client does not know.
    UnknownModule,
    /// A message larger than the configured maximum.
    TooLarge,
}

impl Skip {
    /// Every reason, for counters.
    pub const ALL: [Skip; 6] = [
        Skip::NotJson,
        Skip::NoModule,
        Skip::BadEvent,
        Skip::Binary,
        Skip::UnknownModule,
        Skip::TooLarge,
    ];

    /// A short name for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotJson => "not_json",
            Skip::NoModule => "no_module",
            Skip::BadEvent => "bad_event",
            Skip::Binary => "binary",
            Skip::UnknownModule => "unknown_module",
            Skip::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::NotJson => "frame is not a JSON object",
            Skip::NoModule => "frame has no \"module\"",
            Skip::BadEvent => "message content is not an event object",
            Skip::Binary => "binary frame",
            Skip::UnknownModule => "unknown module",
            Skip::TooLarge => "message larger than the configured maximum",
        })
    }
}

type Fields<'a> = BTreeMap<&'a str, &'a RawValue>;

/// Decodes one text frame.
pub fn decode_frame(text: &str) -> Result<Frame<'_>, Skip> {
    let fields: Fields<'_> = serde_json::from_str(text).map_err(|_| Skip::NotJson)?;
    let module = fields
        .get("module")
        .and_then(|raw| serde_json::from_str::<&str>(raw.get()).ok())
        .ok_or(Skip::NoModule)?;
    // Absent means true: only an explicit `false` reports a failure.
    let success = fields
        .get("success")
        .is_none_or(|raw| raw.get().trim() != "false");
    let content = fields.get("content").map_or(Ok(String::new()), |raw| {
        content_text(raw).ok_or(Skip::BadEvent)
    });
    match module {
        "message" if success => {
            let content = content?;
            // Not an event but Zoom's words about the token: report it like any other module.
            if !looks_like_object(&content) && says_token_invalid(&content) {
                return Ok(Frame::Other {
                    module,
                    success,
                    content,
                });
            }
            Event::from_content(content).map(Frame::Event)
        }
        "build_connection" => Ok(Frame::BuildConnection {
            success,
            content: content.unwrap_or_default(),
        }),
        "heartbeat" => Ok(Frame::Heartbeat {
            success,
            content: content.unwrap_or_default(),
        }),
        _ => Ok(Frame::Other {
            module,
            success,
            content: content.unwrap_or_default(),
        }),
    }
}

/// The content as text: a JSON string is unescaped; anything else (an object sent as is) is kept
/// exactly as it was written.
fn content_text(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else {
        Some(text.to_string())
    }
}

/// True when `text` could be an event (an object); Zoom's complaints are plain words.
fn looks_like_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// True when `content` says the access token was refused, in any of Zoom's wordings and any case.
///
/// Only frames that are not events are checked (a module other than `message`, `success: false`,
/// or content that is not an object): an event's own text — a chat message, say — may well contain
/// these words.
pub fn says_token_invalid(content: &str) -> bool {
    let lower = content.to_ascii_lowercase();
    ["invalid token", "token is invalid", "token is empty"]
        .iter()
        .any(|phrase| lower.contains(phrase))
}

/// One Zoom event: `{"event":"meeting.started","event_ts":…,"payload":{…}}`.
///
/// Keeps the exact JSON text it came from ([`Event::content`]), so relaying it loses nothing, and
/// parses the payload only when [`Event::payload`] is called.
pub struct Event {
    content: String,
    name: Range<usize>,
    name_unescaped: Option<Box<str>>,
    event_ts: Option<i64>,
    payload: Option<Range<usize>>,
    payload_value: OnceLock<serde_json::Value>,
}

impl Event {
    /// Decodes an event from its JSON text (the `content` of a `message` frame, unescaped).
    pub fn from_content(content: String) -> Result<Event, Skip> {
        let (name, name_unescaped, event_ts, payload) = {
            let fields: Fields<'_> = serde_json::from_str(&content).map_err(|_| Skip::BadEvent)?;
            let offset = |raw: &RawValue| {
                let start = raw.get().as_ptr() as usize - content.as_ptr() as usize;
                start..start + raw.get().len()
            };
            let (name, name_unescaped) = match fields.get("event") {
                Some(raw) if raw.get().starts_with('"') => {
                    let quoted = offset(raw);
                    let inner = quoted.start + 1..quoted.end - 1;
                    if content[inner.clone()].contains('\\') {
                        let owned = serde_json::from_str::<String>(raw.get())
                            .map_err(|_| Skip::BadEvent)?;
                        (0..0, Some(owned.into_boxed_str()))
                    } else {
                        (inner, None)
                    }
                }
                _ => (0..0, None),
            };
            let event_ts = fields
                .get("event_ts")
                .and_then(|raw| raw.get().parse::<i64>().ok());
            let payload = fields.get("payload").map(|raw| offset(raw));
            (name, name_unescaped, event_ts, payload)
        };
        Ok(Event {
            content,
            name,
            name_unescaped,
            event_ts,
            payload,
            payload_value: OnceLock::new(),
        })
    }

    /// The event type, e.g. `meeting.started`; empty when the event has none.
    pub fn name(&self) -> &str {
        match &self.name_unescaped {
            Some(name) => name,
            None => &self.content[self.name.clone()],
        }
    }

    /// Zoom's `event_ts` (milliseconds since the Unix epoch), when present.
    pub fn event_ts(&self) -> Option<i64> {
        self.event_ts
    }

    /// The payload's JSON text as Zoom sent it (`null` when there is none).
    pub fn payload_json(&self) -> &str {
        self.payload
            .as_ref()
            .map_or("null", |range| &self.content[range.clone()])
    }

    /// The payload, parsed on first use.
    pub fn payload(&self) -> &serde_json::Value {
        self.payload_value.get_or_init(|| {
            serde_json::from_str(self.payload_json()).unwrap_or(serde_json::Value::Null)
        })
    }

    /// The whole event's JSON text, exactly as received.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The event as one compact JSON line (no trailing newline): the received text itself when it
    /// is already on one line, which is what Zoom sends; otherwise the same text with the
    /// whitespace between tokens removed. Nothing is re-encoded, so numbers and escapes stay
    /// exactly as Zoom wrote them.
    pub fn json_line(&self) -> std::borrow::Cow<'_, str> {
        if self.content.contains(['\n', '\r']) {
            std::borrow::Cow::Owned(without_whitespace_between_tokens(&self.content))
        } else {
            std::borrow::Cow::Borrowed(&self.content)
        }
    }
}

/// `json` without the whitespace outside its strings. JSON strings cannot hold a raw line break
/// (it must be escaped), so the result is one line.
fn without_whitespace_between_tokens(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        out.push(c);
    }
    out
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("event_ts", &self.event_ts)
            .field("content_len", &self.content.len())
            .finish()
    }
}

impl Clone for Event {
    fn clone(&self) -> Self {
        Event {
            content: self.content.clone(),
            name: self.name.clone(),
            name_unescaped: self.name_unescaped.clone(),
            event_ts: self.event_ts,
            payload: self.payload.clone(),
            payload_value: OnceLock::new(),
        }
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(event_json: &str) -> String {
        serde_json::json!({"module":"message","success":true,"content":event_json,"header":{}})
            .to_string()
    }

    #[test]
    fn build_connection_success_and_failure() {
        let ok = r#"{"module":"build_connection","success":true,"content":"ok","header":{}}"#;
        match decode_frame(ok).unwrap() {
            Frame::BuildConnection { success, .. } => assert!(success),
            other => panic!("{other:?}"),
        }
        let bad = r#"{"module":"build_connection","success":false,"content":"Invalid Token"}"#;
        match decode_frame(bad).unwrap() {
            Frame::BuildConnection { success, content } => {
                assert!(!success);
                assert!(says_token_invalid(&content));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heartbeat_answer() {
        let ack = r#"{"module":"heartbeat","success":true,"content":"live","header":{}}"#;
        match decode_frame(ack).unwrap() {
            Frame::Heartbeat { success, content } => assert!(success && content == "live"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn double_encoded_event() {
        let inner = r#"{"event":"meeting.started","event_ts":1700000000123,"payload":{"account_id":"a","object":{"id":"1"}}}"#;
        let frame = message(inner);
        let Frame::Event(event) = decode_frame(&frame).unwrap() else {
            panic!()
        };
        assert_eq!(event.name(), "meeting.started");
        assert_eq!(event.event_ts(), Some(1_700_000_000_123));
        assert_eq!(event.content(), inner);
        assert_eq!(event.json_line(), inner);
        assert_eq!(
            event.payload_json(),
            r#"{"account_id":"a","object":{"id":"1"}}"#
        );
        assert_eq!(event.payload()["object"]["id"], "1");
    }

    #[test]
    fn content_already_an_object() {
        let frame = r#"{"module":"message","success":true,"content":{"event":"user.created","payload":{"x":1}}}"#;
        let Frame::Event(event) = decode_frame(frame).unwrap() else {
            panic!()
        };
        assert_eq!(event.name(), "user.created");
        assert_eq!(event.event_ts(), None);
        assert_eq!(event.payload()["x"], 1);
    }

    #[test]
    fn escaped_name_and_multiline_content() {
        let inner = "{\"event\":\"a\\u002eb\",\n\"payload\":{}}";
        let Frame::Event(event) = decode_frame(&message(inner)).unwrap() else {
            panic!()
        };
        assert_eq!(event.name(), "a.b");
        // Compact, and exactly as written: the escape stays an escape.
        assert_eq!(event.json_line(), r#"{"event":"a\u002eb","payload":{}}"#);
        let spaced = "{ \"event\" : \"x y\\\" \" ,\r\n\t\"n\": 1e999 }";
        let event = Event::from_content(spaced.to_string()).unwrap();
        assert_eq!(event.json_line(), r#"{"event":"x y\" ","n":1e999}"#);
    }

    #[test]
    fn unknown_modules_and_garbage() {
        match decode_frame(r#"{"module":"surprise","content":"hi"}"#).unwrap() {
            Frame::Other {
                module, success, ..
            } => assert!(module == "surprise" && success),
            other => panic!("{other:?}"),
        }
        assert_eq!(decode_frame("not json").unwrap_err(), Skip::NotJson);
        assert_eq!(decode_frame("[1,2]").unwrap_err(), Skip::NotJson);
        assert_eq!(
            decode_frame(r#"{"content":"x"}"#).unwrap_err(),
            Skip::NoModule
        );
        assert_eq!(decode_frame(r#"{"module":7}"#).unwrap_err(), Skip::NoModule);
        assert_eq!(
            decode_frame(&message("not an event")).unwrap_err(),
            Skip::BadEvent
        );
        assert_eq!(decode_frame(&message("[1]")).unwrap_err(), Skip::BadEvent);
        assert_eq!(
            decode_frame(r#"{"module":"message","success":true}"#).unwrap_err(),
            Skip::BadEvent
        );
    }

    #[test]
    fn failed_message_is_not_an_event() {
        let frame = r#"{"module":"message","success":false,"content":"Token is invalid"}"#;
        match decode_frame(frame).unwrap() {
            Frame::Other {
                success, content, ..
            } => assert!(!success && says_token_invalid(&content)),
            other => panic!("{other:?}"),
        }
        // A complaint about the token in place of an event is not a malformed event.
        let frame = r#"{"module":"message","success":true,"content":"token is empty"}"#;
        match decode_frame(frame).unwrap() {
            Frame::Other { content, .. } => assert!(says_token_invalid(&content)),
            other => panic!("{other:?}"),
        }
        // An event whose text happens to hold the words is still an event.
        let chat = message(r#"{"event":"chat_message.sent","payload":{"text":"Invalid Token?"}}"#);
        assert!(matches!(decode_frame(&chat).unwrap(), Frame::Event(_)));
    }

    #[test]
    fn close_frame_parses_as_normal_closure() {
        use tungstenite::protocol::frame::{FrameHeader, coding::OpCode};
        let bytes = close_frame([1, 2, 3, 4]);
        let mut cursor = std::io::Cursor::new(&bytes[..]);
        let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
        assert!(header.is_final);
        assert_eq!(
            header.opcode,
            OpCode::Control(tungstenite::protocol::frame::coding::Control::Close)
        );
        assert_eq!(len, 2);
        let mask = header.mask.unwrap();
        let code = [bytes[6] ^ mask[0], bytes[7] ^ mask[1]];
        assert_eq!(u16::from_be_bytes(code), 1000);
    }

    #[test]
    fn token_wordings_any_case() {
        for text in [
            "Invalid Token",
            "token is invalid",
            "TOKEN IS EMPTY",
            "Token Is Invalid.",
        ] {
            assert!(says_token_invalid(text), "{text}");
        }
        assert!(!says_token_invalid("live"));
    }
}
