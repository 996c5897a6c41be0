//! Responses that show a secret once (a new API key's): the idempotency
//! layer never stores them for replay, and answers a retry with a 409 whose
//! detail names what was created, not its secret.

/// The marker a handler puts into its response's extensions.
#[derive(Debug, Clone)]
pub struct SecretInResponse {
    detail: String,
}

impl SecretInResponse {
    /// `detail`: what a replay answers instead, naming what was created.
    pub fn new(detail: impl Into<String>) -> SecretInResponse {
        SecretInResponse {
            detail: detail.into(),
        }
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }
}
