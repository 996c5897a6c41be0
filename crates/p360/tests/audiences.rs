//! Audiences through the API: a preview, a saved audience of a list and an
//! intent rule with a holdout, its members with reasons (page and CSV), and
//! the next surge week rebuilding it with a diff that says why.

mod common;

use common::*;
use serde_json::json;

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

/// A week: (domain, topic, score) rows.
fn week(rows: &[(&str, &str, u8)]) -> Vec<u8> {
    let mut f = HEADER.to_string();
    for (d, t, s) in rows {
        f.push_str(&format!("{d},{d},,,Security,{t},{s},,,,,\n"));
    }
    f.into_bytes()
}

#[tokio::test]
async fn an_audience_of_a_list_and_intent_is_built_with_reasons_and_rebuilt_each_week() {
    let p = Platform::start().await;
    p.sample_universe().await;
    let admin = p.admin();
    let first = week(&[
        ("acme.example", "Firewalls", 80),
        ("acme.example", "Zero Trust", 70),
        ("globex.example", "Firewalls", 65),
        ("globex.example", "SIEM", 90),
        ("initech.example", "Firewalls", 95),
        ("hooli.example", "SIEM", 75),
        ("hooli.example", "Firewalls", 30),
    ]);
    let (s, r) = p
        .post_csv("/v1/intent/import?week=2026-11-23", &admin, first)
        .await;
    assert_eq!(s, 200, "{r}");
    p.tenant("acme").await;
    p.tenant("other").await;
    let marketer = p.token("marketer", Some("acme"), "m@acme.test");
    let (s, list) = p
        .post_csv(
            "/v1/account-lists?name=targets",
            &marketer,
            b"domain\nstark.example\nwayne.example\n".to_vec(),
        )
        .await;
    assert_eq!(s, 201, "{list}");
    let definition = json!({
        "name": "Security surge",
        "include_lists": [list["id"]],
        "rule": {
            "intent": {"topics": ["Firewalls", "Zero Trust", "SIEM", "Unheard Of"],
                       "min_score": 60, "threshold": {"topics": 2}},
            "holdout_percent": 0
        }
    });
    let (s, preview) = p
        .post("/v1/audiences/preview", &marketer, definition.clone())
        .await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(
        preview["members"], 4,
        "acme, globex + the 2 listed: {preview}"
    );
    assert_eq!(preview["unknown_topics"], json!(["Unheard Of"]));
    assert_eq!(preview["week"], "2026-11-23");
    assert_eq!(
        preview["sample"][0],
        json!({"domain": "acme.example", "holdout": false, "in_list": false,
               "topics": [{"topic": "Firewalls", "score": 80}, {"topic": "Zero Trust", "score": 70}],
               "reason": "surging on Firewalls (80), Zero Trust (70)"})
    );

    let (s, audience) = p.post("/v1/audiences", &marketer, definition.clone()).await;
    assert_eq!(s, 201, "{audience}");
    assert_eq!(
        (&audience["builds"], &audience["members"]),
        (&json!(1), &json!(4))
    );
    let id = audience["id"].as_str().unwrap();
    let (s, page) = p
        .get(&format!("/v1/audiences/{id}/members?limit=3"), &marketer)
        .await;
    assert_eq!(s, 200, "{page}");
    let domains: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["acme.example", "globex.example", "stark.example"]);
    assert_eq!(page["items"][2]["reason"], "in an included account list");
    assert_eq!(page["next_after"], "stark.example");
    let res = p
        .client
        .get(p.app.url(&format!("/v1/audiences/{id}/members?format=csv")))
        .bearer_auth(&marketer)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(
        csv.contains("globex.example,false,false,SIEM (90); Firewalls (65),"),
        "{csv}"
    );

    // The next week: globex cools off, hooli heats up; the rebuild job
    // builds the audience again and the diff says why.
    let next = week(&[
        ("acme.example", "Firewalls", 81),
        ("acme.example", "Zero Trust", 71),
        ("globex.example", "SIEM", 90),
        ("hooli.example", "SIEM", 75),
        ("hooli.example", "Firewalls", 62),
    ]);
    let (s, _) = p
        .post_csv("/v1/intent/import?week=2026-11-30", &admin, next)
        .await;
    assert_eq!(s, 200);
    let storage = platform::storage::Storage::from_config(&p.config.platform).unwrap();
    let rebuilt = audiences::jobs::rebuild_stale(&p.db.pool, &storage)
        .await
        .unwrap();
    assert_eq!(rebuilt, 1);
    assert_eq!(
        audiences::jobs::rebuild_stale(&p.db.pool, &storage)
            .await
            .unwrap(),
        0
    );
    let (_, builds) = p
        .get(&format!("/v1/audiences/{id}/builds"), &marketer)
        .await;
    assert_eq!(
        (
            &builds[0]["n"],
            &builds[0]["trigger"],
            &builds[0]["week"],
            &builds[0]["added"],
            &builds[0]["removed"]
        ),
        (
            &json!(2),
            &json!("week"),
            &json!("2026-11-30"),
            &json!(1),
            &json!(1)
        ),
        "{builds}"
    );
    let (s, diff) = p
        .get(&format!("/v1/audiences/{id}/builds/2/diff"), &marketer)
        .await;
    assert_eq!(s, 200, "{diff}");
    assert_eq!(
        diff,
        json!([
            {"domain": "globex.example", "added": false,
             "reason": "surging on 1 of the 2 chosen topics required, and in no included list"},
            {"domain": "hooli.example", "added": true,
             "reason": "surging on SIEM (75), Firewalls (62)"},
        ])
    );
    let (s, _) = p
        .get(&format!("/v1/audiences/{id}/builds/9/diff"), &marketer)
        .await;
    assert_eq!(s, 404);

    // A list row fixed by a user: the audience follows on the next run.
    let (s, more) = p
        .post_csv(
            "/v1/account-lists?name=more",
            &marketer,
            b"company\nNobody Known\n".to_vec(),
        )
        .await;
    assert_eq!(s, 201, "{more}");
    let mut with_more = definition.clone();
    with_more["name"] = json!("With more");
    with_more["exclude_lists"] = json!([more["id"]]);
    let (s, second) = p.post("/v1/audiences", &marketer, with_more).await;
    assert_eq!(
        (s.as_u16(), &second["members"]),
        (201, &json!(4)),
        "{second}"
    );
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(
        audiences::jobs::rebuild_stale(&p.db.pool, &storage)
            .await
            .unwrap(),
        0
    );
    let (s, _) = p
        .post(
            &format!(
                "/v1/account-lists/{}/rows/2/match",
                more["id"].as_str().unwrap()
            ),
            &marketer,
            json!({"company": "acme.example"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        audiences::jobs::rebuild_stale(&p.db.pool, &storage)
            .await
            .unwrap(),
        1
    );
    let (_, diff) = p
        .get(
            &format!("/v1/audiences/{second_id}/builds/2/diff"),
            &marketer,
        )
        .await;
    assert_eq!(
        diff,
        json!([{"domain": "acme.example", "added": false, "reason": "in an excluded account list"}])
    );
    let (_, builds) = p
        .get(&format!("/v1/audiences/{second_id}/builds"), &marketer)
        .await;
    assert_eq!(builds[0]["trigger"], "lists");

    // Bad definitions name the field; another tenant sees nothing; a viewer
    // reads but cannot save.
    let mut bad = definition.clone();
    bad["name"] = json!("Other");
    bad["include_lists"] = json!([uuid::Uuid::now_v7()]);
    bad["rule"]["holdout_percent"] = json!(80);
    let (s, problem) = p.post("/v1/audiences", &marketer, bad).await;
    assert_eq!(s, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["holdout_percent", "include_lists"], "{problem}");
    let (s, _) = p.post("/v1/audiences", &marketer, definition.clone()).await;
    assert_eq!(s, 409, "the name is taken");
    let other = p.token("customer_admin", Some("other"), "a@other.test");
    for path in [
        format!("/v1/audiences/{id}"),
        format!("/v1/audiences/{id}/members"),
        format!("/v1/audiences/{id}/builds"),
        format!("/v1/audiences/{id}/builds/1/diff"),
    ] {
        let (s, _) = p.get(&path, &other).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, _) = p
        .post("/v1/audiences/preview", &other, definition.clone())
        .await;
    assert_eq!(s, 422, "another tenant's list is not a list: {s}");
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let mut mine = definition;
    mine["name"] = json!("Viewer's");
    let (s, _) = p.post("/v1/audiences", &viewer, mine).await;
    assert_eq!(s, 403);
}
