//! Connecting, showing and disconnecting a tenant's org.

use anyhow::Context as _;
use platform::http::problem::{ApiError, FieldError, Problem};
use secrecy::ExposeSecret as _;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::{Connection, KEY_PURPOSE, NewConnection, store, valid_login_host};
use crate::Salesforce;
use crate::salesforce::client::{Credentials, SalesforceClient, SfError};
use crate::salesforce::jwt;

/// A connection request that signed in.
pub struct Checked {
    input: NewConnection,
    currency: String,
    instance_url: String,
}

/// Check a connection request and sign in with it (no transaction is open
/// while Salesforce answers): a 422 naming the field or what Salesforce
/// said.
pub async fn check(
    by: &Principal,
    sf: &Salesforce,
    input: NewConnection,
) -> Result<Checked, ApiError> {
    by.require(Permission::IntegrationsManage)?;
    let mut errors = Vec::new();
    let consumer_key = input.consumer_key.trim();
    if consumer_key.is_empty() || consumer_key.len() > 256 {
        errors.push(FieldError::new(
            "consumer_key",
            "invalid",
            "the connected app's consumer key",
        ));
    }
    if input.username.trim().is_empty()
        || input.username.len() > 256
        || !input.username.contains('@')
    {
        errors.push(FieldError::new(
            "username",
            "invalid",
            "a Salesforce username (name@example.com)",
        ));
    }
    if !valid_login_host(&input.login_host) {
        errors.push(FieldError::new(
            "login_host",
            "invalid",
            "login.salesforce.com, test.salesforce.com or a *.my.salesforce.com domain",
        ));
    }
    let key = match jwt::private_key(&input.private_key) {
        Ok(k) => Some(k),
        Err(e) => {
            errors.push(FieldError::new("private_key", "invalid", e.to_string()));
            None
        }
    };
    let currency = input
        .currency
        .clone()
        .unwrap_or_else(|| "USD".into())
        .to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        errors.push(FieldError::new(
            "currency",
            "invalid",
            "an ISO 4217 code such as USD",
        ));
    }
    let Some(key) = key.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let client = sf.client(Credentials {
        consumer_key: consumer_key.to_string(),
        username: input.username.trim().to_string(),
        login_host: input.login_host.clone(),
        key,
    })?;
    let instance_url = client.authenticate().await.map_err(refused)?;
    Ok(Checked {
        input,
        currency,
        instance_url,
    })
}

/// Salesforce refused or could not be reached: a 422 saying what it said
/// (an outage is a 502).
fn refused(e: anyhow::Error) -> ApiError {
    match e.downcast_ref::<SfError>() {
        Some(SfError::Auth { error, description }) => Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "salesforce-refused",
            "Salesforce refused the sign-in",
        )
        .with_detail(format!("{error}: {description}"))
        .into(),
        _ => Problem::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "salesforce-unavailable",
            "Salesforce could not be reached",
        )
        .with_detail(e.to_string())
        .into(),
    }
}

/// Store a checked connection (its key sealed), audited without the key.
pub async fn connect(
    tx: &mut TenantTx,
    by: &Principal,
    sf: &Salesforce,
    checked: Checked,
) -> Result<Connection, ApiError> {
    let i = &checked.input;
    let sealed = sf
        .vault
        .seal(tx, KEY_PURPOSE, i.private_key.as_bytes())
        .await
        .context("sealing the private key")?;
    store::put(
        tx,
        i.consumer_key.trim(),
        i.username.trim(),
        &i.login_host,
        &checked.currency,
        &sealed,
        &checked.instance_url,
    )
    .await?;
    tenancy::audit::record_change(
        tx,
        by,
        "salesforce.connected",
        "salesforce_connection",
        tx.tenant().0,
        serde_json::json!({
            "consumer_key": i.consumer_key.trim(),
            "username": i.username.trim(),
            "login_host": i.login_host,
            "currency": checked.currency,
        }),
    )
    .await?;
    show(tx, by).await
}

/// The tenant's connection.
pub async fn show(tx: &mut TenantTx, by: &Principal) -> Result<Connection, ApiError> {
    by.require(Permission::ReportsRead)?;
    let c = store::get(tx).await?.ok_or_else(Problem::not_found)?;
    Ok(Connection {
        consumer_key: c.consumer_key,
        username: c.username,
        login_host: c.login_host,
        currency: c.currency,
        instance_url: c.instance_url,
        status: c.status,
        last_error: c.last_error,
        last_sync_at: c.last_sync_at,
        connected_at: c.connected_at,
        objects: store::objects(tx).await?,
    })
}

/// Disconnect (audited): the sealed key is deleted.
pub async fn disconnect(tx: &mut TenantTx, by: &Principal) -> Result<(), ApiError> {
    by.require(Permission::IntegrationsManage)?;
    if !store::delete(tx).await? {
        return Err(Problem::not_found().into());
    }
    tenancy::audit::record_change(
        tx,
        by,
        "salesforce.disconnected",
        "salesforce_connection",
        tx.tenant().0,
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// A client for the tenant's stored connection (its key opened).
pub async fn client_of(
    tx: &mut TenantTx,
    sf: &Salesforce,
) -> anyhow::Result<Option<(SalesforceClient, String)>> {
    let Some(c) = store::get(tx).await? else {
        return Ok(None);
    };
    let pem = sf
        .vault
        .open(tx, KEY_PURPOSE, &c.private_key_sealed)
        .await?;
    let text = std::str::from_utf8(pem.expose_secret()).context("the stored key is not text")?;
    let key = jwt::private_key(text).map_err(|e| anyhow::anyhow!("the stored key: {e}"))?;
    let client = sf.client(Credentials {
        consumer_key: c.consumer_key,
        username: c.username,
        login_host: c.login_host,
        key,
    })?;
    Ok(Some((client, c.currency)))
}
