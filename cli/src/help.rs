//! The text of `zoom-ws --help`: the options, the settings and the exit status, in one place.

/// What `--help` prints.
pub const USAGE: &str = "\
zoom-ws: receive Zoom event subscriptions over WebSocket; one JSON event per line on stdout.

Usage: zoom-ws [OPTIONS]

Options:
  --env-file PATH    read settings from PATH (default: ./.env when it exists)
  --max-events N     exit after N events (counted after --event and --dedupe)
  --event PATTERN    keep only events whose type matches; repeatable or comma-separated;
                     * matches anything, e.g. --event 'meeting.*,*.created'
  --dedupe           drop an event whose exact JSON was already delivered among the last 4096
  --exec CMD         run `sh -c CMD` for each event, one at a time, in order: the event's JSON
                     line on stdin, ZOOM_EVENT and ZOOM_EVENT_TS in the environment, no secret
                     (client secret, webhook token, proxy passwords, *SECRET*/*TOKEN* names)
  --forward URL      POST each event to URL as a Zoom webhook (signed when
                     ZOOM_WEBHOOK_SECRET_TOKEN is set); retried on network errors and 5xx;
                     http:// only to this machine unless ZOOM_ALLOW_INSECURE=1; no user:password@
  --spool DIR        keep events in a journal in DIR (made 0700) for every output until each
                     has taken them, across crashes and restarts (at-least-once: after a crash
                     the event in flight may come twice); one process per DIR
  --spool-max SIZE   the journal's size limit, e.g. 512M or 2G (default 1G); beyond it, or
                     on a full disk, the oldest events are dropped, logged and counted
  --spool-forget OUTPUT
                     drop the events the journal keeps for OUTPUT (stdout, exec or forward),
                     an output not in this run; until then they are kept for it
  --grace SECS       after a stop request, how long the outputs may deliver what waits
                     (default 5); a second signal ends it at once
  --queue SIZE       without --spool: bytes of events held in memory per output, e.g. 16M
                     (default 64M; a bare number is bytes, no longer events); when full,
                     zoom-ws stops reading the socket until the output catches up
  --stall-timeout SECS
                     an output that takes nothing for SECS while its queue is full loses its
                     oldest events, logged and counted (default 60)
  -q, --quiet        no event lines on stdout (with --exec or --forward; alone, a warning)
  --metrics-file PATH
                     a Prometheus textfile (node_exporter's collector), replaced every 10 s
                     and at exit
  --give-up-after SECS
                     exit 1 when no subscription has been live for SECS (for supervisors)
  --ha-etcd URLS     high availability: run this on several hosts with the same settings;
                     an election per subscription on etcd (client URLs, comma-separated)
                     lets one instance connect, the others stand by (README)
  --ha-ttl SECS      the election's lease, default 10, at least 2: a crashed leader is
                     replaced within about that
  -h, --help         show this help
  -V, --version      show the version

Settings (environment, or the .env file; the environment wins):
  ZOOM_CLIENT_ID or CLIENT_USERNAME          OAuth client id (required)
  ZOOM_CLIENT_SECRET or CLIENT_PASSWORD      OAuth client secret (required)
  ZOOM_SUBSCRIPTION_ID or SUBSCRIPTION_ID    event subscription id (required unless
                                             ZOOM_WS_URL has ?subscriptionId=); several,
                                             comma-separated: one connection each
  ZOOM_ACCOUNT_ID                            use account_credentials (Server-to-Server apps)
  ZOOM_OAUTH_URL or OAUTH_URL                default https://zoom.us/oauth/token
  ZOOM_WS_URL or WS_URL                      default wss://ws.zoom.us/ws
  ZOOM_ALLOW_INSECURE                        1: allow http:// and ws:// to other hosts than
                                             this one (secrets then travel in clear)
  ZOOM_HEARTBEAT_INTERVAL                    seconds, default 30
  ZOOM_DEAD_PEER_TIMEOUT                     seconds, default 2 intervals + 5
  ZOOM_CONNECT_TIMEOUT                       seconds per connection step, default 10
  ZOOM_BACKOFF_INITIAL, ZOOM_BACKOFF_MAX     reconnect delays in seconds, default 1 and 60
  ZOOM_MAX_MESSAGE_SIZE                      bytes, default 1048576
  ZOOM_CA_FILE                               PEM file of CA certificates trusted besides the system's
  HTTPS_PROXY, https_proxy, ALL_PROXY        http://[user:password@]host[:port] for both connections
  NO_PROXY or no_proxy                       hosts reached directly: host[:port], .domain, * (comma list)
  ZOOM_WEBHOOK_SECRET_TOKEN                  signs --forward posts like Zoom's webhooks
  ZOOM_FORWARD_URL                           as --forward URL (kept out of the process list)
  ZOOM_SPOOL_DIR                             as --spool DIR (the option wins)
  ZOOM_SPOOL_MAX                             as --spool-max SIZE
  ZOOM_GRACE                                 as --grace SECS
  ZOOM_QUEUE_MAX                             as --queue SIZE
  ZOOM_STALL_TIMEOUT                         as --stall-timeout SECS
  ZOOM_METRICS_FILE                          as --metrics-file PATH
  ZOOM_GIVE_UP_AFTER                         as --give-up-after SECS
  ZOOM_HA_ETCD, ZOOM_HA_TTL                  as --ha-etcd URLS, --ha-ttl SECS
  ZOOM_HA_NAME                               this instance in logs and etcd (default host:pid)
  ZOOM_HA_PREFIX                             etcd key prefix, default /zoom-ws/
  NOTIFY_SOCKET, WATCHDOG_USEC               set by systemd: READY=1, STATUS=, WATCHDOG=1
  JOURNAL_STREAM                             set by systemd: <N> priorities, no timestamps
  RUST_LOG                                   log level on stderr, default info

Signals: SIGINT, SIGTERM and SIGHUP stop at once in every phase (the token request too):
the connection is closed with Zoom's closing handshake, then the outputs drain for --grace;
what is left stays in the journal, or is reported lost. With --ha-etcd, a leader first
gives its lease up and reads until its successor connects (at most 5 s); a second signal
stops at once. SIGUSR1 and SIGUSR2 are logged and ignored.

Exit status: 0 stopped as asked (signal, --max-events, stdout closed) with nothing lost,
4 stopped as asked but events were dropped or lost, 2 usage or configuration error,
3 credentials rejected by Zoom, 1 any other error.
";

/// The long options `--help` lists, for the nearest one to a misspelt flag.
pub fn long_options() -> Vec<&'static str> {
    USAGE
        .lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .filter_map(|line| line.split([' ', ',']).find(|w| w.starts_with("--")))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_long_options_are_read_from_the_text() {
        let options = super::long_options();
        for option in [
            "--max-events",
            "--forward",
            "--give-up-after",
            "--help",
            "--quiet",
        ] {
            assert!(options.contains(&option), "{option} in {options:?}");
        }
        assert!(
            options.iter().all(|o| o
                .bytes()
                .skip(2)
                .all(|b| b.is_ascii_lowercase() || b == b'-')),
            "{options:?}"
        );
    }
}
