//! High availability (`--ha-etcd`): several instances with the same subscriptions, one consumer
//! of each at a time, elected on etcd. The client's gate lets only the leader ask Zoom for a
//! token and connect; a stop request hands the subscription over without a gap (the lease given
//! up first, the connection read until Zoom closes it because the successor connected).

mod election;
mod etcd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use zoom_ws::{Client, check};

use crate::args::Args;
use crate::health::Health;
use crate::settings::pick;
use election::{Ask, Election, Seat};

/// The lease's time to live unless told otherwise, in seconds: how long a crashed leader's
/// subscriptions wait for a standby.
pub const DEFAULT_TTL: u64 = 10;

/// Where the elections' keys live unless `ZOOM_HA_PREFIX` says otherwise.
pub const DEFAULT_PREFIX: &str = "/zoom-ws/";

/// The election's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--ha-etcd` or `ZOOM_HA_ETCD`: the client URLs of one etcd cluster.
    pub urls: Vec<String>,
    /// `--ha-ttl` or `ZOOM_HA_TTL`.
    pub ttl: Duration,
    /// `ZOOM_HA_NAME`: this instance, in logs and in etcd.
    pub name: String,
    /// `ZOOM_HA_PREFIX`: the key of a subscription is the prefix and its id.
    pub prefix: String,
}

/// The settings when `--ha-etcd` or `ZOOM_HA_ETCD` is given, checked; the error names the
/// setting to fix.
pub fn settings(
    args: &Args,
    lookup: &dyn Fn(&str) -> Option<String>,
    insecure: bool,
) -> Result<Option<Settings>, String> {
    let Some((list, setting)) = pick(&args.ha_etcd, ["--ha-etcd", "ZOOM_HA_ETCD"], lookup) else {
        return Ok(None);
    };
    let mut urls = Vec::new();
    for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        check::endpoint(setting, url, &["http", "https"], insecure, "the election")
            .map_err(|e| e.to_string())?;
        urls.push(url.to_string());
    }
    if urls.is_empty() {
        return Err(format!(
            "{setting}: give etcd's client URLs, such as http://127.0.0.1:2379"
        ));
    }
    let ttl = match pick(&args.ha_ttl, ["--ha-ttl", "ZOOM_HA_TTL"], lookup) {
        Some((v, name)) => v
            .trim()
            .parse()
            .ok()
            .filter(|n| (2..=3600).contains(n))
            .ok_or_else(|| {
                format!("{name}: {v:?} is not a whole number of seconds from 2 to 3600")
            })?,
        None => DEFAULT_TTL,
    };
    let name = lookup("ZOOM_HA_NAME").unwrap_or_else(default_name);
    if name.is_empty() || name.len() > 128 || !name.bytes().all(name_byte) {
        return Err("ZOOM_HA_NAME: give 1 to 128 letters, digits, '-', '_', '.' or ':'".into());
    }
    let prefix = lookup("ZOOM_HA_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    if prefix.len() > 256 || prefix.chars().any(char::is_control) {
        return Err("ZOOM_HA_PREFIX: give printable text of at most 256 bytes".into());
    }
    Ok(Some(Settings {
        urls,
        ttl: Duration::from_secs(ttl),
        name,
        prefix,
    }))
}

/// The host's name and this process's id: distinct for two instances on one host.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "zoom-ws".to_string());
    let host: String = host
        .bytes()
        .take(100)
        .map(|b| if name_byte(b) { char::from(b) } else { '-' })
        .collect();
    format!("{host}:{}", std::process::id())
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.:".contains(&b)
}

/// The elections of a run, one per subscription (none without `--ha-etcd`).
pub struct Ha {
    seats: Vec<Arc<Seat>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    handing_over: AtomicBool,
}

impl Ha {
    /// Gates every client on its subscription's election and starts the elections.
    pub fn start(
        settings: Option<&Settings>,
        ids: &[String],
        clients: &mut [Client],
        health: &Arc<Health>,
    ) -> Arc<Ha> {
        let mut seats = Vec::new();
        let mut threads = Vec::new();
        for (index, (id, client)) in ids.iter().zip(clients.iter_mut()).enumerate() {
            let Some(settings) = settings else { break };
            let seat = Seat::new();
            let gate = Arc::clone(&seat);
            client.gate(move || gate.is_leader());
            // Each request within a quarter of the lease, so that one frozen member leaves
            // time to ask the next before the lease runs out.
            let timeout =
                (settings.ttl / 4).clamp(Duration::from_millis(500), Duration::from_secs(3));
            let election = Election {
                etcd: etcd::Etcd::new(settings.urls.clone(), timeout),
                subscription: id.clone(),
                key: format!("{}{id}", settings.prefix),
                name: settings.name.clone(),
                ttl: settings.ttl,
                seat: Arc::clone(&seat),
                client: client.stop_handle(),
                health: Arc::clone(health),
                index,
                lease: None,
                shown: None,
                unreachable: false,
            };
            threads.push(std::thread::spawn(move || election.run()));
            seats.push(seat);
        }
        Arc::new(Ha {
            seats,
            threads: Mutex::new(threads),
            handing_over: AtomicBool::new(false),
        })
    }

    /// A stop request: leaders hand their subscriptions over, standbys stop. False when there
    /// is no election or a handover was asked before (a second request stops at once).
    pub fn hand_over(&self) -> bool {
        if self.seats.is_empty() || self.handing_over.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.seats.iter().for_each(|s| s.tell(Ask::HandOver));
        true
    }

    /// The clients have returned: every lease is given up (a standby takes over at once).
    pub fn finish(&self) {
        self.seats.iter().for_each(|s| s.tell(Ask::Quit));
        let threads = std::mem::take(&mut *crate::sync::lock(&self.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}
