//! `p360 deploy drill`: HAProxy in front of real `p360 serve` instances under
//! steady load; a good rollout promoted with no failed request, a faulty green
//! (`P360_FAULTS__ERROR_RATE`) rolled back by itself, traffic back on blue
//! within 5 s of the trigger — while an independent client's requests through
//! the frontend during the good rollout all succeed.

mod common;

use std::io::BufRead;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    // An independent client, counting only while the good rollout runs.
    let in_good = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client = {
        let (in_good, done, sent, failed) =
            (in_good.clone(), done.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{port}/openapi.json");
            while !done.load(Ordering::Relaxed) {
                if in_good.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let ok =
                        matches!(http.get(&url).send().await, Ok(r) if r.status().is_success());
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let lines = {
        let in_good = in_good.clone();
        tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line == "== good rollout" {
                    in_good.store(true, Ordering::Relaxed);
                }
                if line == "== good rollout done" {
                    in_good.store(false, Ordering::Relaxed);
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
    assert!(field("rollback_s").parse::<f64>().unwrap() < 5.0);
    assert!(
        field("bad_failed").parse::<u64>().unwrap() > 0,
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
