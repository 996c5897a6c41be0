//! `p360 deploy drill`: HAProxy in front of real `p360 serve` instances under
//! steady load; a good rollout promoted with no failed request, a faulty green
//! (`P360_FAULTS__ERROR_RATE`) rolled back by itself, traffic back on blue
//! within 5 s of the trigger and users seeing failures for less than 5 s from
//! the faulty green's first traffic — while an independent client's requests
//! through the frontend during the good rollout all succeed. HAProxy runs
//! without retries, as the ALB does.

mod common;

use std::io::BufRead;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn the_drill_promotes_a_good_green_and_rolls_back_a_faulty_one() {
    let port = free_port();
    let started = Instant::now();
    let mut child = p360(&[
        "deploy",
        "drill",
        "--frontend",
        &format!("127.0.0.1:{port}"),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn p360 deploy drill");
    let stdout = child.stdout.take().unwrap();
    // An independent client: counting while the good rollout runs, and
    // noting its last failure while the bad one runs.
    let in_good = Arc::new(AtomicBool::new(false));
    let in_bad = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let last_bad_failure: Arc<Mutex<Option<Instant>>> = Arc::default();
    let faulty_from: Arc<Mutex<Option<Instant>>> = Arc::default();
    let client = {
        let (in_good, in_bad, done, sent, failed, last_bad_failure) = (
            in_good.clone(),
            in_bad.clone(),
            done.clone(),
            sent.clone(),
            failed.clone(),
            last_bad_failure.clone(),
        );
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{port}/openapi.json");
            while !done.load(Ordering::Relaxed) {
                let (good, bad) = (
                    in_good.load(Ordering::Relaxed),
                    in_bad.load(Ordering::Relaxed),
                );
                if good || bad {
                    let ok =
                        matches!(http.get(&url).send().await, Ok(r) if r.status().is_success());
                    if good {
                        sent.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if !ok {
                        *last_bad_failure.lock().unwrap() = Some(Instant::now());
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let lines = {
        let (in_good, in_bad, faulty_from) = (in_good.clone(), in_bad.clone(), faulty_from.clone());
        tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                match line.as_str() {
                    "== good rollout" => in_good.store(true, Ordering::Relaxed),
                    "== good rollout done" => in_good.store(false, Ordering::Relaxed),
                    "== bad rollout done" => in_bad.store(false, Ordering::Relaxed),
                    l if l.starts_with("== bad rollout") => in_bad.store(true, Ordering::Relaxed),
                    // The faulty green's first traffic.
                    l if in_bad.load(Ordering::Relaxed) && l.starts_with("  weights:") => {
                        faulty_from.lock().unwrap().get_or_insert_with(Instant::now);
                    }
                    _ => {}
                }
                lines.push(line);
            }
            lines
        })
    };
    let lines = tokio::time::timeout(Duration::from_secs(110), lines)
        .await
        .expect("the drill ends within 2 minutes")
        .unwrap();
    done.store(true, Ordering::Relaxed);
    client.await.unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!("{}\n{stderr}", lines.join("\n"));
    assert!(status.success(), "the drill failed");
    assert!(started.elapsed() < Duration::from_secs(120));

    let last = lines.last().unwrap();
    let field = |k: &str| {
        last.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing from {last}"))
            .to_string()
    };
    assert_eq!(field("good_failed"), "0");
    assert!(field("good_rollout_s").parse::<f64>().unwrap() < 30.0);
    assert_eq!(field("bad_rolled_back"), "true");
    assert_eq!(field("bad_trigger"), "error_rate");
    // Rollback time as users see it: the drill's own load, and this client.
    assert!(field("rollback_controller_s").parse::<f64>().unwrap() < 5.0);
    assert!(field("rollback_client_s").parse::<f64>().unwrap() < 5.0);
    let from = faulty_from
        .lock()
        .unwrap()
        .expect("the bad rollout shifted traffic");
    if let Some(last) = *last_bad_failure.lock().unwrap() {
        let seen = last.saturating_duration_since(from);
        eprintln!("the independent client saw failures for {seen:?}");
        assert!(seen < Duration::from_secs(5), "{seen:?}");
    }
    // The trigger fires on the first failure green answers; that one
    // request went to the drill's load or to this client.
    assert!(
        field("bad_failed").parse::<u64>().unwrap() > 0
            || last_bad_failure.lock().unwrap().is_some(),
        "the faults were real"
    );
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(
        sent > 50,
        "the independent client ran during the good rollout ({sent})"
    );
    assert_eq!(
        failed, 0,
        "{failed} of {sent} independent requests failed during the good rollout"
    );
}
