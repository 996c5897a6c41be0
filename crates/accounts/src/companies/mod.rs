//! The company universe: the companies P360 knows, keyed by registrable
//! domain ([`crate::domain`]), with their names and firmographics. Global
//! reference data: every tenant reads it, staff load it from files
//! ([`import`]), and a re-import is an upsert that reports what it added,
//! changed and left unchanged.

pub mod api;
pub mod import;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

platform::text_enum! {
    /// Employee-size band, as Bombora grades companies.
    pub enum SizeBand {
        Micro = "micro",
        Small = "small",
        MediumSmall = "medium_small",
        Medium = "medium",
        MediumLarge = "medium_large",
        Large = "large",
        XLarge = "xlarge",
        XxLarge = "xxlarge",
    }
}

impl SizeBand {
    /// Our code (`medium_small`) or Bombora's label (`Medium-Small (50 - 199
    /// Employees)`), in any case.
    pub fn from_label(label: &str) -> Option<SizeBand> {
        let word = label.split('(').next().unwrap_or_default().trim();
        let code = word.to_ascii_lowercase().replace(['-', ' '], "_");
        code.parse().ok()
    }
}

/// A company as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Company {
    /// The registrable domain, its key (`acme.co.uk`).
    pub domain: String,
    pub name: String,
    /// Other names it goes by (matched like its name).
    pub aliases: Vec<String>,
    pub size: Option<SizeBand>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A company as a file or a staff member gives it, checked (and as the
/// in-memory universe is built from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCompany {
    pub domain: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub size: Option<SizeBand>,
    pub industry: Option<String>,
    pub country: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Lines not imported, each with its line number and why.
    pub skipped: Vec<SkippedLine>,
}

/// A line of a file that was not imported.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based, the header being line 1.
    pub line: u64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::SizeBand;

    #[test]
    fn size_bands_read_codes_and_bomboras_labels() {
        for (label, band) in [
            ("micro", SizeBand::Micro),
            ("Micro (1 - 9 Employees)", SizeBand::Micro),
            ("Medium-Small (50 - 199 Employees)", SizeBand::MediumSmall),
            ("medium_large", SizeBand::MediumLarge),
            ("XLarge (5,000 - 10,000 Employees)", SizeBand::XLarge),
            ("XXLarge (10,000+ Employees)", SizeBand::XxLarge),
        ] {
            assert_eq!(SizeBand::from_label(label), Some(band), "{label}");
        }
        assert_eq!(SizeBand::from_label("Huge"), None);
        assert_eq!(SizeBand::from_label(""), None);
    }
}
