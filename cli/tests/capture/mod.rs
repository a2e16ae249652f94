//! The library's capturing server (`tests/capture` at the repository's root).
#![allow(dead_code)]

#[path = "../../../tests/capture/mod.rs"]
mod server;
pub use server::*;
