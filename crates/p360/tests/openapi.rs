//! The API contract: the whole OpenAPI document is snapshotted, so any change to
//! routes, parameters or schemas shows up in review (`cargo insta review`).

mod common;

use common::*;

#[tokio::test]
async fn openapi_document_matches_the_snapshot() {
    // The app as `p360 serve` assembles it: platform and every capability.
    let p = Platform::start().await;
    let mut doc: serde_json::Value = get(&p.app.url("/openapi.json")).await.json().await.unwrap();
    // The version changes with every release, not with the contract.
    doc["info"]["version"] = "[version]".into();
    insta::assert_json_snapshot!("openapi", doc);
}
