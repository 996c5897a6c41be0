//! Delivery: which companies a campaign reached. The Trade Desk's Raw Event
//! Data Stream (REDS: hourly gzip files of tab-separated impressions and
//! clicks) is read file by file; each impression's IP address is resolved
//! to a company by the universe's IP ranges ([`resolve`]); the feed's
//! columns come from its configured schema ([`schema`]), since TTD versions
//! its feeds.
//!
//! Slices so far (issue 17): the schema, the resolver, a file read into its
//! rollup on two threads ([`read`]) and a deterministic generator of REDS
//! files ([`generate`]). Storing rollups, clicks, reports, pacing and
//! alerts follow.

pub mod generate;
pub mod ingest;
pub mod read;
pub mod resolve;
pub mod schema;
