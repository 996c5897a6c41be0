//! Credentials P360 accepts, before they are resolved to a principal: OIDC
//! access tokens verified against their issuer's keys ([`jwt`]) and the
//! built-in development issuer ([`dev`]).

pub mod dev;
pub mod jwt;
pub mod key_file;

use std::path::Path;

use crate::config::IssuerKind;
use crate::roles::{Role, UserKind};

/// Staff issuers provision users only with a staff role; customer issuers only
/// with a customer role. The development issuer allows both.
pub fn kind_allowed(kind: IssuerKind, dev: bool, role: Role) -> bool {
    dev || match kind {
        IssuerKind::Internal => role.kind() == UserKind::Staff,
        IssuerKind::External => role.kind() == UserKind::Customer,
    }
}

/// Load (or create) the development issuer's key for `p360 token`.
pub fn dev_token(data_dir: &Path, claims: &dev::DevClaims) -> anyhow::Result<String> {
    dev::DevIssuer::load_or_create(data_dir)?.mint(claims)
}
