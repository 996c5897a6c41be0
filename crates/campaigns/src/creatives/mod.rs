//! Creatives: uploaded as multipart/form-data (`advertiser_id`, `name`,
//! `click_url`, `file`), checked (see [`files`]), stored in object storage,
//! previewed by the app with the right content type (HTML5 inside a
//! sandboxing Content-Security-Policy).

pub mod api;
pub mod files;
pub mod orphans;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{AdvertiserId, CreativeId};

platform::text_enum! {
    /// What a creative is made of.
    pub enum CreativeKind { Image = "image", Html5 = "html5" }
}

platform::text_enum! {
    /// Whether a creative may be assigned to ad groups.
    pub enum CreativeStatus { Active = "active", Archived = "archived" }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Creative {
    pub id: CreativeId,
    pub advertiser_id: AdvertiserId,
    pub name: String,
    /// https only.
    pub click_url: String,
    pub kind: CreativeKind,
    /// Sniffed from the bytes.
    pub mime: String,
    /// Read from the file.
    pub width: i64,
    pub height: i64,
    pub size_bytes: i64,
    pub unpacked_bytes: Option<i64>,
    pub sha256: String,
    pub status: CreativeStatus,
    /// A new click URL waiting for approval with the pending change of each
    /// live campaign that runs the creative; `click_url` is what TTD shows
    /// meanwhile.
    pub pending_click_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub version: i64,
    #[serde(skip)]
    pub storage_prefix: String,
    /// The files recorded at upload: `[{path, content_type, size?}]`.
    #[serde(skip)]
    #[schema(ignore)]
    pub files: serde_json::Value,
}

impl Creative {
    /// The file a preview shows first: the image, or the bundle's `index.html`.
    pub fn preview_path(&self) -> String {
        match self.kind {
            CreativeKind::Html5 => "index.html".to_string(),
            CreativeKind::Image => self.files[0]["path"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// Where `path` (a file recorded at upload) is kept, and its content type.
    pub fn file(&self, path: &str) -> Option<(String, String)> {
        let entry = self
            .files
            .as_array()
            .and_then(|files| files.iter().find(|f| f["path"] == path))?;
        let content_type = entry["content_type"]
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_string();
        let key = match self.kind {
            CreativeKind::Html5 => format!("{}/files/{path}", self.storage_prefix),
            CreativeKind::Image => format!("{}/{path}", self.storage_prefix),
        };
        Some((key, content_type))
    }
}

/// The name of a creative's public file under `ttd.creative_base_url`, which
/// is what the app's public route `GET /creatives/{name}` serves: an image at
/// `{id}`, an HTML5 creative's bundle (TTD takes HTML5 as the zip) at
/// `{id}.zip`. The TTD sync builds its URLs with this, so the two agree.
pub fn public_name(id: CreativeId, kind: CreativeKind) -> String {
    match kind {
        CreativeKind::Html5 => format!("{id}.zip"),
        CreativeKind::Image => id.to_string(),
    }
}

/// The creative and kind a [`public_name`] names, if it is one.
pub fn parse_public_name(name: &str) -> Option<(CreativeId, CreativeKind)> {
    let (id, kind) = match name.strip_suffix(".zip") {
        Some(id) => (id, CreativeKind::Html5),
        None => (name, CreativeKind::Image),
    };
    // Only the canonical spelling, so that one file has one URL.
    let id: CreativeId = id.parse().ok()?;
    (public_name(id, kind) == name).then_some((id, kind))
}

/// What anyone may fetch of a creative (see `store::public_file`): the
/// file TTD is sent, nothing else of the creative or its tenant.
#[derive(Debug, Clone)]
pub struct PublicFile {
    pub kind: CreativeKind,
    /// The uploaded file's type: the image's, or `application/zip`.
    pub mime: String,
    /// Of the uploaded file: the ETag.
    pub sha256: String,
    pub storage_prefix: String,
    pub files: serde_json::Value,
}

impl PublicFile {
    /// The object store key of the uploaded file: the image, or the bundle's zip.
    pub fn key(&self) -> Option<String> {
        match self.kind {
            CreativeKind::Html5 => Some(format!("{}/bundle.zip", self.storage_prefix)),
            CreativeKind::Image => {
                let path = self.files.get(0)?.get("path")?.as_str()?;
                Some(format!("{}/{path}", self.storage_prefix))
            }
        }
    }
}

/// The multipart form of `POST /v1/creatives` (for the API description).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CreativeUpload {
    pub advertiser_id: uuid::Uuid,
    pub name: String,
    /// https only.
    pub click_url: String,
    /// JPEG/PNG/GIF (at most 200 KB) or an HTML5 zip with `index.html` at its
    /// root (at most 1 MB, 5 MB unpacked); an IAB display size.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A creative as uploaded, before it is checked.
#[derive(Debug, Default)]
pub struct Upload {
    pub advertiser_id: Option<String>,
    pub name: Option<String>,
    pub click_url: Option<String>,
    pub file: Option<Vec<u8>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativePatch {
    pub name: Option<String>,
    /// https only.
    pub click_url: Option<String>,
}

/// Click-through URLs: https with a host.
pub fn click_url_is_valid(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
