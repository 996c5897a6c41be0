//! Delivery: which companies a campaign reached. The Trade Desk's Raw Event
//! Data Stream (REDS: hourly gzip files of tab-separated impressions and
//! clicks) is read file by file; each impression's IP address is resolved
//! to a company by the universe's IP ranges ([`resolve`]); the feed's
//! columns come from its configured schema ([`schema`]), since TTD versions
//! its feeds.
//!
//! This is the capability's first slice (issue 17): the schema and the
//! resolver. Ingest, rollups, reports, pacing and alerts follow.

pub mod resolve;
pub mod schema;
