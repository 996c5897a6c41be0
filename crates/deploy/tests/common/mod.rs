//! What the deploy crate's test suites share: child processes stopped when
//! dropped, and free ports for the servers they start.
#![allow(dead_code)]

use std::process::Child;

/// Free ports below the kernel's ephemeral range, reserved across test
/// processes: the same picker as the platform's tests.
#[path = "../../../p360/tests/common/ports.rs"]
mod ports;
pub use ports::free_port;

/// A child process (HAProxy, moto_server, Prometheus), killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
