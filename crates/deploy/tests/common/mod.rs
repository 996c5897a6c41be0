//! What the deploy crate's test suites share: child processes stopped when
//! dropped, and free ports for the servers they start.
#![allow(dead_code)]

use std::process::Child;

/// A child process (HAProxy, moto_server, Prometheus), killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port in 20000-29999 (below Linux's ephemeral range, so that other
/// tests' port-0 binds cannot take it between the check and the bind).
pub fn free_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        ^ std::process::id().wrapping_mul(2_654_435_761);
    (0..10_000u32)
        .map(|i| 20_000 + ((seed.wrapping_add(i.wrapping_mul(7919))) % 10_000) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}
