//! The HAProxy traffic backend against a real HAProxy (Debian's `haproxy`),
//! splitting a frontend between two real HTTP servers.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deploy::{Haproxy, TrafficBackend, Weights};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
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

/// `haproxy` on PATH, else Debian's /usr/sbin/haproxy (sbin is not on
/// every user's PATH).
fn haproxy_bin() -> String {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("haproxy").is_file()))
        .filter(|found| *found)
        .map(|_| "haproxy".to_string())
        .unwrap_or_else(|| "/usr/sbin/haproxy".to_string())
}

/// An HTTP server answering its colour.
async fn colour(name: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { name }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn split(client: &reqwest::Client, front: &str, n: usize) -> (usize, usize) {
    let (mut blue, mut green) = (0, 0);
    for _ in 0..n {
        match client
            .get(front)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .as_str()
        {
            "blue" => blue += 1,
            "green" => green += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    (blue, green)
}

#[tokio::test]
async fn weights_move_traffic_between_blue_and_green() {
    let (blue, green) = (colour("blue").await, colour("green").await);
    let (front, admin) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("p360-haproxy-{}-{front}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n  maxconn 256\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             frontend fe\n  bind 127.0.0.1:{front}\n  default_backend app\n\
             backend app\n  balance roundrobin\n\
               server blue 127.0.0.1:{blue} weight 100\n  server green 127.0.0.1:{green} weight 0\n"
        ),
    )
    .unwrap();
    let _haproxy = Proc(
        Command::new(haproxy_bin())
            .args(["-db", "-f", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (Debian package haproxy)"),
    );
    let lb = Haproxy {
        admin: format!("127.0.0.1:{admin}"),
        backend: "app".into(),
        blue: "blue".into(),
        green: "green".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lb.weights().await.is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{front}/");

    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);
    assert_eq!(split(&client, &url, 40).await, (40, 0));

    lb.set_weights(Weights::green(25).unwrap()).await.unwrap();
    assert_eq!(
        lb.weights().await.unwrap(),
        Weights {
            blue: 75,
            green: 25
        }
    );
    let (b, g) = split(&client, &url, 400).await;
    assert!(
        (70..=130).contains(&g),
        "25 % of 400 to green, got {g} (blue {b})"
    );

    lb.set_weights(Weights::green(100).unwrap()).await.unwrap();
    assert_eq!(split(&client, &url, 40).await, (0, 40), "all green");
    lb.set_weights(Weights::ALL_BLUE).await.unwrap();
    assert_eq!(
        split(&client, &url, 40).await,
        (40, 0),
        "back to blue at once"
    );

    assert!(Weights::green(101).is_err());
    let wrong = Haproxy {
        backend: "nope".into(),
        ..lb.clone()
    };
    let err = wrong.set_weights(Weights::ALL_BLUE).await.unwrap_err();
    assert!(format!("{err:#}").contains("HAProxy"), "{err:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
