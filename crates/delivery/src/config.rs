//! `[delivery]`: where TTD's REDS files land, the layout of their rows,
//! the delivery watch (how often, how late the feed may be, where its
//! alerts go) and the watched folder.

use platform::config::{ConfigError, PlatformConfig, Section};
use serde::{Deserialize, Serialize};

use crate::ingest::Layouts;
use crate::schema::{CLICKS, ClickColumns, IMPRESSIONS, ImpressionColumns};

/// TTD versions its feeds; the layout is configuration, TTD's documented
/// one by default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Files landing in `storage.landing_bucket` under this key prefix are
    /// REDS files (impressions or clicks, told apart by their columns).
    pub landing_prefix: String,
    /// The impression feed's columns, in feed order.
    pub impression_columns: Vec<String>,
    /// The click feed's columns, in feed order.
    pub click_columns: Vec<String>,
    /// Where the delivery watch posts the business alerts it opens (JSON),
    /// besides logging them; none by default.
    pub alert_webhook_url: Option<String>,
    /// The feed is late when no applied file reaches within this many
    /// hours of now.
    pub feed_late_hours: u32,
    /// How often the watch runs (pacing, delivery, the feed).
    pub watch_every_secs: u64,
    /// A folder of this machine whose REDS files are ingested as they
    /// settle (`delivery::folder`), relative to the data dir; empty: none.
    /// Watched by every process that runs the job worker.
    pub watch_folder: String,
    /// How often the folder is scanned.
    pub watch_folder_every_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            landing_prefix: "partner-files/ttd/reds/".into(),
            impression_columns: IMPRESSIONS.iter().map(|c| c.to_string()).collect(),
            click_columns: CLICKS.iter().map(|c| c.to_string()).collect(),
            alert_webhook_url: None,
            feed_late_hours: 3,
            watch_every_secs: 900,
            watch_folder: "incoming/reds".into(),
            watch_folder_every_secs: 10,
        }
    }
}

impl DeliveryConfig {
    /// Where the columns P360 reads are (checked when the configuration is).
    pub fn impression_layout(&self) -> Result<ImpressionColumns, ConfigError> {
        ImpressionColumns::of(&self.impression_columns)
            .map_err(|e| ConfigError::invalid("delivery.impression_columns", e.to_string()))
    }

    /// Both layouts; they must differ in column count, which is how a file
    /// says what it holds.
    pub fn layouts(&self) -> Result<Layouts, ConfigError> {
        let clicks = ClickColumns::of(&self.click_columns)
            .map_err(|e| ConfigError::invalid("delivery.click_columns", e.to_string()))?;
        let impressions = self.impression_layout()?;
        if clicks.count == impressions.count {
            return Err(ConfigError::invalid(
                "delivery.click_columns",
                "as many columns as delivery.impression_columns: a file could not say which it is",
            ));
        }
        Ok(Layouts {
            impressions,
            clicks,
        })
    }
}

impl Section for DeliveryConfig {
    fn validate(&self, _: &PlatformConfig) -> Result<(), ConfigError> {
        if self.landing_prefix.is_empty() || self.landing_prefix.starts_with('/') {
            return Err(ConfigError::invalid(
                "delivery.landing_prefix",
                "a key prefix such as partner-files/ttd/reds/ (not empty, no leading /)",
            ));
        }
        if let Some(url) = &self.alert_webhook_url {
            let parsed = url::Url::parse(url).ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            {
                return Err(ConfigError::invalid(
                    "delivery.alert_webhook_url",
                    "an http(s) URL, e.g. https://hooks.example.com/p360",
                ));
            }
        }
        if !(1..=168).contains(&self.feed_late_hours) {
            return Err(ConfigError::invalid(
                "delivery.feed_late_hours",
                "1 to 168 hours",
            ));
        }
        if !(10..=86_400).contains(&self.watch_every_secs) {
            return Err(ConfigError::invalid(
                "delivery.watch_every_secs",
                "10 to 86400 seconds",
            ));
        }
        if !(1..=3_600).contains(&self.watch_folder_every_secs) {
            return Err(ConfigError::invalid(
                "delivery.watch_folder_every_secs",
                "1 to 3600 seconds",
            ));
        }
        self.layouts().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_checked_with_the_configuration() {
        let platform = PlatformConfig::default();
        assert!(DeliveryConfig::default().validate(&platform).is_ok());
        let mut c = DeliveryConfig::default();
        c.impression_columns.retain(|n| n != "IPAddress");
        let e = c.validate(&platform).unwrap_err().to_string();
        assert!(e.contains("delivery.impression_columns"), "{e}");
        assert!(e.contains("no IPAddress column"), "{e}");
        let c = DeliveryConfig {
            landing_prefix: "/reds".into(),
            ..DeliveryConfig::default()
        };
        assert!(c.validate(&platform).is_err());
        let c = DeliveryConfig {
            alert_webhook_url: Some("hooks.example.com".into()),
            ..DeliveryConfig::default()
        };
        let e = c.validate(&platform).unwrap_err().to_string();
        assert!(e.contains("delivery.alert_webhook_url"), "{e}");
    }
}
