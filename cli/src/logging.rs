//! Logs on stderr through `env_logger` (level from `RUST_LOG`, default info), behind the
//! library's [`SafeLogger`], with a UTC timestamp of our own (no date crate); under systemd,
//! journald priorities instead (see [`LogFormat`]).

use std::io::Write;
use std::time::SystemTime;

use zoom_ws::logging::SafeLogger;

use crate::log_format::LogFormat;

/// Installs the logger; call once, before anything logs.
pub fn init() {
    let format = LogFormat::for_journal_stream(std::env::var_os("JOURNAL_STREAM").as_deref());
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
            .format(move |out, record| {
                let line = format.line(record.level(), record.target(), record.args(), || {
                    utc(SystemTime::now())
                });
                writeln!(out, "{line}")
            })
            .build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(SafeLogger(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// `2026-11-30T13:14:52.123Z`, without a date crate.
pub fn utc(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(utc(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(at(951_782_400)), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(at(1_796_043_292)), "2026-11-30T12:54:52.000Z");
    }
}
