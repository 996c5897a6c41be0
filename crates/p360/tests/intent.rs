//! Company Surge through the API: a week ingested, the same file again
//! unchanged, a corrected file replacing the week, a broken file refused
//! with where it broke while the week stays, and a company's intent with
//! its trend.

mod common;

use std::io::Write;

use common::*;
use serde_json::{Value, json};

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

/// A week in which `acme.example` scores `acme` on Firewalls and 55 on
/// Kubernetes, and others score too.
fn week_file(acme: u8) -> String {
    let mut f = HEADER.to_string();
    for (name, domain, topic, category, score) in [
        (
            "Acme GmbH",
            "www.acme.example",
            "Firewalls",
            "Security",
            acme,
        ),
        ("Acme GmbH", "www.acme.example", "Kubernetes", "Cloud", 55),
        (
            "Acme GmbH",
            "www.acme.example",
            "Zero Trust",
            "Security",
            77,
        ),
        ("Globex GmbH", "globex.example", "Firewalls", "Security", 64),
        (
            "Unknown Ltd",
            "unknown-co.example",
            "Kubernetes",
            "Cloud",
            90,
        ),
    ] {
        f.push_str(&format!(
            "{name},{domain},Small (10 - 49 Employees),Software,{category},{topic},{score},B,,,,Germany\n"
        ));
    }
    f
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

async fn upload(p: &Platform, token: &str, week: &str, body: Vec<u8>) -> (u16, Value) {
    p.post_csv(&format!("/v1/intent/import?week={week}"), token, body)
        .await
}

#[tokio::test]
async fn weeks_are_ingested_once_corrected_whole_and_read_per_company() {
    let p = Platform::start().await;
    p.sample_universe().await;
    let admin = p.admin();

    // A Thursday names the week of its Monday.
    let (s, first) = upload(&p, &admin, "2026-11-26", week_file(72).into_bytes()).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["outcome"], "ingested");
    let f = &first["file"];
    assert_eq!(
        (
            &f["week"],
            &f["rows_read"],
            &f["companies"],
            &f["topics"],
            &f["scores"],
            &f["unknown_domains"]
        ),
        (
            &json!("2026-11-23"),
            &json!(5),
            &json!(3),
            &json!(3),
            &json!(5),
            &json!(1)
        ),
        "{first}"
    );
    // Counted, not added: the universe is staff's unless configured.
    assert_eq!(first["companies_added"], 0);
    let (s, _) = p.get("/v1/companies/unknown-co.example", &admin).await;
    assert_eq!(s, 404);
    // The same file again is the same week.
    let (s, again) = upload(&p, &admin, "2026-11-23", week_file(72).into_bytes()).await;
    assert_eq!(
        (s, &again["outcome"]),
        (200, &json!("unchanged")),
        "{again}"
    );
    // A corrected file (gzip this time) replaces the week.
    let (s, fixed) = upload(&p, &admin, "2026-11-23", gzip(&week_file(80))).await;
    assert_eq!((s, &fixed["outcome"]), (200, &json!("replaced")), "{fixed}");
    assert_eq!(fixed["replaced"], f["checksum"]);
    // A file cut short is refused whole, saying where; the week stays.
    let broken = gzip(&week_file(20));
    let (s, problem) = upload(
        &p,
        &admin,
        "2026-11-23",
        broken[..broken.len() - 10].to_vec(),
    )
    .await;
    assert_eq!(s, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("line ") && detail.contains("cut short or corrupt"),
        "{detail}"
    );
    let mut cut = week_file(20);
    cut.truncate(cut.len() - 20);
    let (s, problem) = upload(&p, &admin, "2026-11-23", cut.into_bytes()).await;
    assert_eq!(s, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 6 (byte "),
        "{problem}"
    );
    // Only platform admins load intent data.
    let ops = p.token("ad_ops", None, "ops@agency.test");
    let (s, _) = upload(&p, &ops, "2026-11-23", week_file(1).into_bytes()).await;
    assert_eq!(s, 403);

    // The next week: Acme stops surging on Firewalls.
    let (s, _) = upload(&p, &admin, "2026-11-30", week_file(30).into_bytes()).await;
    assert_eq!(s, 200);
    p.tenant("acme").await;
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let (s, weeks) = p.get("/v1/intent/weeks", &viewer).await;
    assert_eq!(s, 200, "{weeks}");
    let listed: Vec<(&str, &str)> = weeks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["week"].as_str().unwrap(), w["checksum"].as_str().unwrap()))
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1],
        ("2026-11-23", fixed["file"]["checksum"].as_str().unwrap())
    );

    let (s, intent) = p
        .get("/v1/companies/https://www.acme.example/intent", &viewer)
        .await;
    assert_eq!(s, 404, "a URL is not a path segment: {intent}");
    let (s, intent) = p
        .get("/v1/companies/shop.acme.example/intent", &viewer)
        .await;
    assert_eq!(s, 200, "{intent}");
    assert_eq!(intent["week"], "2026-11-30");
    assert_eq!(
        intent["surging"],
        json!([{"topic": "Zero Trust", "category": "Security", "score": 77}])
    );
    assert_eq!(
        intent["trend"],
        json!([
            {"week": "2026-11-30", "surging_topics": 1, "highest_score": 77},
            {"week": "2026-11-23", "surging_topics": 2, "highest_score": 80},
        ])
    );
    let (_, low) = p
        .get("/v1/companies/acme.example/intent?min_score=50", &viewer)
        .await;
    assert_eq!(low["surging"].as_array().unwrap().len(), 2, "{low}");
    let (_, nobody) = p.get("/v1/companies/initech.example/intent", &viewer).await;
    assert_eq!(nobody["surging"], json!([]));
    assert_eq!(nobody["trend"][0]["highest_score"], Value::Null);

    let (s, topics) = p.get("/v1/intent/topics?q=SECUR", &viewer).await;
    assert_eq!(s, 200, "{topics}");
    let names: Vec<&str> = topics["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Firewalls", "Zero Trust"]);
    assert_eq!(topics["items"][0]["first_week"], "2026-11-23");
    assert_eq!(topics["items"][0]["last_week"], "2026-11-30");
}

#[tokio::test]
async fn configured_the_companies_a_file_names_join_the_universe() {
    let p = Platform::start_with(|c| c.bombora.create_unknown_companies = true).await;
    p.sample_universe().await;
    let admin = p.admin();
    let (s, done) = upload(&p, &admin, "2026-11-23", week_file(72).into_bytes()).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(
        (&done["file"]["unknown_domains"], &done["companies_added"]),
        (&json!(1), &json!(1))
    );
    let (s, c) = p.get("/v1/companies/unknown-co.example", &admin).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (&c["name"], &c["size"], &c["industry"], &c["country"]),
        (
            &json!("Unknown Ltd"),
            &json!("small"),
            &json!("Software"),
            &json!("Germany")
        ),
        "{c}"
    );
    // What staff loaded stays as it is.
    let (_, acme) = p.get("/v1/companies/acme.example", &admin).await;
    assert_eq!(acme["size"], "medium_large", "not the file's size: {acme}");
}

/// `p360 intent import FILE` refused (exit 1): what it said.
fn refused(file: &std::path::Path, data_dir: &str) -> String {
    let out = p360(&[
        "intent",
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        data_dir,
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn the_command_line_ingests_a_file_named_by_its_week() {
    let tmp = TempDir::new("intent");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    let file = tmp.path().join("Bombora_Surge_2026-12-02.csv.gz");
    std::fs::write(&file, gzip(&week_file(72))).unwrap();
    let file_s = file.to_str().unwrap();
    let gz = std::fs::read(&file).unwrap();
    let out = p360_ok(&["intent", "import", file_s, "--data-dir", data_s]);
    assert_eq!(
        out.trim(),
        "intent: week 2026-11-30 Ingested: 5 rows, 3 companies (3 unknown to the universe), \
         3 topics, 5 scores, 0 unusable domains, 0 duplicates"
    );
    let out = p360_ok(&["intent", "import", file_s, "--data-dir", data_s]);
    assert!(out.contains("2026-11-30 Unchanged"), "{out}");
    // The raw file is archived under its checksum (BLAKE3); nothing
    // half-written is left behind, whatever the outcome.
    let objects = data.join("objects/intent/surge");
    let archived =
        |bytes: &[u8]| std::fs::read(objects.join("raw").join(intent::file_checksum(bytes)));
    assert_eq!(archived(&gz).unwrap(), gz);
    let incoming = || {
        std::fs::read_dir(objects.join("incoming"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(incoming(), 0);
    // A plain file (read on both cores), then one cut mid-row: refused with
    // where it broke, the week before staying current.
    let plain = tmp.path().join("surge_2026-12-09.csv");
    std::fs::write(&plain, week_file(80)).unwrap();
    let import = |file: &std::path::Path, more: &[&str]| {
        let file = file.to_str().unwrap();
        p360_ok(&[&["intent", "import", file, "--data-dir", data_s], more].concat())
    };
    let out = import(&plain, &[]);
    assert!(out.contains("week 2026-12-07 Ingested: 5 rows"), "{out}");
    assert_eq!(
        archived(week_file(80).as_bytes()).unwrap(),
        week_file(80).into_bytes()
    );
    // The operator writes the file again where it was (the same inode, as
    // `curl -o` or a shell's `>` do): the archive keeps what was ingested.
    std::fs::write(&plain, week_file(81)).unwrap();
    assert_eq!(
        archived(week_file(80).as_bytes()).unwrap(),
        week_file(80).into_bytes()
    );
    // Handed over (`--move`): archived, and gone from where it was.
    let moved = tmp.path().join("surge_2026-12-23.csv");
    std::fs::write(&moved, week_file(85)).unwrap();
    let out = import(&moved, &["--move"]);
    assert!(out.contains("week 2026-12-21 Ingested: 5 rows"), "{out}");
    assert!(!moved.exists());
    assert_eq!(
        archived(week_file(85).as_bytes()).unwrap(),
        week_file(85).into_bytes()
    );
    let cut = week_file(90);
    let cut = &cut[..cut.trim_end().rfind(',').unwrap()];
    let broken = tmp.path().join("surge_2026-12-16.csv");
    std::fs::write(&broken, cut).unwrap();
    let stderr = refused(&broken, data_s);
    assert!(stderr.contains("line 6"), "{stderr}");
    assert!(
        archived(cut.as_bytes()).is_err(),
        "a refused file is not archived"
    );
    assert_eq!(incoming(), 0);
    let undated = tmp.path().join("surge.csv");
    std::fs::write(&undated, week_file(72)).unwrap();
    assert_eq!(
        refused(&undated, data_s).trim(),
        "error: surge.csv has no date in its name: say which week with --week YYYY-MM-DD"
    );
}
