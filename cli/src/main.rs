//! `zoom-ws`: Zoom events as JSON lines on stdout, logs on stderr.
//!
//! Wiring only. Each room has one job:
//!
//! - [`args`]: the command line; [`help`]: the `--help` text;
//! - [`settings`]: the environment and the `.env` file (read by [`dotenv`]);
//! - [`logging`]: stderr, with a UTC timestamp; [`signals`]: SIGINT/SIGTERM and a closed stdout
//!   (Unix);
//! - [`run`]: one client per subscription, each on its own thread;
//! - [`sink`]: filter, dedupe, the line on stdout, the hand-off to the [`outputs`] (`--exec`,
//!   `--forward`);
//! - [`exit`]: how a run ends, as an exit status.

#![deny(unsafe_code)]

mod args;
mod build_info;
mod dotenv;
mod exit;
mod help;
mod log_format;
mod logging;
mod metrics;
mod notify;
mod outputs;
mod run;
mod settings;
mod signals;
mod sink;
mod startup;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            print!("{}", help::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("zoom-ws {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("zoom-ws: {}", zoom_ws::check::escaped(&message));
            return ExitCode::from(exit::USAGE);
        }
    };
    logging::init();
    match run::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => exit.report(),
    }
}
