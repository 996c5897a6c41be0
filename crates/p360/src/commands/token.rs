//! `p360 token`: a bearer token from the built-in development issuer
//! (refused in production mode or with `auth.dev_issuer = false`).

use anyhow::Result;
use clap::Args;
use p360::Config;
use platform::cli::Outcome;
use tenancy::auth::dev::DevClaims;

// The options of `p360 token` (its help line is the subcommand's doc in main.rs).
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Tenant slug (customer roles).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Role, e.g. platform_admin, customer_admin, marketer, viewer.
    #[arg(long)]
    pub role: String,
    /// E-mail address (and subject) of the user [default: ROLE@TENANT.p360.test,
    /// or ROLE@agency.p360.test for staff, so each role is its own user].
    #[arg(long)]
    pub email: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
}

pub fn run(config: &Config, args: TokenArgs) -> Result<Outcome> {
    let TokenArgs {
        tenant,
        role,
        email,
        ttl,
    } = args;
    let email = email
        .unwrap_or_else(|| format!("{role}@{}.p360.test", tenant.as_deref().unwrap_or("agency")));
    let claims = DevClaims {
        tenant,
        role,
        email,
        ttl_secs: ttl,
    };
    if !config.auth.dev_issuer_enabled(config.platform.mode) {
        anyhow::bail!(
            "the development issuer is disabled (production mode or auth.dev_issuer = false)"
        );
    }
    let role = tenancy::roles::Role::parse(&claims.role).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role {}; one of: {}",
            claims.role,
            tenancy::roles::Role::ALL.map(|r| r.as_str()).join(", ")
        )
    })?;
    if role.kind() == tenancy::roles::UserKind::Customer && claims.tenant.is_none() {
        anyhow::bail!("--tenant SLUG is required for the customer role {role}");
    }
    let token = tenancy::auth::dev_token(&config.platform.data_dir, &claims)?;
    eprintln!(
        "# {} token for {}{}, valid {} s; use it as: Authorization: Bearer <token>",
        role,
        claims.email,
        claims
            .tenant
            .as_deref()
            .map(|t| format!(" in tenant {t}"))
            .unwrap_or_default(),
        claims.ttl_secs
    );
    println!("{token}");
    Ok(Outcome::Completed)
}
