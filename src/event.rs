//! One Zoom event, decoded lazily: the name and timestamp at once, the payload when asked.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde_core::de::DeserializeOwned;

use crate::error::{Cause, Error};
use crate::json::{fields, string};
use crate::skip::Skip;

/// One Zoom event: `{"event":"meeting.started","event_ts":…,"payload":{…}}`.
///
/// Keeps the exact JSON text it came from ([`Event::content`]), so relaying it loses nothing, and
/// parses the payload only when [`Event::payload`] or [`Event::payload_as`] is called.
#[derive(Clone)]
pub struct Event {
    content: String,
    name: Range<usize>,
    name_unescaped: Option<Box<str>>,
    event_ts: Option<i64>,
    payload: Option<Range<usize>>,
}

impl Event {
    /// Decodes an event from its JSON text (the `content` of a `message` frame, unescaped).
    pub fn from_content(content: String) -> Result<Event, Skip> {
        let [name, event_ts, payload] =
            fields(&content, ["event", "event_ts", "payload"]).map_err(|_| Skip::BadEvent)?;
        let offset = |text: &str| {
            let start = text.as_ptr() as usize - content.as_ptr() as usize;
            start..start + text.len()
        };
        let (name, name_unescaped) = match name.and_then(string) {
            Some(Cow::Borrowed(name)) => (offset(name), None),
            Some(Cow::Owned(name)) => (0..0, Some(name.into_boxed_str())),
            None => (0..0, None),
        };
        // An integer that fits; anything else (a float, a string) is no timestamp.
        let event_ts = event_ts.and_then(|raw| raw.get().parse().ok());
        let payload = payload.map(|raw| offset(raw.get()));
        Ok(Event {
            content,
            name,
            name_unescaped,
            event_ts,
            payload,
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

    /// The payload as a [`serde_json::Value`]. An event whose payload is not valid JSON (Zoom
    /// never sends one; the decoder only checks that it is balanced) is an error, not `null`.
    pub fn payload(&self) -> Result<serde_json::Value, Error> {
        self.payload_as()
    }

    /// The payload read into your own type, e.g. a struct with the fields you need.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Started {
    ///     object: Meeting,
    /// }
    /// #[derive(serde::Deserialize)]
    /// struct Meeting {
    ///     id: String,
    ///     topic: String,
    /// }
    ///
    /// let content = r#"{"event":"meeting.started","payload":{"object":{"id":"8","topic":"Standup"}}}"#;
    /// let event = zoom_ws::Event::from_content(content.to_string()).expect("an event");
    /// let started: Started = event.payload_as()?;
    /// assert_eq!((started.object.id.as_str(), started.object.topic.as_str()), ("8", "Standup"));
    /// # Ok::<(), zoom_ws::Error>(())
    /// ```
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.payload_json()).map_err(|e| Error::Payload {
            event: self.name().to_string(),
            detail: e.to_string(),
            source: Cause::new(e),
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

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("event_ts", &self.event_ts)
            .field("content_len", &self.content.len())
            .finish()
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content
    }
}
