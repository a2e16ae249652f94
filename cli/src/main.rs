//! `zoom-ws`: Zoom events as JSON lines on stdout, logs on stderr.
//!
//! Wiring only. Each room has one job:
//!
//! - [`args`]: the command line; [`help`]: the `--help` text;
//! - [`settings`]: the environment and the `.env` file (read by [`dotenv`]);
//! - [`logging`]: stderr, with a UTC timestamp; [`signals`]: SIGINT/SIGTERM/SIGHUP and a
//!   closed stdout (Unix);
//! - [`run`]: one client per subscription, each on its own thread;
//! - [`sink`]: filter, dedupe, the hand-off to the [`feed`]s;
//! - [`feed`]: each output's supply, a memory queue or a cursor of the [`journal`] (`--spool`);
//! - [`outputs`]: stdout, `--exec`, `--forward`, a worker thread each; the drain and summary;
//! - [`health`]: each connection's state; [`service`]: systemd notifications and metrics;
//! - [`exit`]: how a run ends, as an exit status.
//!
//! The journal, the relays (`--exec`, `--forward`) and the service extras are cargo features,
//! all on by default; without them this is the card's program: events to stdout.

#![deny(unsafe_code)]

mod args;
mod build_info;
mod dotenv;
mod exit;
mod feed;
#[cfg(feature = "ha")]
mod ha;
mod health;
mod help;
#[cfg(journal)]
#[allow(unsafe_code)]
mod journal;
mod log_format;
mod logging;
#[cfg(feature = "service")]
mod metrics;
mod names;
#[cfg(feature = "service")]
mod notify;
mod outputs;
mod run;
#[cfg(feature = "service")]
mod service;
mod settings;
mod signals;
mod sink;
mod startup;
mod sync;

use std::process::ExitCode;

/// glibc's allocator held to what an idle client uses (issue 17: at most 2 MiB of anonymous
/// memory over TLS with the system's roots; README, Performance, has the measurements). The
/// rest of an idle client's heap is OpenSSL's (its context and the parsed roots, 1.2 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod malloc {
    /// One arena for every thread. glibc gives each thread that allocates an arena of its own,
    /// and what a thread freed stays touched in its arena: over our six threads, most of which
    /// allocate a few bytes, that is 0.1 MiB idle. Under a flood it costs nothing we measured:
    /// events are allocated on the socket's thread and freed on the output's, which locks the
    /// socket thread's arena either way.
    pub fn one_arena() {
        // SAFETY: sets an allocator parameter; no pointer is involved.
        if unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } != 1 {
            log::debug!("mallopt(M_ARENA_MAX) refused; one arena per thread");
        }
    }

    /// Hands the pages freed by a connection's handshakes (TLS, token request) back to the
    /// kernel; glibc keeps those in the middle of the heap otherwise. Once per connection.
    pub fn trim() {
        // SAFETY: no argument but a size; the return only says whether anything was released.
        unsafe { libc::malloc_trim(0) };
    }
}

/// Other allocators return what they free on their own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod malloc {
    pub fn one_arena() {}
    pub fn trim() {}
}

use args::Command;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            print!("{}", help::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("{}", build_info::version_text());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("zoom-ws: {}", zoom_ws::check::escaped(&message));
            return ExitCode::from(exit::USAGE);
        }
    };
    logging::init();
    malloc::one_arena();
    match run::run(*args) {
        Ok(run::Ended::Clean) => ExitCode::SUCCESS,
        Ok(run::Ended::Lost) => ExitCode::from(exit::LOST),
        Err(exit) => exit.report(),
    }
}
