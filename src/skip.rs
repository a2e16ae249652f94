//! Why a frame was skipped: the reasons counted in [`Stats`](crate::Stats).

use std::fmt;

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
        self.words().0
    }

    /// The short name and the sentence, side by side.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Skip::NotJson => ("not_json", "frame is not a JSON object"),
            Skip::NoModule => ("no_module", "frame has no \"module\""),
            Skip::BadEvent => ("bad_event", "message content is not an event object"),
            Skip::Binary => ("binary", "binary frame"),
            Skip::UnknownModule => ("unknown_module", "unknown module"),
            Skip::TooLarge => ("too_large", "message larger than the configured maximum"),
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words().1)
    }
}
