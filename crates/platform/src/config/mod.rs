//! Typed configuration, layered as defaults < TOML file < `P360_*` environment
//! < command-line overrides.
//!
//! Environment keys nest with `__`: `P360_DATABASE__URL` sets `database.url`.
//! Every layer is merged into one TOML tree which is then deserialised once,
//! with `deny_unknown_fields`, into the application's configuration, so a
//! misspelt key in the file or the environment is an error that names the
//! key, never a silently ignored value. Secrets are [`SecretString`]s: they
//! are redacted in `p360 config` output and never reach a log line.
//!
//! Ownership: this module is the loader, and [`PlatformConfig`] holds the
//! sections the platform itself owns (`http`, `database`, `log`, `storage`,
//! `jobs`, `redis`, `rate_limit`, `backup`). Each capability owns its own section (a
//! type implementing [`Section`]) and the binary composes them with
//! [`app_config!`](crate::app_config): adding a section is one line there.

mod backup;
mod sections;
mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

pub use backup::{BackupConfig, BackupRepo};
pub use sections::*;
use tree::Node;

/// Environment variables with the `P360_` prefix that are not configuration keys.
/// `P360_BIN` and `P360_INFRA_TOOLS` name the binary and tools to deployment scripts.
const RESERVED_ENV: &[&str] = &["P360_CONFIG", "P360_BIN", "P360_INFRA_TOOLS"];
/// Prefixes of `P360_` variables read by tooling (test harness, scripts), not by the app.
const RESERVED_ENV_PREFIXES: &[&str] = &["P360_TEST_"];

/// A configuration problem, reported as one line naming the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("config key `{key}`{origin}: {reason}")]
    Invalid {
        key: String,
        origin: String,
        reason: String,
    },
}

impl ConfigError {
    /// `key` (dotted, e.g. `ttd.base_url`) is wrong because of `reason`.
    pub fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            origin: String::new(),
            reason: reason.into(),
        }
    }
}

/// A capability's configuration section (`[ttd]`, `[auth]`, ...): its
/// defaults (`Default`), its keys (serde, with `deny_unknown_fields`) and the
/// checks that need more than a type.
pub trait Section {
    /// Check values that parse but make no sense together; `platform` gives
    /// the mode and the platform's own settings.
    fn validate(&self, platform: &PlatformConfig) -> Result<(), ConfigError>;
}

/// An application's whole configuration: the platform's sections and the
/// capabilities'. Implemented by [`app_config!`](crate::app_config).
pub trait AppConfig: Sized {
    #[doc(hidden)]
    fn from_tree(tree: __private::Tree) -> Result<Self, __private::PathError>;
    fn platform(&self) -> &PlatformConfig;
    fn platform_mut(&mut self) -> &mut PlatformConfig;
    /// Every section's checks, the platform's first.
    fn validate(&self) -> Result<(), ConfigError>;
    /// The effective configuration as TOML, secrets redacted.
    fn to_redacted_toml(&self) -> String;
}

/// Overrides given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<std::net::SocketAddr>,
}

/// Load defaults < `file` < the given environment < command-line overrides, then validate.
pub fn load<C: AppConfig>(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    cli: &CliOverrides,
) -> Result<C, ConfigError> {
    let mut tree: BTreeMap<String, Node> = BTreeMap::new();
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                reason: one_line(&e.to_string()),
            })?;
        tree = table.into_iter().map(|(k, v)| (k, Node::from(v))).collect();
    }
    let mut env: Vec<(String, String)> =
        env.into_iter().filter(|(k, _)| is_config_env(k)).collect();
    env.sort();
    for (name, raw) in env {
        let key = name["P360_".len()..].to_ascii_lowercase();
        let path: Vec<&str> = key.split("__").collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::Invalid {
                key: key.replace("__", "."),
                origin: format!(" (from {name})"),
                reason: "malformed variable name".into(),
            });
        }
        insert_path(&mut tree, &path, Node::Env(raw)).map_err(|reason| ConfigError::Invalid {
            key: path.join("."),
            origin: format!(" (from {name})"),
            reason,
        })?;
        origins.insert(path.join("."), name);
    }

    let mut config = C::from_tree(__private::Tree(Node::Table(tree))).map_err(|e| {
        let key = e.path().to_string();
        let origin = origins
            .get(&key)
            .map(|n| format!(" (from {n})"))
            .or_else(|| file.map(|f| format!(" (in {})", f.display())))
            .unwrap_or_default();
        ConfigError::Invalid {
            key,
            origin,
            reason: one_line(&e.inner().to_string()),
        }
    })?;
    let platform = config.platform_mut();
    if let Some(dir) = &cli.data_dir {
        platform.data_dir = dir.clone();
    }
    if let Some(listen) = cli.listen {
        platform.http.listen = listen;
    }
    config.validate()?;
    Ok(config)
}

/// Load from the process environment.
pub fn from_process<C: AppConfig>(
    file: Option<&Path>,
    cli: &CliOverrides,
) -> Result<C, ConfigError> {
    load(file, std::env::vars(), cli)
}

/// Compose an application's configuration from the platform's sections and
/// the capabilities' ones, each a field naming its TOML section:
///
/// ```ignore
/// platform::app_config! {
///     pub struct Config {
///         ttd: activation::TtdConfig,
///     }
/// }
/// ```
///
/// The struct gets a `platform` field ([`PlatformConfig`]) besides the listed
/// ones. On the wire all sections sit side by side at the top level, parsed in
/// one pass that refuses unknown keys.
#[macro_export]
macro_rules! app_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        $vis struct $name {
            pub platform: $crate::config::PlatformConfig,
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        const _: () = {
            use $crate::config::PlatformConfig as P;

            #[derive($crate::config::__private::serde::Deserialize, $crate::config::__private::serde::Serialize)]
            #[serde(crate = "::platform::config::__private::serde", deny_unknown_fields, default)]
            struct Flat {
                mode: $crate::config::Mode,
                data_dir: ::std::path::PathBuf,
                release: ::std::option::Option<::std::string::String>,
                http: $crate::config::HttpConfig,
                database: $crate::config::DatabaseConfig,
                log: $crate::config::LogConfig,
                rate_limit: $crate::config::RateLimitConfig,
                redis: $crate::config::RedisConfig,
                storage: $crate::config::StorageConfig,
                backup: $crate::config::BackupConfig,
                jobs: $crate::config::JobsConfig,
                $( $field: $ty, )*
            }

            impl ::std::default::Default for Flat {
                fn default() -> Self {
                    Flat::from(&$name::default())
                }
            }

            impl ::std::convert::From<&$name> for Flat {
                fn from(c: &$name) -> Self {
                    let p = c.platform.clone();
                    Flat {
                        mode: p.mode,
                        data_dir: p.data_dir,
                        release: p.release,
                        http: p.http,
                        database: p.database,
                        log: p.log,
                        rate_limit: p.rate_limit,
                        redis: p.redis,
                        storage: p.storage,
                        backup: p.backup,
                        jobs: p.jobs,
                        $( $field: c.$field.clone(), )*
                    }
                }
            }

            impl $crate::config::AppConfig for $name {
                fn from_tree(
                    tree: $crate::config::__private::Tree,
                ) -> ::std::result::Result<
                    Self,
                    $crate::config::__private::PathError,
                > {
                    let f: Flat = $crate::config::__private::deserialize(tree)?;
                    ::std::result::Result::Ok($name {
                        platform: P {
                            mode: f.mode,
                            data_dir: f.data_dir,
                            release: f.release,
                            http: f.http,
                            database: f.database,
                            log: f.log,
                            rate_limit: f.rate_limit,
                            redis: f.redis,
                            storage: f.storage,
                            backup: f.backup,
                            jobs: f.jobs,
                        },
                        $( $field: f.$field, )*
                    })
                }

                fn platform(&self) -> &P {
                    &self.platform
                }

                fn platform_mut(&mut self) -> &mut P {
                    &mut self.platform
                }

                fn validate(&self) -> ::std::result::Result<(), $crate::config::ConfigError> {
                    self.platform.validate()?;
                    $( $crate::config::Section::validate(&self.$field, &self.platform)?; )*
                    ::std::result::Result::Ok(())
                }

                fn to_redacted_toml(&self) -> ::std::string::String {
                    $crate::config::__private::render(&Flat::from(self))
                }
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_path_to_error;
    pub use toml;

    pub type PathError = serde_path_to_error::Error<toml::de::Error>;

    /// The merged layers, environment values still raw text (see `tree`).
    pub struct Tree(pub(super) super::Node);

    /// Deserialise the tree in one pass, keeping the path of any error.
    pub fn deserialize<T: serde::de::DeserializeOwned>(tree: Tree) -> Result<T, PathError> {
        serde_path_to_error::deserialize(tree.0)
    }

    pub fn render(value: &impl serde::Serialize) -> String {
        toml::to_string_pretty(value).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// A release label: what `p360 deploy start --version` takes and
/// `release` reports (e.g. an image tag or a git describe).
pub fn is_release_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

/// A plain lower-case SQL identifier, safe to put in `SET ROLE`.
fn is_role_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An `http(s)` URL, or a [`ConfigError`] naming `key`.
pub fn check_http_url(key: &str, value: &str) -> Result<url::Url, ConfigError> {
    let u =
        url::Url::parse(value).map_err(|e| ConfigError::invalid(key, format!("not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(key, "must be an http(s) URL"));
    }
    Ok(u)
}

fn is_config_env(name: &str) -> bool {
    name.starts_with("P360_")
        && !RESERVED_ENV.contains(&name)
        && !RESERVED_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn insert_path(
    table: &mut BTreeMap<String, Node>,
    path: &[&str],
    value: Node,
) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path has at least one element");
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Node::Table(BTreeMap::new()));
        cur = match entry {
            Node::Table(t) => t,
            _ => return Err(format!("`{p}` is a value, not a section")),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Secrets are shown only as `[redacted]`.
pub fn serialize_secret<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

/// A URL secret shown with its password redacted (the rest helps debugging).
pub fn serialize_secret_url<S: Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(url) => s.serialize_str(&redact_url(url.expose_secret())),
        None => s.serialize_none(),
    }
}

/// A URL with its password (and any `password=` query parameter) replaced by `[redacted]`.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "[redacted]".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("redacted"));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") {
                "redacted".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests;
