//! `p360 dr drill` at a small scale (issue 20): the primary killed hard
//! after 40 s of writes through the API, restored from its pgBackRest
//! repository into a new data dir and serving again; the machine line
//! reports RPO ≤ 60 s, RTO under 2 minutes and the audit log verified.

mod common;

use common::*;

#[test]
fn the_drill_loses_the_primary_and_recovers_within_its_targets() {
    let tmp = TempDir::new("dr");
    // Short: the unix socket of DATA/restored/postgres/run must fit in 107 bytes.
    let data = tmp.path().join("d");
    let out = p360(&[
        "dr",
        "drill",
        "--data-dir",
        data.to_str().unwrap(),
        "--seconds",
        "40",
        "--rto-target-s",
        "120",
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let drill: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("drill:") || l.starts_with("error"))
        .collect();
    assert!(out.status.success(), "{stdout}\n{}", drill.join("\n"));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("rpo_s="))
        .unwrap_or_else(|| panic!("{stdout}"));
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            .to_string()
    };
    let rpo: f64 = field("rpo_s").parse().unwrap();
    let rto: f64 = field("rto_s").parse().unwrap();
    let acknowledged: u64 = field("acknowledged").parse().unwrap();
    let missing: u64 = field("missing").parse().unwrap();
    assert!(rpo <= 60.0, "{line}");
    assert!(rto < 120.0, "{line}");
    assert!(acknowledged > 50, "the writers wrote: {line}");
    assert!(missing <= acknowledged, "{line}");
    // 40 s of writes outlast the 30 s archive timeout: some of them are back.
    assert!(missing < acknowledged, "{line}");
    assert_eq!(field("audit_ok"), "true", "{line}");
    // Lost writes leave chains that end early (said as such when the
    // checkpoint taken 3 s before the kill is ahead of them), never "tampered".
    assert!(
        !drill.iter().any(|l| l.contains("tampered")),
        "{}",
        drill.join("\n")
    );
}
