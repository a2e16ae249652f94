//! `--metrics-file`: the counters as a Prometheus text file for node_exporter's textfile
//! collector (no port to open on a small host). [`render`] is pure; [`write_atomic`] replaces
//! the file so a scrape never reads half of it.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use zoom_ws::StatsSnapshot;

/// Everything one metrics file shows, copied out of the running parts.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub subscriptions: Vec<Subscription>,
    pub outputs: Vec<Output>,
    /// Bytes on disk in the journal (`--spool`), when there is one.
    pub journal_bytes: Option<u64>,
}

/// One subscription: its client's counters, and what the command line adds.
#[derive(Clone, Debug, Default)]
pub struct Subscription {
    pub id: String,
    /// With `--ha-etcd`: whether this instance leads the subscription.
    pub leader: Option<bool>,
    /// No `last_event` before the first event: the sample is then left out, so an alert on
    /// `time() - zoom_ws_last_event_timestamp_seconds` does not see 1970.
    pub stats: StatsSnapshot,
}

/// One output (stdout, exec, forward).
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub name: String,
    pub dropped: u64,
}

/// A sample's value. Integers only (the binary has no floating-point code): times are
/// milliseconds, printed as seconds with three decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Count(u64),
    Millis(u128),
}

type SubValue = fn(&Subscription) -> Option<Value>;

/// The per-subscription families: name, type, help, value.
const SUBSCRIPTION_FAMILIES: [(&str, &str, &str, SubValue); 9] = [
    (
        "zoom_ws_up",
        "gauge",
        "1 while the subscription's connection is live, else 0.",
        |s| Some(Value::Count(u64::from(s.stats.live))),
    ),
    (
        "zoom_ws_leader",
        "gauge",
        "With --ha-etcd: 1 while this instance leads the subscription's election, 0 on standby.",
        |s| s.leader.map(|l| Value::Count(u64::from(l))),
    ),
    (
        "zoom_ws_events_total",
        "counter",
        "Events received on the socket.",
        |s| Some(Value::Count(s.stats.events)),
    ),
    (
        "zoom_ws_reconnects_total",
        "counter",
        "Connections after the first.",
        |s| Some(Value::Count(s.stats.reconnects)),
    ),
    (
        "zoom_ws_gaps_total",
        "counter",
        "Times the subscription stopped being live, counted when it stops (events may be lost: Zoom never replays).",
        |s| Some(Value::Count(s.stats.gaps)),
    ),
    (
        "zoom_ws_gap_seconds_total",
        "counter",
        "Seconds the subscription was not live after it had been, the ongoing gap included.",
        |s| Some(Value::Millis(s.stats.gap_time.as_millis())),
    ),
    (
        "zoom_ws_heartbeats_sent_total",
        "counter",
        "Heartbeats sent to Zoom.",
        |s| Some(Value::Count(s.stats.heartbeats_sent)),
    ),
    (
        "zoom_ws_heartbeats_answered_total",
        "counter",
        "Heartbeats Zoom answered.",
        |s| Some(Value::Count(s.stats.heartbeats_answered)),
    ),
    (
        "zoom_ws_last_event_timestamp_seconds",
        "gauge",
        "When the last event arrived, in seconds since the Unix epoch.",
        |s| s.stats.last_event.map(since_epoch),
    ),
];

/// The text exposition format (version 0.0.4), every family with its HELP and TYPE lines.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in SUBSCRIPTION_FAMILIES {
        let subs = snapshot.subscriptions.iter();
        let samples = subs.filter_map(|s| Some((Some(("subscription", &*s.id)), value(s)?)));
        family(&mut out, [name, kind, help], samples);
    }
    let help = "Events an output dropped (its queue was full).";
    let outputs = snapshot.outputs.iter();
    let samples = outputs.map(|o| (Some(("output", &*o.name)), Value::Count(o.dropped)));
    family(
        &mut out,
        ["zoom_ws_dropped_total", "counter", help],
        samples,
    );
    if let Some(bytes) = snapshot.journal_bytes {
        let help = "Bytes the journal's files take on disk (--spool): delivered events too, until \
                    their segment is removed; not what is waiting.";
        let name = "zoom_ws_journal_disk_bytes";
        family(
            &mut out,
            [name, "gauge", help],
            [(None, Value::Count(bytes))],
        );
    }
    out
}

/// A family's HELP and TYPE lines, then its samples, each with its label, if any.
fn family<'a>(
    out: &mut String,
    [name, kind, help]: [&str; 3],
    samples: impl IntoIterator<Item = (Option<(&'a str, &'a str)>, Value)>,
) {
    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {kind}", escape(help));
    for (label, v) in samples {
        let label = label.map_or(String::new(), |(label, value)| {
            format!("{{{label}=\"{}\"}}", escape(value).replace('"', "\\\""))
        });
        let _ = writeln!(out, "{name}{label} {}", number(v));
    }
}

/// Help text as the format wants it: backslash and line feed escaped (a label value also
/// escapes its double quotes).
fn escape(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

/// A sample value as text: counts as they are, milliseconds as seconds with three decimals.
fn number(v: Value) -> String {
    match v {
        Value::Count(n) => n.to_string(),
        Value::Millis(ms) => format!("{}.{:03}", ms / 1000, ms % 1000),
    }
}

/// Milliseconds since the Unix epoch (0 for a clock set before 1970).
fn since_epoch(t: SystemTime) -> Value {
    Value::Millis(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()))
}

/// Replaces `path` with `text` in one step: a temporary file beside it (same directory, so the
/// rename stays on one filesystem; a name node_exporter skips, as it reads only `*.prom`), mode
/// 0644 whatever the umask, then `rename`, which replaces a symlink at `path` instead of
/// writing through it. No fsync: the file is rewritten every few seconds and lost at no cost.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the metrics path names no file",
        )
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let temp_name = format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id());
    let temp = dir.map_or_else(|| temp_name.clone().into(), |d| d.join(&temp_name));
    // A leftover of a crashed run (or anything planted there) goes; a symlink is removed, not
    // followed.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = create_new(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        set_mode_644(&file)
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// `O_CREAT | O_EXCL` (never an existing file, never through a symlink), `O_NOFOLLOW` too.
fn create_new(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(unix)]
fn set_mode_644(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_mode_644(_: &std::fs::File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample_snapshot() -> Snapshot {
        let mut stats = StatsSnapshot::default();
        stats.live = true;
        stats.events = 1200;
        stats.reconnects = 2;
        stats.gaps = 1;
        stats.gap_time = Duration::from_millis(3250);
        stats.heartbeats_sent = 40;
        stats.heartbeats_answered = 39;
        stats.last_event = Some(UNIX_EPOCH + Duration::from_millis(1_764_507_612_345));
        Snapshot {
            subscriptions: vec![
                Subscription {
                    id: "sub-a".into(),
                    leader: Some(true),
                    stats,
                },
                Subscription {
                    id: "odd \"name\"\\x\ny".into(),
                    ..Subscription::default()
                },
            ],
            outputs: vec![
                Output {
                    name: "stdout".into(),
                    dropped: 0,
                },
                Output {
                    name: "forward".into(),
                    dropped: 7,
                },
            ],
            journal_bytes: Some(4096),
        }
    }

    #[test]
    fn every_family_has_help_and_type_and_one_sample_per_subscription() {
        let text = render(&sample_snapshot());
        let expected = [
            "# TYPE zoom_ws_up gauge",
            "zoom_ws_up{subscription=\"sub-a\"} 1",
            "zoom_ws_up{subscription=\"odd \\\"name\\\"\\\\x\\ny\"} 0",
            "# TYPE zoom_ws_leader gauge",
            "zoom_ws_leader{subscription=\"sub-a\"} 1",
            "# TYPE zoom_ws_events_total counter",
            "zoom_ws_events_total{subscription=\"sub-a\"} 1200",
            "zoom_ws_reconnects_total{subscription=\"sub-a\"} 2",
            "zoom_ws_gaps_total{subscription=\"sub-a\"} 1",
            "zoom_ws_gap_seconds_total{subscription=\"sub-a\"} 3.250",
            "zoom_ws_heartbeats_sent_total{subscription=\"sub-a\"} 40",
            "zoom_ws_heartbeats_answered_total{subscription=\"sub-a\"} 39",
            "zoom_ws_last_event_timestamp_seconds{subscription=\"sub-a\"} 1764507612.345",
            "zoom_ws_dropped_total{output=\"stdout\"} 0",
            "zoom_ws_dropped_total{output=\"forward\"} 7",
            "# TYPE zoom_ws_journal_disk_bytes gauge",
            "zoom_ws_journal_disk_bytes 4096",
        ];
        let lines: Vec<&str> = text.lines().collect();
        for line in expected {
            assert!(lines.contains(&line), "missing {line:?} in\n{text}");
        }
        for line in lines.iter().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE"
            );
        }
        // Two subscriptions and nine families, less the missing timestamp and leader; two
        // outputs; journal.
        assert_eq!(
            lines.iter().filter(|l| !l.starts_with('#')).count(),
            16 + 2 + 1
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn no_event_yet_means_no_timestamp_and_no_journal_no_journal_family() {
        let snapshot = Snapshot {
            subscriptions: vec![Subscription {
                id: "s".into(),
                ..Subscription::default()
            }],
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        assert!(
            !text.contains("zoom_ws_last_event_timestamp_seconds{"),
            "{text}"
        );
        assert!(!text.contains("zoom_ws_journal_disk_bytes"), "{text}");
        assert!(
            text.contains("zoom_ws_up{subscription=\"s\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn times_are_seconds_with_milliseconds() {
        assert_eq!(number(Value::Count(0)), "0");
        assert_eq!(number(Value::Count(u64::MAX)), "18446744073709551615");
        assert_eq!(number(Value::Millis(0)), "0.000");
        assert_eq!(number(Value::Millis(5)), "0.005");
        assert_eq!(number(Value::Millis(61_020)), "61.020");
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(since_epoch(before_1970), Value::Millis(0));
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("zoom-ws-metrics-{}-{tag}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_replaced_whole_with_mode_0644_and_no_temp_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("replace");
        let path = dir.join("zoom-ws.prom");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, "zoom_ws_journal_disk_bytes 1\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "zoom_ws_journal_disk_bytes 1\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(entries(&dir), ["zoom-ws.prom"]);
        std::fs::remove_dir_all(dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_replaced_never_written_through() {
        let dir = temp_dir("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let path = dir.join("zoom-ws.prom");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // A planted link where the temporary file goes, too.
        let temp = dir.join(format!(".zoom-ws.prom.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        write_atomic(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(entries(&dir), ["victim", "zoom-ws.prom"]);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = temp_dir("missing");
        let path = dir.join("no-such-dir").join("zoom-ws.prom");
        assert!(write_atomic(&path, "x\n").is_err());
        assert!(entries(&dir).is_empty());
        std::fs::remove_dir_all(dir).ok();
    }

    /// Python's prometheus_client parser reads what we render; run by CI (`.ci/static`), which
    /// installs it: `cargo test metrics -- --ignored`.
    #[test]
    #[ignore = "needs python3 with prometheus_client"]
    fn prometheus_clients_parser_reads_every_sample_back() {
        let text = render(&sample_snapshot());
        let parsed = parse_with_prometheus_client(&text);
        let mut expected: Vec<(String, f64)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            // The one escaped label value, as the parser must give it back.
            .map(|l| l.replace(r#"odd \"name\"\\x\ny"#, "odd \"name\"\\x\ny"))
            .map(|l| split_value(&l))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(parsed, expected);
        assert!(
            parsed.iter().any(|(s, _)| s.contains("odd \"name\"\\x\ny")),
            "{parsed:?}"
        );
    }

    /// `name{labels} value` into the sample and its value.
    fn split_value(line: &str) -> (String, f64) {
        let (sample, value) = line.rsplit_once(' ').expect("a value");
        (sample.to_string(), value.parse().expect("a number"))
    }

    /// Each sample as the parser saw it, `name{label="raw value"}` and its value, sorted: the
    /// label value comes back unescaped, so escaping is checked, not echoed.
    fn parse_with_prometheus_client(text: &str) -> Vec<(String, f64)> {
        const SCRIPT: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    assert family.documentation, family.name
    for s in family.samples:
        labels = "".join('{%s="%s"}' % kv for kv in s.labels.items())
        out.append(s.name + labels + " " + repr(float(s.value)))
sys.stdout.write("\x00".join(out))
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", SCRIPT])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "the parser refused:\n{text}");
        let mut samples: Vec<(String, f64)> = String::from_utf8(output.stdout)
            .unwrap()
            .split('\0')
            .map(split_value)
            .collect();
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        samples
    }
}
