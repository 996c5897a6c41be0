//! The company universe: importing it from files (an upsert with a report,
//! bad lines skipped by number, bad files refused whole) and reading it
//! through the API and the command line.

mod common;

use std::path::Path;

use accounts::companies::service::{ImportError, import};
use common::*;
use serde_json::Value;

/// Skipped lines as (number, reason).
fn lines(skipped: &[accounts::companies::SkippedLine]) -> Vec<(u64, &str)> {
    skipped
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect()
}

fn sample() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/companies.csv"))
        .unwrap()
}

#[tokio::test]
async fn the_universe_is_imported_as_an_upsert_and_read_by_any_form_of_a_domain() {
    let p = Platform::start().await;
    let mut conn = p.db.pool.acquire().await.unwrap();
    let first = import(&mut conn, &sample()).await.unwrap();
    assert_eq!((first.added, first.changed, first.unchanged), (50, 0, 0));
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    // The same file again changes nothing.
    let again = import(&mut conn, &sample()).await.unwrap();
    assert_eq!((again.added, again.changed, again.unchanged), (0, 0, 50));
    // A corrected file: one company changed, one added, bad lines skipped
    // with their numbers, the rest applied.
    let corrected = b"Website;Company Name;Industry\n\
        https://www.shop.acme.example/about;Acme Corporation;Software\n\
        newco.example;NewCo;Retail\n\
        co.uk;Nobody;\n\
        globex.example;;\n";
    let r = import(&mut conn, corrected).await.unwrap();
    assert_eq!((r.added, r.changed, r.unchanged), (1, 1, 0));
    assert_eq!(
        lines(&r.skipped),
        [
            (4, "domain: a public suffix, not a company's domain"),
            (5, "name: 1 to 300 characters")
        ]
    );
    // A file that is not a company CSV imports nothing.
    let refused = import(&mut conn, b"title,site\nAcme,acme.example\n").await;
    assert!(
        matches!(refused, Err(ImportError::File(ref e)) if e.line == 1),
        "{refused:?}"
    );
    drop(conn);

    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    p.tenant("acme").await;
    let (s, c) = p.get("/v1/companies/www.shop.ACME.example", &viewer).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["domain"], "acme.example");
    assert_eq!(c["name"], "Acme Corporation");
    assert_eq!(c["industry"], "Software");
    // Staff read it too, in no tenant.
    let (s, _) = p.get("/v1/companies/acme.example", &p.admin()).await;
    assert_eq!(s, 200);
    let (s, body) = p.get("/v1/companies/unknown.example", &viewer).await;
    assert_eq!(
        (s.as_u16(), body["detail"].as_str()),
        (404, Some("no company unknown.example"))
    );
    let (s, _) = p.get("/v1/companies/co.uk", &viewer).await;
    assert_eq!(s, 404);
    let res = p
        .client
        .get(p.app.url("/v1/companies"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Prefix search on domain or name, any case, paged by domain.
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["domain"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, page) = p.get("/v1/companies?q=ACM", &viewer).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(names(&page), ["acme.example"]);
    let (_, page) = p.get("/v1/companies?q=dunder%20m", &viewer).await;
    assert_eq!(names(&page), ["dundermifflin.example"]);
    let (_, page) = p.get("/v1/companies?q=%25", &viewer).await;
    assert!(
        names(&page).is_empty(),
        "a % is a character, not a wildcard"
    );
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let (s, page) = p
            .get(&format!("/v1/companies?limit=7{after}"), &viewer)
            .await;
        assert_eq!(s, 200, "{page}");
        all.extend(names(&page));
        match page["next_after"].as_str() {
            Some(a) => after = format!("&after={a}"),
            None => break,
        }
    }
    assert_eq!(all.len(), 51);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "by domain, no repeats");
    let (s, body) = p.get("/v1/companies?limit=101", &viewer).await;
    assert_eq!(s, 422, "{body}");
    // Text the database cannot hold is a field error, not a 500.
    let (s, body) = p.get("/v1/companies?q=a%00b&after=%00", &viewer).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn ip_ranges_replace_a_companys_ranges_and_never_overlap() {
    let p = Platform::start().await;
    let mut conn = p.db.pool.acquire().await.unwrap();
    import(&mut conn, &sample()).await.unwrap();
    let ranges = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/ip-ranges.csv"),
    )
    .unwrap();
    let r = accounts::ranges::service::import(&mut conn, &ranges)
        .await
        .unwrap();
    assert_eq!(
        (r.added, r.removed, r.unchanged),
        (6, 0, 0),
        "{:?}",
        r.skipped
    );
    let again = accounts::ranges::service::import(&mut conn, &ranges)
        .await
        .unwrap();
    assert_eq!((again.added, again.removed, again.unchanged), (0, 0, 6));

    // Acme's ranges are replaced by the file's; a range overlapping another
    // company's stored one, a company not in the universe and a malformed
    // line are skipped by number; nothing else changes.
    let file = b"domain,cidr,start_ip,end_ip\n\
        acme.example,198.51.100.0/27,,\n\
        acme.example,,198.51.100.60,198.51.100.70\n\
        nowhere.example,192.0.2.0/24,,\n\
        acme.example,,198.51.100.200,198.51.100.100\n";
    let r = accounts::ranges::service::import(&mut conn, file)
        .await
        .unwrap();
    assert_eq!((r.added, r.removed, r.unchanged), (1, 2, 0));
    assert_eq!(
        lines(&r.skipped),
        [
            (
                3,
                "198.51.100.60 – 198.51.100.70 overlaps a stored range of globex.example"
            ),
            (
                4,
                "no company nowhere.example in the universe (import it first)"
            ),
            (5, "198.51.100.200 comes after 198.51.100.100"),
        ]
    );
    let acme = accounts::ranges::store::of_company(&mut conn, "acme.example")
        .await
        .unwrap();
    let shown: Vec<String> = acme
        .iter()
        .map(|r| {
            format!(
                "{}-{}",
                accounts::ranges::address(&r.first),
                accounts::ranges::address(&r.last)
            )
        })
        .collect();
    assert_eq!(shown, ["198.51.100.0-198.51.100.31"]);
    let globex = accounts::ranges::store::of_company(&mut conn, "globex.example")
        .await
        .unwrap();
    assert_eq!(globex.len(), 1, "untouched");
    // The API shows a company's ranges: CIDR blocks where they are one,
    // else first-last.
    accounts::ranges::service::import(
        &mut conn,
        b"domain,cidr,start_ip,end_ip
acme.example,198.51.100.0/27,,
          acme.example,,198.51.100.33,198.51.100.40
acme.example,2001:db8:a::/48,,
",
    )
    .await
    .unwrap();
    p.tenant("acme").await;
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let (s, detail) = p.get("/v1/companies/www.acme.example", &viewer).await;
    assert_eq!(s, 200, "{detail}");
    assert_eq!(detail["domain"], "acme.example");
    assert_eq!(
        detail["ip_ranges"],
        serde_json::json!([
            "198.51.100.0/27",
            "198.51.100.33-198.51.100.40",
            "2001:db8:a::/48"
        ])
    );
    // A file that is not a range CSV changes nothing.
    let refused =
        accounts::ranges::service::import(&mut conn, b"domain,ip\nacme.example,1.2.3.4\n").await;
    assert!(
        matches!(refused, Err(ImportError::File(ref e)) if e.line == 1),
        "{refused:?}"
    );
}

/// Platform admins load the universe through the API too: the same report,
/// a 422 naming the line for a file that is not a company CSV, and an event
/// on the platform's audit chain; no one else may.
#[tokio::test]
async fn platform_admins_import_the_universe_through_the_api() {
    let p = Platform::start().await;
    let send = |token: String, path: &'static str, body: Vec<u8>| {
        let req = p
            .client
            .post(p.app.url(path))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (s, r) = send(p.admin(), "/v1/companies/import", sample()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["added"].as_u64(), r["skipped"].as_array().map(Vec::len)),
        (Some(50), Some(0))
    );
    let ranges = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/ip-ranges.csv"),
    )
    .unwrap();
    let (s, r) = send(p.admin(), "/v1/companies/ip-ranges/import", ranges).await;
    assert_eq!((s, r["added"].as_u64()), (200, Some(6)), "{r}");
    let (s, r) = send(p.admin(), "/v1/companies/import", b"title\nAcme\n".to_vec()).await;
    assert_eq!(s, 422, "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 1: the header needs"),
        "{r}"
    );
    let ops = p.token("ad_ops", None, "ops@agency.test");
    let (s, _) = send(ops, "/v1/companies/import", sample()).await;
    assert_eq!(s, 403);
    let (s, page) = p
        .get(
            "/v1/audit-events?scope=platform&action=companies.imported",
            &p.admin(),
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"][0]["changes"]["added"], 50, "{page}");
}

#[test]
fn the_command_line_imports_the_sample_and_says_what_it_did_in_lines() {
    let tmp = TempDir::new("companies");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/companies.csv");
    let sample = sample.to_str().unwrap();
    // Before the schema exists: one line that says what to do.
    let out = p360(&["companies", "import", sample, "--data-dir", data_s])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.trim().starts_with("error: the database is ")
            && stderr
                .trim()
                .ends_with(" migration(s) behind this binary: run `p360 migrate up` first"),
        "{stderr}"
    );
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    let out = p360_ok(&["companies", "import", sample, "--data-dir", data_s]);
    assert_eq!(
        out.trim(),
        "companies: 50 added, 0 changed, 0 unchanged, 0 skipped"
    );
    let out = p360_ok(&["companies", "import", sample, "--data-dir", data_s]);
    assert!(out.contains("0 added, 0 changed, 50 unchanged"), "{out}");
    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "domain,name\nnew.example,New\ngithub.io,GitHub Pages\n",
    )
    .unwrap();
    let out = p360_ok(&[
        "companies",
        "import",
        bad.to_str().unwrap(),
        "--data-dir",
        data_s,
    ]);
    assert_eq!(
        out.trim(),
        "companies: 1 added, 0 changed, 0 unchanged, 1 skipped\n  \
         line 3: domain: a public suffix, not a company's domain"
    );
    std::fs::write(&bad, b"domain,name\n\x00\x01").unwrap();
    let out = p360(&[
        "companies",
        "import",
        bad.to_str().unwrap(),
        "--data-dir",
        data_s,
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr
            .trim()
            .ends_with("bad.csv: line 2: a binary file, not CSV text"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1);
    let ranges = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/ip-ranges.csv");
    let out = p360_ok(&[
        "companies",
        "import-ip-ranges",
        ranges.to_str().unwrap(),
        "--data-dir",
        data_s,
    ]);
    assert_eq!(
        out.trim(),
        "ip ranges: 6 added, 0 removed, 0 unchanged, 0 skipped"
    );
    // Thousands of bad lines are not thousands of lines on the terminal.
    let many = tmp.path().join("overlapping.csv");
    let mut text = String::from("domain,cidr\n");
    for _ in 0..26 {
        text.push_str("acme.example,10.9.0.0/24\n");
    }
    std::fs::write(&many, text).unwrap();
    let out = p360_ok(&[
        "companies",
        "import-ip-ranges",
        many.to_str().unwrap(),
        "--data-dir",
        data_s,
    ]);
    let lines: Vec<&str> = out.trim().lines().collect();
    assert!(lines[0].ends_with("25 skipped"), "{out}");
    assert_eq!(lines.len(), 22, "{out}");
    assert_eq!(lines[1], "  line 3: 10.9.0.0 – 10.9.0.255 overlaps line 2");
    assert_eq!(lines[21], "  ... and 5 more lines skipped");
}
