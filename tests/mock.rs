//! The mock Zoom for the integration tests: the library's own (`src/testing`, the `testing`
//! feature's `zoom_ws::testing`, compiled in here by path so that the tests need no feature),
//! plus the tests' helpers: a watchdog, a client on a thread, the test CA and a proxy.
#![allow(dead_code, unused_imports)]

#[path = "../src/testing/mod.rs"]
mod engine;
pub use engine::{
    Action, HEARTBEAT_ACK, Plan, TokenAnswer, TokenRequest, event_json, frame, message_frame,
    text_frame,
};

#[path = "mock/harness.rs"]
mod harness;
pub use harness::*;
#[path = "mock/net.rs"]
pub mod net;

/// The mock, started or the test fails.
pub struct MockZoom(engine::MockZoom);

impl MockZoom {
    pub fn start() -> MockZoom {
        MockZoom(engine::MockZoom::start().expect("mock Zoom on 127.0.0.1"))
    }

    pub fn start_tls(identity: native_tls::Identity) -> MockZoom {
        MockZoom(engine::MockZoom::start_tls(identity).expect("mock Zoom with TLS"))
    }
}

impl std::ops::Deref for MockZoom {
    type Target = engine::MockZoom;
    fn deref(&self) -> &engine::MockZoom {
        &self.0
    }
}
