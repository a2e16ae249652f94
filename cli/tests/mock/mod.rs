//! The library's mock Zoom (`tests/mock` at the repository's root), plus the helpers that run this
//! package's binary against it.
#![allow(dead_code, unused_imports)]

#[path = "../../../tests/mock.rs"]
mod zoom;
pub use zoom::*;

mod process;
pub use process::*;
