//! The application's configuration: the platform's sections and each
//! capability's own (`[auth]` and `[audit]` from tenancy, `[ttd]` from activation,
//! `[deploy]` and `[faults]` from release), parsed in one pass that refuses
//! unknown keys. A new capability's section is one line here.

platform::app_config! {
    /// Everything `p360` reads from defaults, `p360.toml` and `P360_*`.
    pub struct Config {
        auth: tenancy::config::AuthConfig,
        audit: tenancy::config::AuditConfig,
        secrets: tenancy::config::SecretsConfig,
        ttd: activation::TtdConfig,
        bombora: intent::BomboraConfig,
        delivery: delivery::DeliveryConfig,
        salesforce: crm::SalesforceConfig,
        billing: billing::BillingConfig,
        deploy: release::config::DeployConfig,
        faults: release::config::FaultsConfig,
    }
}

impl Config {
    /// Load defaults < `file` < the process environment < `cli`, then validate.
    pub fn from_process(
        file: Option<&std::path::Path>,
        cli: &platform::config::CliOverrides,
    ) -> Result<Config, platform::config::ConfigError> {
        platform::config::from_process(file, cli)
    }

    /// What the release process reads.
    pub fn release(&self) -> release::config::ReleaseConfig {
        release::config::ReleaseConfig {
            platform: self.platform.clone(),
            deploy: self.deploy.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
