//! Ports for the servers a test starts itself (HAProxy, Redis, moto,
//! Prometheus, an OIDC provider, `p360 serve` slots started by a hook).
//! Shared by the test suites of every crate (the deploy and landing-lambda
//! suites include this file with `#[path]`).
//!
//! A port is picked some time before the server binds it, so two things must
//! not take it in between:
//! - the kernel, for an outbound connection or a port-0 bind: ports come from
//!   below its ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999
//!   by default), where it never hands any out;
//! - another test process picking the same port: each pick is reserved with a
//!   lock on a file named after it, held until this process exits (nextest
//!   runs every test in a process of its own), and started from an offset of
//!   this process's own.
#![allow(dead_code)]

use std::fs::{File, TryLockError};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;

/// The lowest port handed out.
const LOW: u16 = 20_000;

/// The reservations of this process: each file stays locked until exit.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A port below the ephemeral range that nothing listens on, reserved for
/// this process (no other test process gets it while this one runs).
pub fn free_port() -> u16 {
    let (start, end) = test_port_range();
    let span = u32::from(end - start);
    let offset = per_process_offset() % span;
    let dir = lock_dir();
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..span {
        let port = start + ((offset + i) % span) as u16;
        let reservation = match reserve(dir.as_ref(), port) {
            Reserved::Ours(file) => Some(file),
            Reserved::Taken => continue,
            // No lock directory (read-only /tmp?): the bind check alone.
            Reserved::Unavailable => None,
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            held.extend(reservation);
            return port;
        }
    }
    panic!("no free port in {start}-{}", end - 1);
}

/// `[start, end)`: from 20000 up to the kernel's ephemeral range (or above
/// it, if it starts too low to leave room below).
pub fn test_port_range() -> (u16, u16) {
    let (lo, hi) = ephemeral_range();
    if lo >= LOW + 1_000 {
        (LOW, lo.min(32_768))
    } else if hi <= 64_535 {
        (hi + 1, 65_535)
    } else {
        panic!("the ephemeral port range {lo}-{hi} leaves no room for test ports")
    }
}

/// The kernel's ephemeral port range (inclusive).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(str::parse::<u16>);
            Some((it.next()?.ok()?, it.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// Where each process starts looking, so that concurrent processes rarely
/// contend for the same locks.
fn per_process_offset() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    std::process::id().wrapping_mul(2_654_435_761) ^ nanos
}

enum Reserved {
    Ours(File),
    Taken,
    Unavailable,
}

fn lock_dir() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("p360-test-ports");
    std::fs::create_dir_all(&dir).ok()?;
    // Shared by every user running tests on the machine.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
    Some(dir)
}

fn reserve(dir: Option<&PathBuf>, port: u16) -> Reserved {
    let Some(dir) = dir else {
        return Reserved::Unavailable;
    };
    let path = dir.join(port.to_string());
    // (Read-only will do for a file another user created: flock needs no write.)
    let Ok(file) = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .or_else(|_| File::open(&path))
    else {
        return Reserved::Unavailable;
    };
    match file.try_lock() {
        Ok(()) => Reserved::Ours(file),
        Err(TryLockError::WouldBlock) => Reserved::Taken,
        Err(TryLockError::Error(_)) => Reserved::Unavailable,
    }
}
