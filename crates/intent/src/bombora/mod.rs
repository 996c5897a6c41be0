//! Bombora: the partner Company Surge comes from. [`client`] speaks to its
//! API, [`sandbox`] answers like it (for laptops, tests and the demo), and
//! the recurring job ([`fetch`]) ingests each new week.
//!
//! Where each piece of the wire format comes from:
//! - `POST /oauth/token` with a JSON body `{client_id, client_secret}`
//!   answering `{access_token, token_type: "Bearer", expires_in}`: Bombora's
//!   Authentication API (developer.bombora.com, "Authentication API",
//!   `https://api.bombora.com/oauth/token`); every other call sends
//!   `Authorization: Bearer <token>`.
//! - `GET /reference/v1/topics` answering `{topics: [{id, name, theme,
//!   category, description}]}`, filtered by comma-separated, case-insensitive
//!   `id`, `name`, `theme`, `category` (contains): Bombora's Reference API.
//! - Errors as `{"message": "..."}` (the Reference API's
//!   `ErrorMessageResponse`).
//! - The weekly file: Bombora delivers Company Surge as a weekly "all
//!   domains, all topics" CSV (columns in [`crate::surge::parse`]). Its
//!   delivery listing here — `GET /surge/v1/weeks` answering `{weeks:
//!   [{week, sha256, path}]}` and the gzip file at `path` — is P360's model
//!   of that delivery (Bombora's own is by arrangement per customer: cloud
//!   storage or its partner API), so a new or corrected week is found by its
//!   checksum without downloading it.

pub mod client;
pub mod fetch;
pub mod sandbox;

pub use client::BomboraClient;
