//! Account lists: a customer's CSV matched to the company universe with a
//! match report, bad files refused whole with nothing stored, a row fixed by
//! picking a candidate, and every list its tenant's alone.

mod common;

use common::*;
use serde_json::{Value, json};

/// The sample universe plus a second "Acme" so that the name is ambiguous.
async fn universe(p: &Platform) {
    p.sample_universe().await;
    let mut conn = p.db.pool.acquire().await.unwrap();
    accounts::companies::service::import(
        &mut conn,
        b"domain,name\nacme-industries.example,ACME Inc.\n",
    )
    .await
    .unwrap();
}

async fn upload(p: &Platform, token: &str, name: &str, body: &[u8]) -> (u16, Value) {
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    p.post_csv(
        &format!("/v1/account-lists?name={name}"),
        token,
        body.to_vec(),
    )
    .await
}

/// A Salesforce-style export: matched by domain, by a unique name (legal
/// form and case aside), ambiguous, and unmatched for several reasons.
const LIST: &[u8] = b"\xEF\xBB\xBFAccount Name;Website;Account ID\r\n\
    Globex;https://www.globex.example/de;0015g00000AAAAAAAA\r\n\
    INITECH, L.L.C.;;0015g00000AAAAAAAB\r\n\
    Acme;;\r\n\
    Hooli;hooli.example;\r\n\
    Nobody Corp;nobody.example;\r\n\
    ;localhost;\r\n\
    \r\n\
    Stark Co.;stark.example;\r\n";

#[tokio::test]
async fn a_list_is_matched_with_a_report_and_its_rows_can_be_fixed() {
    let p = Platform::start().await;
    universe(&p).await;
    p.tenant("acme").await;
    p.tenant("other").await;
    let marketer = p.token("marketer", Some("acme"), "m@acme.test");
    let (s, list) = upload(&p, &marketer, "Q1 targets", LIST).await;
    assert_eq!(s, 201, "{list}");
    assert_eq!(
        (
            &list["rows"],
            &list["matched"],
            &list["ambiguous"],
            &list["unmatched"]
        ),
        (&json!(7), &json!(4), &json!(1), &json!(2)),
        "{list}"
    );
    assert_eq!(list["companies"], 4);
    assert!((list["match_rate"].as_f64().unwrap() - 4.0 / 7.0).abs() < 1e-9);
    let id = list["id"].as_str().unwrap();

    let (s, page) = p
        .get(&format!("/v1/account-lists/{id}/rows?limit=3"), &marketer)
        .await;
    assert_eq!(s, 200, "{page}");
    let rows = page["items"].as_array().unwrap();
    assert_eq!(
        (
            &rows[0]["line"],
            &rows[0]["company"],
            &rows[0]["matched_by"]
        ),
        (&json!(2), &json!("globex.example"), &json!("domain"))
    );
    assert_eq!(rows[0]["salesforce_id"], "0015g00000AAAAAAAA");
    assert_eq!(
        (&rows[1]["company"], &rows[1]["matched_by"]),
        (&json!("initech.example"), &json!("name"))
    );
    assert_eq!(rows[2]["status"], "ambiguous");
    assert_eq!(
        rows[2]["candidates"],
        json!(["acme-industries.example", "acme.example"])
    );
    assert_eq!(page["next_after"], 4);
    let (_, rest) = p
        .get(
            &format!("/v1/account-lists/{id}/rows?after=4&status=unmatched"),
            &marketer,
        )
        .await;
    let reasons: Vec<(u64, &str)> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                6,
                "no company has the domain nobody.example; no company is named Nobody Corp"
            ),
            (7, "domain localhost: not a website domain"),
        ]
    );

    // The report's CSV of rows not matched, for a spreadsheet.
    let res = p
        .client
        .get(p.app.url(&format!("/v1/account-lists/{id}/unmatched")))
        .bearer_auth(&marketer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "line,domain,name,salesforce_id,status,reason,candidates"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with("4,,Acme,,ambiguous,"), "{csv}");
    assert!(
        lines[1].ends_with(",acme-industries.example acme.example"),
        "{csv}"
    );

    // Fixing the ambiguous row by picking a candidate (any form of its
    // domain); a company P360 does not know is refused.
    let path = format!("/v1/account-lists/{id}/rows/4/match");
    let (s, bad) = p
        .post(&path, &marketer, json!({"company": "nobody.example"}))
        .await;
    assert_eq!(s, 422, "{bad}");
    let (s, fixed) = p
        .post(
            &path,
            &marketer,
            json!({"company": "https://www.acme.example/"}),
        )
        .await;
    assert_eq!(s, 200, "{fixed}");
    assert_eq!(
        (
            &fixed["row"]["status"],
            &fixed["row"]["matched_by"],
            &fixed["row"]["company"]
        ),
        (&json!("matched"), &json!("picked"), &json!("acme.example"))
    );
    assert_eq!(
        (
            &fixed["list"]["matched"],
            &fixed["list"]["ambiguous"],
            &fixed["list"]["version"]
        ),
        (&json!(5), &json!(0), &json!(2))
    );
    let (s, _) = p
        .post(
            &format!("/v1/account-lists/{id}/rows/99/match"),
            &marketer,
            json!({"company": "acme.example"}),
        )
        .await;
    assert_eq!(s, 404);

    // Another tenant sees none of it; a viewer reads but cannot change.
    let other = p.token("customer_admin", Some("other"), "a@other.test");
    for path in [
        format!("/v1/account-lists/{id}"),
        format!("/v1/account-lists/{id}/rows"),
        format!("/v1/account-lists/{id}/unmatched"),
    ] {
        let (s, _) = p.get(&path, &other).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, _) = p
        .post(&path, &other, json!({"company": "acme.example"}))
        .await;
    assert_eq!(s, 404);
    let (_, lists) = p.get("/v1/account-lists", &other).await;
    assert_eq!(lists["items"], json!([]));
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let (s, l) = p.get(&format!("/v1/account-lists/{id}"), &viewer).await;
    assert_eq!((s.as_u16(), &l["matched"]), (200, &json!(5)));
    let (s, _) = upload(&p, &viewer, "mine", b"domain\nacme.example\n").await;
    assert_eq!(s, 403);
    let (s, _) = p
        .post(&path, &viewer, json!({"company": "acme.example"}))
        .await;
    assert_eq!(s, 403);

    // The upload and the fix are on the tenant's audit chain.
    let (_, events) = p
        .get(
            "/v1/audit-events?action=account_list.row_matched",
            &p.token("customer_admin", Some("acme"), "a@acme.test"),
        )
        .await;
    assert_eq!(events["items"][0]["changes"]["line"], 4, "{events}");
}

#[tokio::test]
async fn bad_files_are_refused_whole_and_nothing_is_stored() {
    let p = Platform::start().await;
    universe(&p).await;
    p.tenant("acme").await;
    let ops = p.token("customer_admin", Some("acme"), "a@acme.test");
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let mut over = String::from("domain\n");
    for i in 0..=accounts::lists::parse::MAX_ROWS {
        over.push_str(&format!("c{i}.example\n"));
    }
    let cases: [(&[u8], &str); 5] = [
        (&png, "line 2: a binary file, not CSV text"),
        (b"email,phone\na@b.example,1\n", "line 1: no usable column"),
        (b"domain\n", "line 2: no rows after the header"),
        (
            b"name,salesforce_id\nAcme,not-an-id\n",
            "line 2: salesforce_id: not-an-id is not",
        ),
        (
            over.as_bytes(),
            "line 200002: over the limit of 200000 rows",
        ),
    ];
    for (file, detail) in cases {
        let (s, problem) = upload(&p, &ops, "bad", file).await;
        assert_eq!(s, 422, "{problem}");
        assert_eq!(problem["type"], "urn:p360:problem:invalid-file");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(detail),
            "{problem}"
        );
    }
    let (s, problem) = upload(&p, &ops, "", b"domain\nacme.example\n").await;
    assert_eq!(s, 422, "{problem}");
    let (_, lists) = p.get("/v1/account-lists", &ops).await;
    assert_eq!(lists["items"], json!([]), "nothing stored");
    // A good file by the same name is taken; the name is then used.
    let (s, _) = upload(&p, &ops, "bad", b"domain\nacme.example\n").await;
    assert_eq!(s, 201);
    let (s, problem) = upload(&p, &ops, "bad", b"domain\nacme.example\n").await;
    assert_eq!(s, 409, "{problem}");
}

/// The database keeps every row with an existing list of its own tenant
/// (checked per statement, not per row: migration 29), attacked through
/// the application's role inside a tenant's transaction: a row naming no
/// list, another tenant's list, or moved to one is refused; a list's key
/// cannot change under its rows; deleting a list deletes its rows.
#[tokio::test]
async fn rows_always_belong_to_an_existing_list_of_their_tenant() {
    let p = Platform::start().await;
    universe(&p).await;
    let acme = p.tenant("acme").await.parse::<uuid::Uuid>().unwrap();
    p.tenant("other").await;
    let upload_as = async |tenant: &str| -> uuid::Uuid {
        let token = p.token("marketer", Some(tenant), &format!("m@{tenant}.test"));
        let (s, list) = upload(&p, &token, "targets", LIST).await;
        assert_eq!(s, 201, "{list}");
        list["id"].as_str().unwrap().parse().unwrap()
    };
    let (ours, theirs) = (upload_as("acme").await, upload_as("other").await);
    let refused = |e: sqlx::Error| {
        let db = e.as_database_error().expect("a database error");
        assert_eq!(db.constraint(), Some("account_list_rows_list_fkey"), "{db}");
    };
    let nowhere = uuid::Uuid::from_u128(42);
    let attacks = [
        // A row naming no list, and one naming another tenant's.
        sqlx::query!(
            "INSERT INTO account_list_rows (tenant_id, list_id, line, status)
             VALUES ($1, $2, 100, 'unmatched')",
            acme,
            nowhere
        ),
        sqlx::query!(
            "INSERT INTO account_list_rows (tenant_id, list_id, line, status)
             VALUES ($1, $2, 100, 'unmatched')",
            acme,
            theirs
        ),
        // Rows moved to no list; a list's key changed under its rows.
        sqlx::query!(
            "UPDATE account_list_rows SET list_id = $1 WHERE list_id = $2",
            nowhere,
            ours
        ),
        sqlx::query!(
            "UPDATE account_lists SET id = $1 WHERE id = $2",
            nowhere,
            ours
        ),
    ];
    for attack in attacks {
        let mut tx = tenancy::TenantTx::begin(&p.app.state.pool, tenancy::TenantId(acme))
            .await
            .unwrap();
        refused(attack.execute(tx.conn()).await.unwrap_err());
    }

    let rows_of = async |list: uuid::Uuid| -> i64 {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM account_list_rows WHERE list_id = $1"#,
            list
        )
        .fetch_one(&p.db.pool)
        .await
        .unwrap()
    };
    assert_eq!((rows_of(ours).await, rows_of(theirs).await), (7, 7));
    let mut tx = tenancy::TenantTx::begin(&p.app.state.pool, tenancy::TenantId(acme))
        .await
        .unwrap();
    // Another tenant's list is not acme's to delete; its own goes with its rows.
    let deleted = sqlx::query!(
        "DELETE FROM account_lists WHERE id = ANY($1)",
        &[ours, theirs][..]
    )
    .execute(tx.conn())
    .await
    .unwrap();
    assert_eq!(deleted.rows_affected(), 1);
    tx.commit().await.unwrap();
    assert_eq!((rows_of(ours).await, rows_of(theirs).await), (0, 7));
}
