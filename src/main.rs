//! `zoom-ws`: Zoom events as JSON lines on stdout, logs on stderr.

mod cli;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

#[cfg(feature = "actions")]
use cli::pipe::{Counts, Pipe, Spool};
use cli::sink::{Sink, StopAll};
#[cfg(feature = "actions")]
use cli::worker;
#[cfg(feature = "actions")]
use zoom_ws::webhook::Forwarder;
use zoom_ws::{Client, Config, Dedupe, Error, EventFilter, Secret, StateChange, TokenSource};

const USAGE_HEAD: &str = "\
zoom-ws: receive Zoom event subscriptions over WebSocket; one JSON event per line on stdout.

Usage: zoom-ws [OPTIONS]

Options:
  --env-file PATH    read settings from PATH (default: ./.env when it exists)
  --max-events N     exit after N events (counted after --event and --dedupe)
  --event PATTERN    keep only events whose type matches; repeatable; * matches anything,
                     e.g. --event 'meeting.*' --event '*.created'
  --dedupe           drop an event whose exact JSON was already delivered among the last 4096
";

#[cfg(feature = "actions")]
const USAGE_ACTIONS: &str = "\
  --exec CMD         run `sh -c CMD` for each event, one at a time, in order: the event's JSON
                     line on stdin, ZOOM_EVENT and ZOOM_EVENT_TS in the environment
  --forward URL      POST each event to URL as a Zoom webhook (signed when
                     ZOOM_WEBHOOK_SECRET_TOKEN is set); retried on network errors and 5xx
  --spool PATH       with --forward: keep events that do not fit the queue in PATH, in order,
                     until the receiver takes them (also across restarts)
  --queue N          events held in memory per action, default 1000
  -q, --quiet        no event lines on stdout (with --exec or --forward)
";

#[cfg(not(feature = "actions"))]
const USAGE_ACTIONS: &str = "\
  (--exec, --forward, --spool, --queue, --quiet: build with `--features actions`)
";

const USAGE_TAIL: &str = "\
  -h, --help         show this help
  -V, --version      show the version

Settings (environment, or the .env file; the environment wins):
  ZOOM_CLIENT_ID or CLIENT_USERNAME          OAuth client id (required)
  ZOOM_CLIENT_SECRET or CLIENT_PASSWORD      OAuth client secret (required)
  ZOOM_SUBSCRIPTION_ID or SUBSCRIPTION_ID    event subscription id (required); several,
                                             comma-separated: one connection each
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
  ZOOM_WEBHOOK_SECRET_TOKEN                  signs --forward posts like Zoom's webhooks
  RUST_LOG                                   log level on stderr, default info

Exit status: 0 stopped (signal or --max-events), 2 usage or configuration error,
3 credentials rejected by Zoom, 1 any other error.
";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    env_file: Option<String>,
    max_events: Option<u64>,
    events: Vec<String>,
    dedupe: bool,
    exec: Option<String>,
    forward: Option<String>,
    spool: Option<PathBuf>,
    queue: usize,
    quiet: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            env_file: None,
            max_events: None,
            events: Vec::new(),
            dedupe: false,
            exec: None,
            forward: None,
            spool: None,
            queue: DEFAULT_QUEUE,
            quiet: false,
        }
    }
}

/// Events held in memory per action: at Zoom's rates, minutes of a stalled receiver, and about
/// a megabyte of memory.
const DEFAULT_QUEUE: usize = 1000;

/// A library error about a value that came from a command-line flag, worded with the flag.
fn as_flag(error: Error, flag: &str) -> Error {
    match error {
        Error::Config { setting, problem } if !setting.starts_with("ZOOM_") => Error::Config {
            setting: flag.to_string(),
            problem,
        },
        other => other,
    }
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
                print!("{USAGE_HEAD}{USAGE_ACTIONS}{USAGE_TAIL}");
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
            "--event" => parsed.events.push(value("--event")?),
            "--dedupe" => parsed.dedupe = true,
            "--exec" => parsed.exec = Some(value("--exec")?),
            "--forward" => parsed.forward = Some(value("--forward")?),
            "--spool" => parsed.spool = Some(PathBuf::from(value("--spool")?)),
            "--queue" => {
                let v = value("--queue")?;
                parsed.queue =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--queue needs a whole number above 0, not {v:?}")
                    })?;
            }
            "-q" | "--quiet" => parsed.quiet = true,
            other => return Err(format!("unknown option {other:?}; see --help")),
        }
    }
    let wants_actions = parsed.exec.is_some()
        || parsed.forward.is_some()
        || parsed.spool.is_some()
        || parsed.quiet
        || parsed.queue != DEFAULT_QUEUE;
    if wants_actions && !cfg!(feature = "actions") {
        return Err(
            "--exec, --forward, --spool, --queue and --quiet need zoom-ws built with the \
                    `actions` feature: cargo install zoom-ws --features actions"
                .into(),
        );
    }
    if parsed.spool.is_some() && parsed.forward.is_none() {
        return Err("--spool keeps events for --forward; add --forward URL".into());
    }
    if parsed.exec.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err("--exec needs a command, such as --exec 'jq -c .payload >> events.log'".into());
    }
    Ok(Some(parsed))
}

/// The settings: the process environment first, then the `.env` file. Returns the client's
/// configuration and the webhook secret token.
fn load_config(args: &Args) -> Result<(Config, Option<Secret>), Exit> {
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
    let config = Config::from_lookup(lookup).map_err(Exit::Fatal)?;
    let webhook_secret = lookup("ZOOM_WEBHOOK_SECRET_TOKEN")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    Ok((config, webhook_secret))
}

/// `ZOOM_SUBSCRIPTION_ID` may list several ids, comma-separated.
fn subscription_ids(value: &str) -> Result<Vec<String>, Exit> {
    let ids: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Err(Exit::Usage(
            "ZOOM_SUBSCRIPTION_ID holds no subscription id; give one, or several separated by \
             commas"
                .into(),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(Exit::Usage(format!(
                "ZOOM_SUBSCRIPTION_ID lists {id} twice; one subscription should have one consumer"
            )));
        }
    }
    Ok(ids)
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
fn stop_on_signals(stop: StopAll) {
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

/// `zoom-ws | head -1`: notices at once when the reader of stdout goes away, rather than at the
/// next event, which may be hours off. poll() reports POLLERR on a pipe whose reader is gone; on a
/// file or a terminal it never returns, and the thread just waits.
#[allow(unsafe_code)]
fn stop_when_stdout_closes(stop: StopAll) {
    std::thread::spawn(move || {
        loop {
            let mut stdout = libc::pollfd {
                fd: libc::STDOUT_FILENO,
                events: 0,
                revents: 0,
            };
            // SAFETY: one valid, initialised pollfd.
            let ready = unsafe { libc::poll(&mut stdout, 1, -1) };
            if ready > 0 && stdout.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                log::info!("the reader of stdout is gone; stopping");
                stop.stop();
                return;
            }
            // No stdout at all (POLLNVAL), or poll() itself failed: nothing to watch.
            let failed =
                ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted;
            if failed || stdout.revents & libc::POLLNVAL != 0 {
                return;
            }
        }
    });
}

fn run(args: Args) -> Result<(), Exit> {
    let (config, webhook_secret) = load_config(&args)?;
    let ids = subscription_ids(&config.subscription_id)?;
    let filter = EventFilter::new(args.events.iter().cloned())
        .map_err(|e| Exit::Fatal(as_flag(e, "--event")))?;
    #[cfg(feature = "actions")]
    let prepared = actions::prepare(&args, &config, webhook_secret)?;
    #[cfg(not(feature = "actions"))]
    drop(webhook_secret);

    let tokens = Arc::new(TokenSource::new(&config).map_err(Exit::Fatal)?);
    let mut clients = Vec::with_capacity(ids.len());
    for id in &ids {
        let mut config = config.clone();
        config.subscription_id = id.clone();
        clients.push(Client::with_tokens(config, tokens.clone()).map_err(Exit::Fatal)?);
    }
    let stop = StopAll(Arc::new(clients.iter().map(Client::stop_handle).collect()));
    // Before any other thread starts, so that every thread inherits the signal mask.
    stop_on_signals(stop.clone());
    if !args.quiet {
        stop_when_stdout_closes(stop.clone());
    }

    let out = (!args.quiet).then(io::stdout);
    let mut sink = Sink::new(out, filter, stop.clone());
    sink.dedupe = args.dedupe.then(|| Dedupe::new(Dedupe::DEFAULT_WINDOW));
    sink.max_events = args.max_events;
    #[cfg(feature = "actions")]
    let actions = actions::spawn(&args, prepared, &config);
    #[cfg(feature = "actions")]
    {
        sink.pipes = actions.iter().map(|a| a.pipe.clone()).collect();
    }
    let sink = Arc::new(Mutex::new(sink));

    let several = ids.len() > 1;
    let (done_tx, done_rx) = mpsc::channel();
    for (id, mut client) in ids.into_iter().zip(clients) {
        let sink = sink.clone();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let label = if several {
                format!(" on subscription {id}")
            } else {
                String::new()
            };
            client.on_state(move |change| log_gap(change, &label));
            let stats = client.stats();
            let result = client.run(|event| {
                sink.lock().unwrap_or_else(|e| e.into_inner()).event(event);
            });
            let _ = done.send((stats.snapshot(), result));
        });
    }
    drop(done_tx);

    // The first error that retrying cannot fix stops every subscription.
    let mut first_error = None;
    let mut totals = [0u64; 5];
    for (s, result) in done_rx {
        if let Err(error) = result {
            if first_error.is_none() {
                stop.stop();
                first_error = Some(error);
            }
        }
        for (total, n) in totals.iter_mut().zip([
            s.connections,
            s.reconnects,
            s.heartbeats_sent,
            s.heartbeats_answered,
            s.skipped_total(),
        ]) {
            *total += n;
        }
    }
    #[cfg(feature = "actions")]
    let action_counts = actions::drain(actions);

    let sink = sink.lock().unwrap_or_else(|e| e.into_inner());
    let [connections, reconnects, sent, answered, skipped] = totals;
    log::info!(
        "summary: {} events written, {connections} connections, {reconnects} reconnects, {sent} \
         heartbeats sent, {answered} answered, {skipped} frames skipped, {} token requests, {} \
         events filtered out, {} repeats dropped",
        sink.passed,
        tokens.fetches(),
        sink.filtered_out,
        sink.duplicates,
    );
    #[cfg(feature = "actions")]
    actions::log_summary(action_counts);
    match first_error {
        Some(error) => Err(Exit::Fatal(error)),
        None => Ok(()),
    }
}

/// `--exec`, `--forward` and `--spool`: a worker thread and a pipe per action.
#[cfg(feature = "actions")]
mod actions {
    use std::thread::JoinHandle;
    use std::time::Instant;

    use super::*;

    /// How long the actions may go on delivering after a stop request.
    const DRAIN_GRACE: Duration = Duration::from_secs(5);

    /// An action's worker thread and its pipe.
    pub struct Action {
        pub pipe: Arc<Pipe>,
        thread: JoinHandle<()>,
    }

    /// What is checked before anything connects: the receiver's URL, the spool file.
    pub struct Prepared {
        forwarder: Option<Forwarder>,
        spool: Option<Spool>,
    }

    pub fn prepare(
        args: &Args,
        config: &Config,
        webhook_secret: Option<Secret>,
    ) -> Result<Prepared, Exit> {
        let forwarder = match &args.forward {
            Some(url) => {
                let forwarder = Forwarder::new(url, webhook_secret, config)
                    .map_err(|e| Exit::Fatal(super::as_flag(e, "--forward")))?;
                if !forwarder.signs() {
                    log::info!(
                        "ZOOM_WEBHOOK_SECRET_TOKEN is not set: events posted to {} are not signed",
                        forwarder.host()
                    );
                }
                Some(forwarder)
            }
            None => None,
        };
        let spool = match &args.spool {
            Some(path) => Some(Spool::open(path).map_err(|e| {
                Exit::Usage(format!("--spool {}: cannot open it: {e}", path.display()))
            })?),
            None => None,
        };
        Ok(Prepared { forwarder, spool })
    }

    /// Starts the workers (after the signal mask is in place, which they inherit).
    pub fn spawn(args: &Args, prepared: Prepared, config: &Config) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(command) = args.exec.clone() {
            let pipe = Pipe::new(
                "exec",
                args.queue,
                None,
                "a larger --queue holds more; a faster command keeps up",
            );
            let thread = worker::spawn(
                pipe.clone(),
                worker::Exec::new(command),
                config.backoff.clone(),
            );
            actions.push(Action { pipe, thread });
        }
        if let Some(forwarder) = prepared.forwarder {
            let pipe = Pipe::new(
                "forward",
                args.queue,
                prepared.spool,
                "--spool PATH keeps them",
            );
            let thread = worker::spawn(
                pipe.clone(),
                worker::Forward::new(forwarder),
                config.backoff.clone(),
            );
            actions.push(Action { pipe, thread });
        }
        actions
    }

    /// Gives each action the grace period to finish, then keeps or counts what is left.
    pub fn drain(actions: Vec<Action>) -> Vec<(&'static str, Counts)> {
        for action in &actions {
            action.pipe.close(DRAIN_GRACE);
        }
        // A request is bounded by the grace period; a command is not, so do not wait for ever.
        let give_up = Instant::now() + DRAIN_GRACE + Duration::from_secs(1);
        actions
            .into_iter()
            .map(|action| {
                while !action.thread.is_finished() && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !action.thread.is_finished() {
                    log::error!(
                        "{}: still busy with one event after the grace period; exiting without it",
                        action.pipe.name()
                    );
                }
                (action.pipe.name(), action.pipe.finish())
            })
            .collect()
    }

    /// One summary line per action; an error when anything was dropped.
    pub fn log_summary(counts: Vec<(&'static str, Counts)>) {
        for (name, c) in counts {
            let line = format!(
                "summary {name}: {} done, {} of them failed, {} retries, {} spooled, {} dropped",
                c.delivered, c.failed, c.retries, c.spooled, c.dropped
            );
            if c.dropped > 0 {
                log::error!("{line}");
            } else {
                log::info!("{line}");
            }
        }
    }
}

/// Warns about a gap in the stream after a reconnect: Zoom does not replay missed events.
fn log_gap(change: &StateChange, label: &str) {
    if let StateChange::Reconnected { gap_start, gap_end } = change {
        let gap = gap_end.duration_since(*gap_start).unwrap_or(Duration::ZERO);
        log::warn!(
            "events{label} from {} to {} ({} ms) may be missing: Zoom does not replay them",
            utc(*gap_start),
            utc(*gap_end),
            gap.as_millis()
        );
    }
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
        let args = parse(&["--event", "meeting.*", "--event=*.created", "--dedupe"])
            .unwrap()
            .unwrap();
        assert_eq!(args.events, ["meeting.*", "*.created"]);
        assert!(args.dedupe);
        let actions = parse(&["--forward", "http://127.0.0.1:9/hook"]);
        if cfg!(feature = "actions") {
            assert!(actions.is_ok());
        } else {
            assert!(actions.unwrap_err().contains("--features actions"));
        }
    }

    #[test]
    #[cfg(feature = "actions")]
    fn action_args() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let args = parse(&[
            "--event",
            "meeting.*",
            "--event=*.created",
            "--dedupe",
            "--exec",
            "cat",
            "--forward",
            "http://127.0.0.1:9/hook",
            "--spool",
            "spool.jsonl",
            "--queue",
            "10",
            "-q",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(args.events, ["meeting.*", "*.created"]);
        assert!(args.dedupe && args.quiet);
        assert_eq!(args.exec.as_deref(), Some("cat"));
        assert_eq!(args.queue, 10);
        assert!(parse(&["--spool", "x"]).unwrap_err().contains("--forward"));
        assert!(parse(&["--queue", "0"]).is_err());
        assert!(parse(&["--exec", " "]).is_err());
    }

    #[test]
    fn several_subscription_ids() {
        let ids = |v: &str| subscription_ids(v).ok();
        assert_eq!(ids("a").unwrap(), ["a"]);
        assert_eq!(ids(" a, b ,,c ").unwrap(), ["a", "b", "c"]);
        assert!(ids(" , ").is_none());
        assert!(ids("a,b,a").is_none());
    }
}
