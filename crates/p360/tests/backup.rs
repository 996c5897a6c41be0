//! pgBackRest backups of the embedded cluster (issue 20), with the real
//! pgbackrest and PostgreSQL: point-in-time restore between two writes made
//! through the API, a restore refused over an existing cluster, a corrupted
//! backup file found by `p360 backup verify`, and a repository on S3
//! (moto, behind HAProxy for the TLS pgBackRest insists on).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

async fn add_advertiser(served: &Served, token: &str, name: &str) {
    let res = reqwest::Client::new()
        .post(served.url("/v1/advertisers"))
        .bearer_auth(token)
        .json(&json!({"name": name, "domain": format!("{}.example", name.to_lowercase().replace(' ', "-")), "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn advertiser_names(served: &Served, token: &str) -> Vec<String> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(served.url("/v1/advertisers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<String> = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Wait for the worker's schedule to take the first full backup (it does
/// as the server starts); `list` runs `p360 backup list`.
async fn scheduled_full_backup(list: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = list();
        if out.contains(" full ") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled backup: {out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn a_restore_to_a_time_between_two_writes_has_the_first_and_not_the_second() {
    let tmp = TempDir::new("pitr");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let repo = data.join("backup/repo");
    let served = Served::start(&data, &[]);
    let customer = served_tenant(&served, data_s, "acme").await;

    scheduled_full_backup(|| p360_ok(&["backup", "list", "--data-dir", data_s])).await;
    let out = p360_ok(&["backup", "now", "--full", "--data-dir", data_s]);
    assert!(out.contains("(full)"), "{out}");
    add_advertiser(&served, &customer, "Before Ltd").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_advertiser(&served, &customer, "After Ltd").await;
    // verify checks archiving first: it switches WAL segments and waits
    // until the one with both writes is in the repository.
    let out = p360_ok(&["backup", "verify", "--data-dir", data_s]);
    assert!(out.contains("backup verify ok"), "{out}");
    let list = p360_ok(&["backup", "list", "--data-dir", data_s]);
    assert_eq!(
        list.lines().filter(|l| l.contains(" full ")).count(),
        2,
        "the schedule's and ours: {list}"
    );
    assert!(
        list.contains("/objects — not in these backups"),
        "the list says where the files are: {list}"
    );
    drop(served);

    let restored = tmp.path().join("restored");
    let restored_s = restored.to_str().unwrap();
    let to = between.to_rfc3339();
    let out = p360_ok(&[
        "restore",
        "--data-dir",
        restored_s,
        "--repo",
        repo.to_str().unwrap(),
        "--to",
        &to,
    ]);
    let line = out.lines().last().unwrap();
    assert!(line.starts_with("restored backup="), "{out}");
    let recovered_to = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("recovered_to="))
        .unwrap();
    let recovered_to = chrono::DateTime::parse_from_rfc3339(recovered_to).unwrap();
    assert!(recovered_to <= between, "{out}");

    // Never over a cluster: the restored one is there now.
    let again = p360(&[
        "restore",
        "--data-dir",
        restored_s,
        "--repo",
        repo.to_str().unwrap(),
        "--latest",
    ])
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("is not empty"), "{err}");

    let check = p360_ok(&["restore-check", "--data-dir", restored_s]);
    assert!(check.contains("restore_check ok=true"), "{check}");
    let served = Served::start(&restored, &[]);
    let token = p360_ok(&[
        "token",
        "--data-dir",
        restored_s,
        "--tenant",
        "acme",
        "--role",
        "customer_admin",
    ]);
    assert_eq!(
        advertiser_names(&served, token.trim()).await,
        vec!["Before Ltd".to_string()]
    );
    drop(served);

    // One byte changed in one file of the backup: verify says so.
    let mut files = Vec::new();
    files_under(&repo.join("backup/p360"), &mut files);
    let victim = files
        .iter()
        .find(|p| {
            p.to_str().unwrap().contains("/pg_data/base/")
                && std::fs::metadata(p).unwrap().len() > 64
        })
        .expect("a backed-up relation file");
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[40] ^= 0xff;
    std::fs::write(victim, bytes).unwrap();
    let out = p360(&["backup", "verify", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("are damaged"), "{stderr}");
    assert!(stdout.contains("checksum invalid: 1"), "{stdout}");
}

/// moto's S3 over plain HTTP, and HAProxy in front of it terminating TLS
/// with a certificate made for the test.
struct TlsMoto {
    moto: Child,
    haproxy: Child,
    endpoint: String,
    _dir: TempDir,
}

impl TlsMoto {
    async fn start() -> TlsMoto {
        let dir = TempDir::new("s3-tls");
        let (http, https) = (free_port(), free_port());
        let pem = dir.path().join("s3.pem");
        let key = dir.path().join("s3.key");
        let crt = dir.path().join("s3.crt");
        let ok = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "openssl req");
        let mut both = std::fs::read(&crt).unwrap();
        both.extend(std::fs::read(&key).unwrap());
        std::fs::write(&pem, both).unwrap();
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
                 frontend s3\n  bind 127.0.0.1:{https} ssl crt {}\n  default_backend moto\n\
                 backend moto\n  server moto 127.0.0.1:{http}\n",
                pem.display()
            ),
        )
        .unwrap();
        let moto = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &http.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (PyPI moto[server])");
        let haproxy = Command::new(deploy::haproxy_program().unwrap())
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy");
        let endpoint = format!("https://127.0.0.1:{https}");
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match client.put(format!("{endpoint}/p360-backups")).send().await {
                Ok(r) if r.status().is_success() => break,
                _ => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "moto behind HAProxy did not start"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        TlsMoto {
            moto,
            haproxy,
            endpoint,
            _dir: dir,
        }
    }
}

impl Drop for TlsMoto {
    fn drop(&mut self) {
        for c in [&mut self.haproxy, &mut self.moto] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test]
async fn a_backup_on_s3_restores_into_a_new_data_dir() {
    let s3 = TlsMoto::start().await;
    let env = [
        ("P360_BACKUP__REPO", "s3".to_string()),
        ("P360_BACKUP__S3_VERIFY_TLS", "false".to_string()),
        ("P360_STORAGE__S3_BUCKET", "p360-backups".to_string()),
        ("P360_STORAGE__S3_ENDPOINT", s3.endpoint.clone()),
        ("P360_STORAGE__S3_REGION", "us-east-1".to_string()),
        ("P360_STORAGE__S3_ACCESS_KEY_ID", "testing".to_string()),
        (
            "P360_STORAGE__S3_SECRET_ACCESS_KEY",
            "not-in-any-file".to_string(),
        ),
    ];
    let run = |args: &[&str]| {
        let out = p360(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "p360 {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tmp = TempDir::new("s3-backup");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let served = Served::start_env(&data, &[], &env);
    served_tenant(&served, data_s, "acme").await;
    scheduled_full_backup(|| run(&["backup", "list", "--data-dir", data_s])).await;
    let out = run(&["backup", "now", "--data-dir", data_s]);
    assert!(
        out.contains("(diff)") && out.contains("s3://p360-backups/pgbackrest"),
        "{out}"
    );
    drop(served);
    let list = run(&["backup", "list", "--data-dir", data_s]);
    assert!(list.contains(" full ") && list.contains(" diff "), "{list}");
    assert!(
        list.contains("s3://p360-backups — the bucket's versioning"),
        "{list}"
    );

    // The secret reached pgBackRest through its environment only.
    let mut files = Vec::new();
    files_under(&data.join("backup"), &mut files);
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.contains("not-in-any-file"),
            "{} holds the secret",
            f.display()
        );
    }

    let restored = tmp.path().join("restored");
    let restored_s = restored.to_str().unwrap();
    let out = run(&["restore", "--data-dir", restored_s, "--latest"]);
    assert!(
        out.lines().last().unwrap().starts_with("restored backup="),
        "{out}"
    );
    let check = run(&["restore-check", "--data-dir", restored_s]);
    assert!(check.contains("restore_check ok=true"), "{check}");
    let tenants = check.lines().find(|l| l.starts_with("tenants ")).unwrap();
    assert_eq!(tenants.split_whitespace().last(), Some("1"), "{check}");
}
