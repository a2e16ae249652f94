//! A guard in front of any logger, so that no log level shows a secret.
//!
//! Our own log lines never hold the client secret, the token or the socket URL. Two dependencies do
//! at `trace`: tungstenite prints the whole handshake request (whose URL carries the token) and
//! ureq's protocol layer dumps the raw request and response bytes (the Basic credentials and the
//! token). [`SafeLogger`] drops trace records from those two crates and passes everything else on.

use log::{Level, Log, Metadata, Record};

/// True unless the record may carry a secret.
pub fn is_safe(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    let from_dependency_that_dumps = ["tungstenite", "ureq"]
        .iter()
        .any(|name| target.starts_with(name));
    !(metadata.level() == Level::Trace && from_dependency_that_dumps)
}

/// Wraps a logger and drops the records that [`is_safe`] refuses.
#[derive(Debug)]
pub struct SafeLogger<L>(pub L);

impl<L: Log> Log for SafeLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_safe(metadata) && self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if is_safe(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_dependency_traces_only() {
        let meta = |level, target| Metadata::builder().level(level).target(target).build();
        assert!(!is_safe(&meta(
            Level::Trace,
            "tungstenite::handshake::client"
        )));
        assert!(!is_safe(&meta(Level::Trace, "ureq_proto::util")));
        assert!(is_safe(&meta(Level::Debug, "ureq::run")));
        assert!(is_safe(&meta(Level::Trace, "zoom_ws::client")));
    }
}
