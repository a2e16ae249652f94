//! A small, synchronous client for Zoom's WebSocket event subscriptions.
//!
//! One blocking `ureq` call fetches an OAuth token, one blocking `tungstenite` socket receives the
//! events, and a single loop drives everything: read with a timeout, send a heartbeat whenever the
//! interval has passed, hand each event to your closure. No async runtime and no threads of its
//! own (a host's address is looked up on a short-lived thread, so that the lookup is bounded by
//! [`Config::connect_timeout`]).
//!
//! ```no_run
//! let config = zoom_ws::Config::from_env()?;      // ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, …
//! let mut client = zoom_ws::Client::new(config)?;
//! let stop = client.stop_handle();                 // Send + Clone: call stop() from anywhere
//! client.run(|event: &zoom_ws::Event| {            // blocks until stopped or a fatal error
//!     println!("{} {}", event.name(), event.payload_json());
//! })?;
//! # drop(stop);
//! # Ok::<(), zoom_ws::Error>(())
//! ```
//!
//! # What `run` does for you
//!
//! - **Heartbeats** (`{"module":"heartbeat"}`) every [`Config::heartbeat_interval`] (30 s), on time
//!   whether the socket is idle or busy.
//! - **Reconnects** after any failure, with exponential back-off and jitter ([`Backoff`]); at once
//!   after a connection that had been healthy.
//! - **Renews the token** shortly before it expires, and at once when Zoom says it is invalid.
//! - **Detects dead peers**: nothing received for [`Config::effective_dead_peer_timeout`] drops
//!   the socket.
//! - **Skips bad frames** (logged and counted in [`Stats`]) and never panics on input.
//! - **Reports gaps**: [`Client::on_state`] tells you when you were disconnected, so you can
//!   reconcile through Zoom's REST API (Zoom does not replay missed events).
//! - **Names a likely cause** when connections keep ending after the same quiet time, shorter
//!   than the heartbeat interval: an idle timeout in a proxy, NAT or load balancer in between.
//!
//! Your closure runs on that same loop: it must return well within the heartbeat interval. A
//! call that takes longer than a quarter of it is logged and counted
//! ([`StatsSnapshot::slow_callbacks`]); hand slow work to a thread of yours through a bounded
//! channel (`examples/bounded_channel.rs`). Read a payload into your own type with
//! [`Event::payload_as`].
//!
//! # From events to action
//!
//! - [`EventFilter`]: keep only some event types (`meeting.*`, `*.created`).
//! - [`Dedupe`]: with several subscriptions (one [`Client`] each, sharing one [`TokenSource`]
//!   through [`Client::with_tokens`]), drop the copies of an event Zoom delivers on more than one.
//! - `webhook` (the cargo feature of that name): sign an event the way Zoom signs its webhooks,
//!   and post it to an existing webhook handler (`webhook::Forwarder`, blocking, no threads).
//!
//! # Errors
//!
//! `run` returns only what retrying cannot fix: [`Error::Config`] (a setting is wrong; the message
//! names it) and [`Error::Credentials`] (Zoom refused the client id or secret). Everything else is
//! logged and retried.
//!
//! # Logging and secrets
//!
//! Logs go through the `log` crate: state changes at `info`, skipped frames at `warn`, details at
//! `debug` (heartbeat round-trip times among them). The client secret, the access token and the socket URL never appear in a log line, an
//! error or `Debug` output. Two dependencies print secrets at `trace` (see [`logging`]); wrap your
//! logger in [`logging::SafeLogger`] if you enable `trace` for them. (The `zoom-ws` command line,
//! a package of its own, compiles `trace` records out of its release builds; this library leaves
//! that choice to your binary, as the `log` crate advises.)

// No unsafe code; the `testing` feature's mock alone resets a connection through libc.
#![cfg_attr(not(feature = "testing"), forbid(unsafe_code))]
#![cfg_attr(feature = "testing", deny(unsafe_code))]
#![warn(missing_docs, unreachable_pub)]

// Layers, bottom up; a file uses only the ones above it in this list.
mod error;
mod escape;
mod json;
mod secret;
mod skip;
mod url;

mod backoff;
mod proxy;
mod trust;

#[doc(hidden)]
pub mod check;
mod config;

mod auth;
mod http;
mod net;

mod event;
pub mod protocol;
mod read_timer;
mod reconnect;
mod session;

mod gate;

mod client;
mod state;
mod stats;
mod stop;

mod dedupe;
mod filter;
#[cfg(feature = "webhook")]
mod hmac;
pub mod logging;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "webhook")]
pub mod webhook;

// The mock (src/testing) names the crate `zoom_ws`, as the tests that compile it in do.
#[cfg(feature = "testing")]
extern crate self as zoom_ws;

pub use auth::{Token, TokenSource};
pub use backoff::Backoff;
pub use client::Client;
pub use config::{Config, DEFAULT_OAUTH_URL, DEFAULT_WS_URL};
pub use dedupe::Dedupe;
pub use error::{Cause, Error, Phase, Result};
pub use event::Event;
pub use filter::EventFilter;
pub use proxy::ProxyConfig;
pub use secret::Secret;
pub use skip::Skip;
pub use state::StateChange;
pub use stats::{Stats, StatsSnapshot};
pub use stop::StopHandle;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
