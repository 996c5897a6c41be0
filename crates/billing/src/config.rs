//! `[billing]`: when months close, how often drafts are refreshed, and who
//! the invoices come from.

use platform::config::{ConfigError, PlatformConfig, Section};
use serde::{Deserialize, Serialize};

/// Billing. The recurring job (`billing.run`) drafts the current month's
/// invoices of every tenant every `draft_every_secs` and closes a month
/// once `grace_days` have passed after its last day (finance may close it
/// earlier, once it is over).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Days after a month's last day that late delivery data may still
    /// arrive before the month closes (0 to 60).
    pub grace_days: u32,
    /// How often drafts are refreshed and due months closed (seconds; at
    /// least 60).
    pub draft_every_secs: u64,
    /// Whether the job closes months once their grace period is over; off,
    /// finance closes every month (`POST /v1/billing/periods/{month}/close`)
    /// and the job only drafts.
    pub auto_close: bool,
    /// Who invoices come from: the agency's name, as printed.
    pub issuer_name: String,
    /// The agency's address and details, one printed line each (address,
    /// tax id, email).
    pub issuer_lines: Vec<String>,
    /// Days from issue to the due date printed on an invoice.
    pub payment_terms_days: u32,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            grace_days: 5,
            draft_every_secs: 86_400,
            auto_close: true,
            issuer_name: "P360 Display".into(),
            issuer_lines: Vec::new(),
            payment_terms_days: 30,
        }
    }
}

impl Section for BillingConfig {
    fn validate(&self, _platform: &PlatformConfig) -> Result<(), ConfigError> {
        if self.grace_days > 60 {
            return Err(ConfigError::invalid("billing.grace_days", "0 to 60"));
        }
        if self.draft_every_secs < 60 {
            return Err(ConfigError::invalid(
                "billing.draft_every_secs",
                "at least 60",
            ));
        }
        if self.issuer_name.trim().is_empty() || self.issuer_name.chars().count() > 200 {
            return Err(ConfigError::invalid(
                "billing.issuer_name",
                "1 to 200 characters",
            ));
        }
        if self.issuer_lines.len() > 8 || self.issuer_lines.iter().any(|l| l.chars().count() > 120)
        {
            return Err(ConfigError::invalid(
                "billing.issuer_lines",
                "up to 8 lines of up to 120 characters",
            ));
        }
        if self.payment_terms_days > 365 {
            return Err(ConfigError::invalid(
                "billing.payment_terms_days",
                "0 to 365",
            ));
        }
        Ok(())
    }
}
