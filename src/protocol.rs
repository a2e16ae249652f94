//! Zoom's frames, in and out. Pure functions on strings: no sockets, no clocks, no logging.
//!
//! Every frame is an envelope `{"module":…,"success":…,"content":…,"header":{}}`. Events come in
//! `message` frames whose `content` is the event JSON encoded a second time as a string (the body a
//! webhook would carry). We parse the envelope once, unescape the content once, and read only the
//! event's name and timestamp; the payload stays text until someone asks for it.
//!
//! [`Client`](crate::Client) decodes every frame itself. This module is public for programs that
//! read Zoom's frames from a socket of their own (or replay recorded ones), and for the fuzzer and
//! property tests, which feed [`decode_frame`] arbitrary text.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::event::Event;
use crate::json::{fields, string, unescape_plain};
use crate::skip::Skip;

/// The heartbeat the client sends every interval.
pub(crate) const HEARTBEAT: &str = r#"{"module":"heartbeat"}"#;

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

/// How every event frame from Zoom begins, up to its content string.
const MESSAGE_PREFIX: &str = r#"{"module":"message","success":true,"content":"#;

/// The fields of an envelope that matter.
const ENVELOPE: [&str; 3] = ["module", "success", "content"];

/// Decodes one text frame.
pub fn decode_frame(text: &str) -> Result<Frame<'_>, Skip> {
    if let Some(content_on) = text.strip_prefix(MESSAGE_PREFIX) {
        if let Some(decoded) = decode_message(content_on) {
            return decoded.map(Frame::Event);
        }
    }
    let [module, success, content] = fields(text, ENVELOPE).map_err(|_| Skip::NotJson)?;
    let module = match module.and_then(string).ok_or(Skip::NoModule)? {
        Cow::Borrowed(module) => module,
        // An escaped module name is no module we know.
        Cow::Owned(_) => "(escaped)",
    };
    // Absent means true: only an explicit `false` reports a failure.
    let success = success.is_none_or(|raw| raw.get() != "false");
    let content = match content {
        None => Ok(String::new()),
        Some(raw) => content_text(raw).ok_or(Skip::BadEvent),
    };
    if module == "message" && success {
        let content = content?;
        // Zoom's words about the token in place of an event: reported like any other module.
        if looks_like_object(&content) || !says_token_invalid(&content) {
            return Event::from_content(content).map(Frame::Event);
        }
        return Ok(Frame::Other {
            module,
            success,
            content,
        });
    }
    let content = content.unwrap_or_default();
    Ok(match module {
        "build_connection" => Frame::BuildConnection { success, content },
        "heartbeat" => Frame::Heartbeat { success, content },
        _ => Frame::Other {
            module,
            success,
            content,
        },
    })
}

/// The content as text: a JSON string is unescaped (Zoom's way); an object is kept exactly as it
/// was written; anything else is not an event.
fn content_text(raw: &RawValue) -> Option<String> {
    match raw.get().as_bytes().first() {
        Some(b'{') => Some(raw.get().to_string()),
        _ => string(raw).map(Cow::into_owned),
    }
}

/// The fast path for event frames, which are nearly all the traffic: the content string is
/// unescaped in the same pass that finds its end, and the short rest of the envelope is read on
/// its own. `None` sends the frame down the general path (which judges it, errors included).
fn decode_message(content_on: &str) -> Option<Result<Event, Skip>> {
    let (content, used) = unescape_plain(content_on.strip_prefix('"')?.as_bytes())?;
    let rest = content_on[1 + used..].trim_start();
    // Zoom ends every frame this way; anything else must be a well-formed end of the object that
    // does not set again a field already read.
    if rest != r#","header":{}}"# && rest != "}" {
        let object = format!("{{{}", rest.strip_prefix(',')?);
        if fields(&object, ENVELOPE).ok()?.iter().any(Option::is_some) {
            return None;
        }
    }
    if !looks_like_object(&content) {
        return None;
    }
    Some(Event::from_content(content))
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
pub(crate) fn says_token_invalid(content: &str) -> bool {
    let lower = content.to_ascii_lowercase();
    ["invalid token", "token is invalid", "token is empty"]
        .iter()
        .any(|phrase| lower.contains(phrase))
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
        assert_eq!(event.payload().unwrap()["object"]["id"], "1");
    }

    #[test]
    fn content_already_an_object() {
        let frame = r#"{"module":"message","success":true,"content":{"event":"user.created","payload":{"x":1}}}"#;
        let Frame::Event(event) = decode_frame(frame).unwrap() else {
            panic!()
        };
        assert_eq!(event.name(), "user.created");
        assert_eq!(event.event_ts(), None);
        assert_eq!(event.payload().unwrap()["x"], 1);
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
            assert_eq!(event.payload().unwrap()["q"], "\"x\" é 😀 \\");
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
        let unterminated = format!("{MESSAGE_PREFIX}\"abc");
        assert_eq!(decode_frame(&unterminated).unwrap_err(), Skip::NotJson);
        let control = format!("{MESSAGE_PREFIX}\"a\u{1}b\"}}");
        assert_eq!(decode_frame(&control).unwrap_err(), Skip::NotJson);
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
