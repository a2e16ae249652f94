//! `zoom-ws`: Zoom events as JSON lines on stdout, logs on stderr.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use zoom_ws::{Client, Config, Error, Event, StateChange, StopHandle};

const USAGE: &str = "\
zoom-ws: receive Zoom event subscriptions over WebSocket; one JSON event per line on stdout.

Usage: zoom-ws [OPTIONS]

Options:
  --env-file PATH    read settings from PATH (default: ./.env when it exists)
  --max-events N     exit after N events
  -h, --help         show this help
  -V, --version      show the version

Settings (environment, or the .env file; the environment wins):
  ZOOM_CLIENT_ID or CLIENT_USERNAME          OAuth client id (required)
  ZOOM_CLIENT_SECRET or CLIENT_PASSWORD      OAuth client secret (required)
  ZOOM_SUBSCRIPTION_ID or SUBSCRIPTION_ID    event subscription id (required)
  ZOOM_ACCOUNT_ID                            use account_credentials (Server-to-Server apps)
  ZOOM_OAUTH_URL or OAUTH_URL                default https://zoom.us/oauth/token
  ZOOM_WS_URL or WS_URL                      default wss://ws.zoom.us/ws
  ZOOM_HEARTBEAT_INTERVAL                    seconds, default 30
  ZOOM_DEAD_PEER_TIMEOUT                     seconds, default 2 intervals + 5
  ZOOM_CONNECT_TIMEOUT                       seconds per connection step, default 10
  ZOOM_BACKOFF_INITIAL, ZOOM_BACKOFF_MAX     reconnect delays in seconds, default 1 and 60
  ZOOM_MAX_MESSAGE_SIZE                      bytes, default 1048576
  ZOOM_CA_FILE                               PEM file of CA certificates trusted besides the system's
  HTTPS_PROXY, https_proxy, ALL_PROXY        http://[user:password@]host[:port] for both connections
  NO_PROXY or no_proxy                       hosts reached directly: host[:port], .domain, * (comma list)
  RUST_LOG                                   log level on stderr, default info

Exit status: 0 stopped (signal or --max-events), 2 usage or configuration error,
3 credentials rejected by Zoom, 1 any other error.
";

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    env_file: Option<String>,
    max_events: Option<u64>,
}

enum Exit {
    Usage(String),
    Fatal(Error),
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("zoom-ws {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--env-file" => parsed.env_file = Some(value("--env-file")?),
            "--max-events" => {
                let v = value("--max-events")?;
                parsed.max_events = Some(
                    v.parse()
                        .map_err(|_| format!("--max-events needs a whole number, not {v:?}"))?,
                );
            }
            other => return Err(format!("unknown option {other:?}; see --help")),
        }
    }
    Ok(Some(parsed))
}

/// The settings: the process environment first, then the `.env` file.
fn load_config(args: &Args) -> Result<Config, Exit> {
    let (path, required) = match &args.env_file {
        Some(path) => (path.as_str(), true),
        None => (".env", false),
    };
    let file_pairs = match std::fs::read_to_string(path) {
        Ok(text) => {
            zoom_ws::dotenv::parse(&text).map_err(|e| Exit::Usage(format!("{path}: {e}")))?
        }
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Exit::Usage(format!("cannot read {path}: {e}"))),
    };
    let lookup = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                file_pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
    };
    Config::from_lookup(lookup).map_err(Exit::Fatal)
}

fn init_logging() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
            .format(|out, record| {
                writeln!(
                    out,
                    "{} {:<5} {}",
                    utc(SystemTime::now()),
                    record.level(),
                    record.args()
                )
            })
            .build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(zoom_ws::logging::SafeLogger(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// `2026-11-30T13:14:52.123Z`, without a date crate.
fn utc(time: SystemTime) -> String {
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

/// Blocks SIGINT and SIGTERM in every thread and turns them into a stop request, received by one
/// thread with `sigwait` (nothing runs inside a signal handler). A second signal exits at once.
#[allow(unsafe_code)]
fn stop_on_signals(stop: StopHandle) {
    // SAFETY: plain libc calls on a local, initialised sigset_t; the mask is set before any other
    // thread exists, so every thread inherits it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` is a valid sigset_t and `signal` a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                continue;
            }
            if stop.is_stopped() {
                std::process::exit(130);
            }
            log::info!("signal {signal} received; stopping");
            stop.stop();
        }
    });
}

/// Writes each event as one line and stops the client when asked to or when stdout goes away.
struct Output<W: Write> {
    out: W,
    written: u64,
    max_events: Option<u64>,
    stop: StopHandle,
    closed: bool,
}

impl<W: Write> Output<W> {
    fn event(&mut self, event: &Event) {
        if self.closed || self.max_events.is_some_and(|max| self.written >= max) {
            return;
        }
        let line = event.json_line();
        let result = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        match result {
            Ok(()) => self.written += 1,
            Err(e) => {
                // `zoom-ws | head -1`: the reader is gone, which is a normal way to finish.
                if e.kind() != io::ErrorKind::BrokenPipe {
                    log::error!("cannot write to stdout: {e}");
                }
                self.closed = true;
                self.stop.stop();
                return;
            }
        }
        if self.max_events.is_some_and(|max| self.written >= max) {
            self.stop.stop();
        }
    }
}

fn run(args: Args) -> Result<(), Exit> {
    let config = load_config(&args)?;
    let mut client = Client::new(config).map_err(Exit::Fatal)?;
    let stop = client.stop_handle();
    stop_on_signals(stop.clone());
    client.on_state(|change| {
        if let StateChange::Reconnected { gap_start, gap_end } = change {
            let secs = gap_end
                .duration_since(*gap_start)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            log::warn!(
                "events from {} to {} ({secs:.1} s) may be missing: Zoom does not replay them",
                utc(*gap_start),
                utc(*gap_end)
            );
        }
    });
    let stats = client.stats();
    let mut output = Output {
        out: io::stdout().lock(),
        written: 0,
        max_events: args.max_events,
        stop,
        closed: false,
    };
    let result = client.run(|event| output.event(event));
    let s = stats.snapshot();
    log::info!(
        "summary: {} events written, {} connections, {} reconnects, {} heartbeats sent, {} \
         answered, {} frames skipped, {} token requests",
        output.written,
        s.connections,
        s.reconnects,
        s.heartbeats_sent,
        s.heartbeats_answered,
        s.skipped_total(),
        s.token_fetches
    );
    result.map_err(Exit::Fatal)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zoom-ws: {message}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit::Usage(message)) => {
            log::error!("{message}");
            ExitCode::from(2)
        }
        Err(Exit::Fatal(error)) => {
            log::error!("{error}");
            ExitCode::from(match error {
                Error::Config { .. } => 2,
                Error::Credentials { .. } => 3,
                _ => 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(utc(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(at(951_782_400)), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(at(1_796_043_292)), "2026-11-30T12:54:52.000Z");
    }

    #[test]
    fn args() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let args = parse(&["--max-events", "3", "--env-file=x.env"])
            .unwrap()
            .unwrap();
        assert_eq!(args.max_events, Some(3));
        assert_eq!(args.env_file.as_deref(), Some("x.env"));
        assert!(parse(&["--max-events", "many"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--env-file"]).is_err());
    }
}
