//! One run: the settings checked, one client per subscription, each on its own thread, all
//! feeding one sink; then the summary and the first error that retrying could not fix.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use zoom_ws::{Client, Dedupe, StateChange, StatsSnapshot, TokenSource};

use crate::args::Args;
use crate::exit::Exit;
use crate::health::Health;
use crate::logging::utc;
use crate::outputs;
#[cfg(feature = "service")]
use crate::service::Service;
use crate::settings;
use crate::signals;
use crate::sink::{Sink, StopAll};
use crate::sync::lock;

/// How a run that was not cut off by an error ended.
pub enum Ended {
    /// Every event taken was delivered, or is kept in the journal.
    Clean,
    /// Events were dropped or lost on the way (exit status 4).
    Lost,
}

/// Runs until stopped (a signal, `--max-events`, stdout closed) or a fatal error.
pub fn run(mut args: Args) -> Result<Ended, Exit> {
    // Before any other thread starts (the journal has one), so that every thread inherits it.
    let signals = signals::block();
    let (config, ids, webhook_secret, delivery) = settings::load(&mut args)?;
    let prepared = outputs::prepare(&args, &delivery, &config, webhook_secret)?;

    let tokens = Arc::new(TokenSource::new(&config).map_err(Exit::Fatal)?);
    let mut clients = Vec::with_capacity(ids.len());
    for id in &ids {
        let mut config = config.clone();
        config.subscription_id = id.clone();
        clients.push(Client::with_tokens(config, tokens.clone()).map_err(Exit::Fatal)?);
    }
    let health = Health::new(ids.iter().cloned().zip(clients.iter().map(Client::stats)));
    #[cfg(feature = "ha")]
    let ha = crate::ha::Ha::start(delivery.ha.as_ref(), &ids, &mut clients, &health);
    let stop = StopAll(Arc::new(clients.iter().map(Client::stop_handle).collect()));
    let on_gone = {
        let stop = stop.clone();
        move || stop.stop()
    };
    let outputs = outputs::spawn(prepared, &args, &delivery, &config.backoff, on_gone.clone())?;
    let first_stop = {
        let health = Arc::clone(&health);
        #[cfg(feature = "ha")]
        let ha = Arc::clone(&ha);
        move || {
            health.wake();
            #[cfg(feature = "ha")]
            return ha.hand_over();
            #[cfg(not(feature = "ha"))]
            false
        }
    };
    signals.stop(stop.clone(), Arc::clone(&outputs.shutdown), first_stop);
    if !args.quiet {
        signals::stop_when_stdout_closes(on_gone);
    }

    let mut sink = Sink::new(
        delivery.filter.clone(),
        Arc::clone(&outputs.fanout),
        stop.clone(),
    );
    sink.dedupe = args.dedupe.then(|| Dedupe::new(Dedupe::DEFAULT_WINDOW));
    sink.max_events = args.max_events;
    let sink = Arc::new(Mutex::new(sink));

    #[cfg(feature = "service")]
    let service = Service::start(
        Arc::clone(&health),
        outputs.watch(),
        &delivery,
        stop.clone(),
    );
    let done_rx = start(ids, clients, &sink, &health);
    let first_error = wait(done_rx, &stop, &sink, &health, tokens.fetches());
    #[cfg(feature = "ha")]
    ha.finish();
    let lost = outputs.finish();
    #[cfg(feature = "service")]
    if let Some(gave_up) = service.finish(&health) {
        return Err(first_error.map_or(Exit::GaveUp(gave_up), Exit::Fatal));
    }
    match (first_error, lost) {
        (Some(error), _) => Err(Exit::Fatal(error)),
        (None, true) => Ok(Ended::Lost),
        (None, false) => Ok(Ended::Clean),
    }
}

/// Waits for every subscription's thread; the first error that retrying cannot fix stops them
/// all. Logs the summary and returns that error.
fn wait(
    done_rx: mpsc::Receiver<zoom_ws::Result<()>>,
    stop: &StopAll,
    sink: &Mutex<Sink>,
    health: &Health,
    token_requests: u64,
) -> Option<zoom_ws::Error> {
    let mut first_error = None;
    for result in done_rx {
        if let Err(error) = result {
            if first_error.is_none() {
                stop.stop();
                first_error = Some(error);
            }
        }
    }
    let sink = lock(sink);
    log_summary(health, &sink, token_requests);
    first_error
}

/// Starts one thread per subscription, each running its client into the shared sink; each
/// sends what its client returned.
fn start(
    ids: Vec<String>,
    clients: Vec<Client>,
    sink: &Arc<Mutex<Sink>>,
    health: &Arc<Health>,
) -> mpsc::Receiver<zoom_ws::Result<()>> {
    let several = ids.len() > 1;
    let (done_tx, done_rx) = mpsc::channel();
    for (i, (id, mut client)) in ids.into_iter().zip(clients).enumerate() {
        let sink = sink.clone();
        let health = Arc::clone(health);
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let label = if several {
                format!(" on subscription {}", zoom_ws::check::escaped(&id))
            } else {
                String::new()
            };
            client.on_state(move |change| {
                log_gap(change, &label);
                health.change(i, change);
                if let StateChange::Connected = change {
                    crate::malloc::trim();
                }
            });
            let fanout = Arc::clone(&lock(&sink).fanout);
            client.pause_while(move || !fanout.has_room());
            let result = client.run(|event| {
                lock(&sink).event(event);
            });
            let _ = done.send(result);
        });
    }
    done_rx
}

/// The exit summary: the counters of every subscription added up, and the sink's.
fn log_summary(health: &Health, sink: &Sink, token_requests: u64) {
    let stats: Vec<_> = health.subs.iter().map(|s| s.stats.snapshot()).collect();
    let sum = |count: fn(&StatsSnapshot) -> u64| stats.iter().map(count).sum::<u64>();
    log::info!(
        "summary: {} events taken, {} connections, {} reconnects, {} heartbeats sent, {} \
         answered, {} frames skipped, {token_requests} token requests, {} events filtered out, \
         {} repeats dropped",
        sink.passed,
        sum(|s| s.connections),
        sum(|s| s.reconnects),
        sum(|s| s.heartbeats_sent),
        sum(|s| s.heartbeats_answered),
        sum(StatsSnapshot::skipped_total),
        sink.filtered_out,
        sink.duplicates,
    );
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
