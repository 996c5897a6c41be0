//! Creative operations: upload (checked, stored in the object store, then
//! recorded), change, archive, and reading back the files recorded at upload.

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use platform::storage::Storage;
use sqlx::PgPool;
use tenancy::roles::Permission;
use tenancy::scope::{AllTenants, ScopedTx};
use tenancy::{Principal, TenantTx};

use super::files::{self, Checked};
use super::store::{self, New};
use super::{
    Creative, CreativeKind, CreativePatch, PublicFile, Upload, click_url_is_valid,
    parse_public_name, sha256_hex,
};
use crate::campaigns::service::ChangePart;
use crate::ids::{AdvertiserId, CreativeId};
use crate::validate::check_name;

/// Check and store an uploaded creative.
pub async fn create(
    tx: &mut TenantTx,
    by: &Principal,
    storage: &Storage,
    upload: Upload,
) -> Result<Creative, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    let advertiser_id = match upload
        .advertiser_id
        .as_deref()
        .map(str::parse::<AdvertiserId>)
    {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new("advertiser_id", "invalid", "a UUID"));
            None
        }
        None => {
            errors.push(FieldError::new(
                "advertiser_id",
                "required",
                "the advertiser the creative belongs to",
            ));
            None
        }
    };
    let name = upload.name.unwrap_or_default().trim().to_string();
    check_name(&name, &mut errors);
    let click_url = upload.click_url.unwrap_or_default().trim().to_string();
    if !click_url_is_valid(&click_url) {
        errors.push(FieldError::new("click_url", "not_https", "an https:// URL"));
    }
    let checked = match &upload.file {
        None => {
            errors.push(FieldError::new("file", "required", "the creative file"));
            None
        }
        Some(bytes) => match files::check(bytes) {
            Ok(c) => Some(c),
            Err(r) => {
                errors.push(FieldError::new("file", r.code, r.message));
                None
            }
        },
    };
    if let Some(adv) = advertiser_id
        && crate::advertisers::store::currency(tx, adv)
            .await?
            .is_none()
    {
        errors.push(FieldError::new(
            "advertiser_id",
            "not_found",
            "no such advertiser",
        ));
    }
    let (Some(advertiser_id), Some(checked), Some(bytes), true) =
        (advertiser_id, checked, upload.file, errors.is_empty())
    else {
        return Err(Problem::validation(errors).into());
    };

    let id = CreativeId::new();
    let prefix = format!("tenants/{}/creatives/{id}", tx.tenant());
    let (kind, mime, width, height, unpacked, listing) = match checked {
        Checked::Image {
            mime,
            ext,
            width,
            height,
        } => {
            put(storage, &format!("{prefix}/creative.{ext}"), bytes.clone()).await?;
            (
                CreativeKind::Image,
                mime,
                width,
                height,
                None,
                serde_json::json!([{"path": format!("creative.{ext}"), "content_type": mime}]),
            )
        }
        Checked::Html5 {
            width,
            height,
            unpacked,
            files,
        } => {
            put(storage, &format!("{prefix}/bundle.zip"), bytes.clone()).await?;
            let mut listing = Vec::new();
            for f in files {
                listing.push(serde_json::json!({"path": f.path, "size": f.bytes.len(), "content_type": f.content_type}));
                put(storage, &format!("{prefix}/files/{}", f.path), f.bytes).await?;
            }
            (
                CreativeKind::Html5,
                "application/zip",
                width,
                height,
                Some(unpacked as i64),
                serde_json::Value::Array(listing),
            )
        }
    };
    let creative = store::insert(
        tx,
        &New {
            id,
            advertiser_id,
            name: &name,
            click_url: &click_url,
            kind,
            mime,
            width: i64::from(width),
            height: i64::from(height),
            size_bytes: bytes.len() as i64,
            unpacked_bytes: unpacked,
            sha256: &sha256_hex(&bytes),
            storage_prefix: &prefix,
            files: &listing,
        },
    )
    .await
    .map_err(|e| {
        conflict_on(e, "creatives_advertiser_name_key", || {
            format!("this advertiser has a creative named {name}")
        })
    })?;
    tenancy::audit::record_change(
        tx,
        by,
        "creative.created",
        "creative",
        id,
        serde_json::json!({"after": creative}),
    )
    .await?;
    Ok(creative)
}

async fn put(storage: &Storage, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
    let path = ObjectPath::parse(key).map_err(|e| anyhow::anyhow!("bad object key {key}: {e}"))?;
    storage
        .store
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| anyhow::anyhow!("cannot store {key}: {e}"))?;
    Ok(())
}

pub async fn get(tx: &mut TenantTx, by: &Principal, id: CreativeId) -> Result<Creative, ApiError> {
    by.require(Permission::CampaignsRead)?;
    store::get(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    advertiser: Option<AdvertiserId>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Creative>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::list(tx, advertiser, after.map(|c| (c.at, c.id)), limit).await?)
}

/// The bytes of a file recorded at upload, and its content type; no path is
/// built from input alone.
pub async fn read_file(
    storage: &Storage,
    c: &Creative,
    path: &str,
) -> Result<(axum::body::Bytes, String), ApiError> {
    let (key, content_type) = c.file(path).ok_or_else(Problem::not_found)?;
    Ok((read_key(storage, &key).await?, content_type))
}

/// The creative file `name` (a [`super::public_name`]) if the public may
/// fetch it, else 404 whatever the reason (no such creative, another kind's
/// name, not in a running campaign, archived). Found across tenants: a named
/// system path, reading only the file's own columns.
pub async fn find_public(pool: &PgPool, name: &str) -> Result<PublicFile, ApiError> {
    let (id, kind) = parse_public_name(name).ok_or_else(Problem::not_found)?;
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let found = store::public_file(&mut tx, id, kind).await;
    drop(tx); // read only: rolled back
    found?.ok_or_else(|| Problem::not_found().into())
}

/// The bytes of a public file found with [`find_public`].
pub async fn read_public(
    storage: &Storage,
    file: &PublicFile,
) -> Result<axum::body::Bytes, ApiError> {
    let key = file
        .key()
        .ok_or_else(|| anyhow::anyhow!("creative without a recorded file"))?;
    read_key(storage, &key).await
}

async fn read_key(storage: &Storage, key: &str) -> Result<axum::body::Bytes, ApiError> {
    let object_path =
        ObjectPath::parse(key).map_err(|e| anyhow::anyhow!("bad object key {key}: {e}"))?;
    let bytes = storage
        .store
        .get(&object_path)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {key}: {e}"))?
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {key}: {e}"))?;
    Ok(bytes)
}

/// Find, check the precondition and then the field errors found before.
async fn lock_for_change(
    tx: &mut TenantTx,
    id: CreativeId,
    expected: &Precondition,
    errors: Vec<FieldError>,
) -> Result<Creative, ApiError> {
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    expected.check(before.version)?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    Ok(before)
}

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "creatives_advertiser_name_key",
        || "this advertiser has a creative with that name",
    )
}

/// Rename a creative or change its click-through URL.
pub async fn update(
    tx: &mut TenantTx,
    by: &Principal,
    id: CreativeId,
    expected: &Precondition,
    patch: CreativePatch,
) -> Result<Creative, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    if let Some(n) = &patch.name {
        check_name(n, &mut errors);
    }
    if let Some(u) = &patch.click_url
        && !click_url_is_valid(u)
    {
        errors.push(FieldError::new("click_url", "not_https", "an https:// URL"));
    }
    // Lock order: campaigns, then the creative (as approving a campaign's
    // change does).
    let running = crate::campaigns::store::lock_running_creative(tx, id).await?;
    let before = lock_for_change(tx, id, expected, errors).await?;
    let name = patch.name.as_deref().map(str::trim);
    let url = patch.click_url.as_deref().map(str::trim);
    // TTD sends viewers to the click URL: for the live campaigns running the
    // creative a new one waits for approval with their pending change, while
    // TTD keeps the approved one; campaigns waiting for approval get the
    // editor as their maker.
    let live = running
        .iter()
        .any(|(_, status, _)| status.is_cleared_to_spend());
    let proposal = match url {
        Some(u) if u != before.click_url && live => Some(Some(u)),
        // Back to the approved URL: the proposal is withdrawn.
        Some(u) if u == before.click_url && before.pending_click_url.is_some() => Some(None),
        _ => None,
    };
    let direct_url = url.filter(|u| proposal.is_none() && *u != before.click_url);
    let mut after = store::update(tx, id, name, direct_url)
        .await
        .map_err(name_taken)?;
    if let Some(proposed) = proposal {
        after = store::set_pending_click_url(tx, id, proposed).await?;
    } else if direct_url.is_some() && before.pending_click_url.is_some() {
        // No live campaign runs it any more: the URL applies, nothing waits.
        after = store::set_pending_click_url(tx, id, None).await?;
    }
    audit(tx, by, "creative.updated", &before, &after).await?;
    if proposal.is_some() || direct_url.is_some() {
        for (campaign, status, version) in running {
            let part = match proposal {
                Some(p) => ChangePart::Creative(id, p.map(str::to_owned)),
                None => ChangePart::Reason("creative click URL changed".into()),
            };
            crate::campaigns::service::changed_elsewhere(tx, by, campaign, status, version, part)
                .await?;
        }
    }
    Ok(after)
}

/// Archive a creative: it keeps its files and history, and can no longer be
/// assigned to ad groups.
pub async fn archive(
    tx: &mut TenantTx,
    by: &Principal,
    id: CreativeId,
    expected: &Precondition,
) -> Result<Creative, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let before = lock_for_change(tx, id, expected, Vec::new()).await?;
    let after = store::archive(tx, id).await?;
    audit(tx, by, "creative.archived", &before, &after).await?;
    Ok(after)
}

async fn audit(
    tx: &mut TenantTx,
    by: &Principal,
    action: &'static str,
    before: &Creative,
    after: &Creative,
) -> Result<(), ApiError> {
    tenancy::audit::record_change(
        tx,
        by,
        action,
        "creative",
        after.id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    Ok(())
}
