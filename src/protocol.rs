//! Zoom's frames, in and out. Pure functions on strings: no sockets, no clocks, no logging.
//!
//! Every frame is an envelope `{"module":…,"success":…,"content":…,"header":{}}`. Events come in
//! `message` frames whose `content` is the event JSON encoded a second time as a string (the body a
//! webhook would carry). We parse the envelope once, unescape the content once, and read only the
//! event's name and timestamp; the payload stays text until someone asks for it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde_core::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// How every event frame from Zoom begins.
const MESSAGE_PREFIX: &str = r#"{"module":"message","success":true,"content":""#;

/// Decodes one text frame.
pub fn decode_frame(text: &str) -> Result<Frame<'_>, Skip> {
    if let Some(inside_content) = text.strip_prefix(MESSAGE_PREFIX) {
        if let Some(decoded) = decode_message(inside_content) {
            return decoded.map(Frame::Event);
        }
    }
    let envelope: Envelope<'_> = read_fields(text).map_err(|_| Skip::NotJson)?;
    let module = match envelope.module {
        Some(Scalar::Str(Cow::Borrowed(module))) => module,
        // An escaped module name is no module we know.
        Some(Scalar::Str(Cow::Owned(_))) => "(escaped)",
        _ => return Err(Skip::NoModule),
    };
    // Absent means true: only an explicit `false` reports a failure.
    let success = !matches!(envelope.success, Some(Scalar::Bool(false)));
    let content = match envelope.content {
        None => Ok(String::new()),
        Some(raw) => content_text(raw).ok_or(Skip::BadEvent),
    };
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

/// The content as text: a JSON string is unescaped (Zoom's way); an object is kept exactly as it
/// was written; anything else is not an event.
fn content_text(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => unescape(text),
        Some(b'{') => Some(text.to_string()),
        _ => None,
    }
}

/// The fast path for event frames, which are nearly all the traffic: the content string is
/// unescaped in the same pass that finds its end, and serde_json sees only the short rest of the
/// envelope. `None` sends the frame down the general path (which judges it, errors included).
fn decode_message(inside_content: &str) -> Option<Result<Event, Skip>> {
    let (content, used) = unescape_until_quote(inside_content.as_bytes())?;
    let rest = inside_content[used..].trim_start();
    // Zoom ends every frame this way; anything else must be a well-formed end of the object that
    // does not set again a field already read.
    if rest != r#","header":{}}"# && rest != "}" {
        let fields = rest.strip_prefix(',')?;
        let object = format!("{{{fields}");
        let envelope: Envelope<'_> = read_fields(&object).ok()?;
        if envelope.module.is_some() || envelope.success.is_some() || envelope.content.is_some() {
            return None;
        }
    }
    if !looks_like_object(&content) {
        return None;
    }
    Some(Event::from_content(content))
}

/// Unescapes a JSON string literal (quotes included). `None` for anything serde_json would refuse
/// too.
pub(crate) fn unescape(literal: &str) -> Option<String> {
    let inside = literal.strip_prefix('"')?;
    let (text, used) = unescape_until_quote(inside.as_bytes())?;
    (used == inside.len()).then_some(text)
}

/// Unescapes the inside of a JSON string up to its closing quote, in one pass into a buffer that
/// never grows; returns the text and the bytes used, closing quote included. `None` for a string
/// that is not valid JSON (unterminated, a control character, a bad escape, a lone surrogate).
fn unescape_until_quote(inside: &[u8]) -> Option<(String, usize)> {
    // Zoom's content escapes every quote of the event inside it, so escapes come every few bytes:
    // a plain loop beats a search call per escape.
    let mut out = Vec::with_capacity(inside.len());
    let mut plain_from = 0;
    let mut at = 0;
    loop {
        match *inside.get(at)? {
            b'"' => break,
            b'\\' => {}
            0x00..=0x1f => return None,
            _ => {
                at += 1;
                continue;
            }
        }
        out.extend_from_slice(&inside[plain_from..at]);
        let byte = match *inside.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, used) = unicode_escape(&inside[at + 2..])?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                at += 2 + used;
                plain_from = at;
                continue;
            }
            _ => return None,
        };
        out.push(byte);
        at += 2;
        plain_from = at;
    }
    out.extend_from_slice(&inside[plain_from..at]);
    // The input was a &str and every escape became a whole char, so this cannot fail; checking is
    // cheap and keeps the crate free of `unsafe`.
    Some((String::from_utf8(out).ok()?, at + 1))
}

/// Decodes the `XXXX` after `\u` (and a following low surrogate when needed); returns the char and
/// how many bytes it used.
fn unicode_escape(bytes: &[u8]) -> Option<(char, usize)> {
    let hex = |b: &[u8]| -> Option<u32> {
        let digits = std::str::from_utf8(b.get(..4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex(bytes)?;
    match first {
        0xD800..=0xDBFF => {
            let low = bytes
                .get(4..6)
                .filter(|p| *p == b"\\u")
                .and(hex(bytes.get(6..)?))?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let c = char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))?;
            Some((c, 10))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(first)?, 4)),
    }
}

/// A JSON value seen only as far as we need it: strings borrowed when they hold no escapes,
/// booleans, integers; everything else is skipped without being built.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Other,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// An object of which we read a few fields in one pass; the other fields are skipped unbuilt.
trait Fields<'de>: Default {
    /// What the object is, for serde's error messages.
    const WHAT: &'static str;
    /// Takes the value of `key` from `map` when it is wanted; returns whether it took it.
    fn take<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// The one serde visitor behind every [`Fields`] type.
struct FieldsVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for FieldsVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut fields = T::default();
        while let Some(key) = map.next_key::<Scalar<'de>>()? {
            let taken = match &key {
                Scalar::Str(name) => fields.take(name, &mut map)?,
                _ => false,
            };
            if !taken {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(fields)
    }
}

/// Parses `json` as an object of type `T`.
fn read_fields<'de, T: Fields<'de>>(json: &'de str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let fields = deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))?;
    deserializer.end()?;
    Ok(fields)
}

/// The fields of an envelope that matter.
#[derive(Default)]
struct Envelope<'a> {
    module: Option<Scalar<'a>>,
    success: Option<Scalar<'a>>,
    content: Option<&'a RawValue>,
}

impl<'de> Fields<'de> for Envelope<'de> {
    const WHAT: &'static str = "a frame object";
    fn take<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "module" => self.module = Some(map.next_value()?),
            "success" => self.success = Some(map.next_value()?),
            "content" => self.content = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The fields of an event that are read eagerly; the payload stays text.
#[derive(Default)]
struct EventFields<'a> {
    name: Option<Scalar<'a>>,
    event_ts: Option<Scalar<'a>>,
    payload: Option<&'a RawValue>,
}

impl<'de> Fields<'de> for EventFields<'de> {
    const WHAT: &'static str = "an event object";
    fn take<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "event" => self.name = Some(map.next_value()?),
            "event_ts" => self.event_ts = Some(map.next_value()?),
            "payload" => self.payload = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
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
        let fields: EventFields<'_> = read_fields(&content).map_err(|_| Skip::BadEvent)?;
        let offset = |text: &str| {
            let start = text.as_ptr() as usize - content.as_ptr() as usize;
            start..start + text.len()
        };
        let (name, name_unescaped) = match fields.name {
            Some(Scalar::Str(Cow::Borrowed(name))) => (offset(name), None),
            Some(Scalar::Str(Cow::Owned(name))) => (0..0, Some(name.into_boxed_str())),
            _ => (0..0, None),
        };
        let event_ts = match fields.event_ts {
            Some(Scalar::Int(ts)) => Some(ts),
            _ => None,
        };
        let payload = fields.payload.map(|raw| offset(raw.get()));
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
    pub fn json_line(&self) -> Cow<'_, str> {
        if memchr::memchr2(b'\n', b'\r', self.content.as_bytes()).is_some() {
            Cow::Owned(without_whitespace_between_tokens(&self.content))
        } else {
            Cow::Borrowed(&self.content)
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

impl Event {
    /// Writes the event as one JSON line, newline included: the CLI's output path.
    pub fn write_line(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        out.write_all(self.json_line().as_bytes())?;
        out.write_all(b"\n")
    }
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

    /// A message frame as Zoom writes it, fields in Zoom's order.
    fn message(event_json: &str) -> String {
        let content = serde_json::Value::from(event_json).to_string();
        format!(r#"{{"module":"message","success":true,"content":{content},"header":{{}}}}"#)
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
    fn fast_and_general_paths_agree() {
        let inner =
            r#"{"event":"a.b","event_ts":5,"payload":{"q":"\"x\" \u00e9 \ud83d\ude00 \\"}}"#;
        let fast = message(inner);
        assert!(fast.starts_with(MESSAGE_PREFIX));
        let general = fast.replacen(
            r#""module":"message","success":true"#,
            r#""success":true,"module":"message""#,
            1,
        );
        for frame in [&fast, &general] {
            let Frame::Event(event) = decode_frame(frame).unwrap() else {
                panic!()
            };
            assert_eq!(event.content(), inner);
            assert_eq!(event.payload()["q"], "\"x\" é 😀 \\");
        }
        // A rest of the envelope that sets a field again goes down the general path: last wins.
        let twice = fast.replace(r#","header":{}}"#, r#","success":false}"#);
        assert!(matches!(
            decode_frame(&twice),
            Ok(Frame::Other { success: false, .. })
        ));
        // Broken ends are judged by the general path.
        let broken = fast.replace(r#","header":{}}"#, ",");
        assert_eq!(decode_frame(&broken).unwrap_err(), Skip::NotJson);
        let unterminated = format!("{MESSAGE_PREFIX}abc");
        assert_eq!(decode_frame(&unterminated).unwrap_err(), Skip::NotJson);
        let control = format!("{MESSAGE_PREFIX}a\u{1}b\"}}");
        assert_eq!(decode_frame(&control).unwrap_err(), Skip::NotJson);
    }

    #[test]
    fn unescape_matches_serde_json() {
        for literal in [
            r#""""#,
            r#""plain""#,
            r#""\"q\" \\ \/ \b\f\n\r\t""#,
            r#""\u0041\u00e9\u20ac\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            r#""open"#,
            "\"tab\there\"",
            r#""a"b""#,
        ] {
            assert_eq!(
                unescape(literal),
                serde_json::from_str::<String>(literal).ok(),
                "{literal}"
            );
        }
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
