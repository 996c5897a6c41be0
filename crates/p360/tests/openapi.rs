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

/// Every operation has its own operationId (clients generate one method per
/// id), and every `/v1` operation names the credentials it takes.
#[tokio::test]
async fn operation_ids_are_unique_and_v1_operations_declare_their_security() {
    let p = Platform::start().await;
    let doc: serde_json::Value = get(&p.app.url("/openapi.json")).await.json().await.unwrap();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("bearer_jwt") && schemes.contains_key("api_key"));
    let mut seen = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            if let Some(other) = seen.insert(id.to_string(), format!("{method} {path}")) {
                panic!("operationId {id} is used by {other} and {method} {path}");
            }
            if path.starts_with("/v1/") {
                let security = op["security"].as_array().unwrap();
                for s in security {
                    for name in s.as_object().unwrap().keys() {
                        assert!(schemes.contains_key(name), "{method} {path}: {name}");
                    }
                }
                assert_eq!(security.len(), 2, "{method} {path}");
            }
        }
    }
    assert!(seen.len() >= 40, "{} operations", seen.len());
}
