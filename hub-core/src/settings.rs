//! Settings, named as MeshCore Hub names them.
//!
//! Every setting has a CLI flag and an environment variable; `hub-api` loads a `.env` file
//! into the environment first (without overriding what is already set), so the order of
//! precedence is CLI, environment, `.env`, default. Values are checked by [`validate`](ServerSettings::validate)
//! methods whose messages name the environment variable and the flag.

use clap::Args;
use std::fmt;

/// A setting that failed validation; the message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {env} (--{flag}): {problem}")]
pub struct SettingError {
    /// Environment variable of the setting, e.g. `API_PORT`.
    pub env: &'static str,
    /// CLI flag of the setting without dashes, e.g. `port`.
    pub flag: &'static str,
    /// What is wrong with the value.
    pub problem: String,
}

impl SettingError {
    /// A validation failure of the setting `env` / `--flag`.
    pub fn new(env: &'static str, flag: &'static str, problem: impl Into<String>) -> Self {
        Self {
            env,
            flag,
            problem: problem.into(),
        }
    }
}

/// Where the API listens.
#[derive(Args, Debug, Clone)]
pub struct ServerSettings {
    /// Address to bind.
    #[arg(long = "host", env = "API_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (1-65535).
    #[arg(long = "port", env = "API_PORT", default_value_t = 8000)]
    pub port: i64,
}

impl ServerSettings {
    /// Checks the port range and that the host is not empty.
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.host.trim().is_empty() {
            return Err(SettingError::new("API_HOST", "host", "must not be empty"));
        }
        if !(1..=65535).contains(&self.port) {
            return Err(SettingError::new(
                "API_PORT",
                "port",
                format!("must be between 1 and 65535, got {}", self.port),
            ));
        }
        Ok(())
    }

    /// `host:port`, with IPv6 hosts bracketed.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The default database: an embedded SQLite file, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/hub.db";

/// Which database to use.
#[derive(Args, Debug, Clone)]
pub struct DatabaseSettings {
    /// Database URL: `sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://user:pass@host/db`.
    /// MeshCore Hub's SQLAlchemy forms (`sqlite:///./data/meshcore.db`, `postgresql+asyncpg://...`)
    /// are accepted too.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

impl DatabaseSettings {
    /// Checks that the URL names a supported database.
    pub fn validate(&self) -> Result<(), SettingError> {
        crate::db::normalize_database_url(&self.database_url)
            .map(|_| ())
            .map_err(|problem| SettingError::new("DATABASE_URL", "database-url", problem))
    }
}

/// Optional API keys (API.md section 1).
#[derive(Args, Clone, Default)]
pub struct AuthSettings {
    /// Bearer token that grants read access; unset leaves read endpoints open.
    #[arg(long = "read-key", env = "API_READ_KEY", hide_env_values = true)]
    pub read_key: Option<String>,
    /// Bearer token that grants admin (and read) access; unset leaves admin endpoints open.
    #[arg(long = "admin-key", env = "API_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
}

impl AuthSettings {
    /// Empty keys are treated as unset, since `API_READ_KEY=` in a `.env` means "no key".
    pub fn normalized(mut self) -> Self {
        self.read_key = self.read_key.filter(|k| !k.is_empty());
        self.admin_key = self.admin_key.filter(|k| !k.is_empty());
        self
    }
}

// Keys never reach logs, even through `{:?}`.
impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("read_key", &self.read_key.as_ref().map(|_| "<set>"))
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Log verbosity and retention.
#[derive(Args, Debug, Clone)]
pub struct RuntimeSettings {
    /// Log level: trace, debug, info, warn or error (or a tracing filter such as `hub_api=debug`).
    #[arg(long = "log-level", env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Days of raw packets kept by the collector; bounds the `routes-overview` window.
    #[arg(
        long = "raw-packet-retention-days",
        env = "RAW_PACKET_RETENTION_DAYS",
        default_value_t = 7
    )]
    pub raw_packet_retention_days: i64,
}

impl RuntimeSettings {
    /// Checks the log level names a level and the retention is at least one day.
    pub fn validate(&self) -> Result<(), SettingError> {
        let level = self.log_level.trim().to_ascii_lowercase();
        let known = [
            "trace", "debug", "info", "warn", "warning", "error", "critical",
        ];
        // A full filter directive (`hub_api=debug,info`) is passed through to tracing.
        if !known.contains(&level.as_str()) && !level.contains('=') {
            return Err(SettingError::new(
                "LOG_LEVEL",
                "log-level",
                format!(
                    "expected one of trace, debug, info, warn, error; got {:?}",
                    self.log_level
                ),
            ));
        }
        if !(1..=3650).contains(&self.raw_packet_retention_days) {
            return Err(SettingError::new(
                "RAW_PACKET_RETENTION_DAYS",
                "raw-packet-retention-days",
                format!(
                    "must be between 1 and 3650, got {}",
                    self.raw_packet_retention_days
                ),
            ));
        }
        Ok(())
    }

    /// The tracing filter directive for this level (Python's `WARNING`/`CRITICAL` map to tracing's).
    pub fn tracing_directive(&self) -> String {
        match self.log_level.trim().to_ascii_lowercase().as_str() {
            "warning" => "warn".into(),
            "critical" => "error".into(),
            other => other.into(),
        }
    }
}

/// HTTP caching headers (CACHING.md section 4).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Send `Cache-Control` headers: `private, no-cache` on `/api/*` reads, `no-store` on
    /// writes and `/health*` (on by default).
    #[arg(
        long = "api-cache-control",
        env = "API_CACHE_CONTROL_ENABLED",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = true,
        overrides_with = "no_api_cache_control"
    )]
    pub api_cache_control: bool,
    /// Send no `Cache-Control` headers at all (for a proxy that sets its own).
    #[arg(long = "no-api-cache-control", overrides_with = "api_cache_control")]
    pub no_api_cache_control: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            api_cache_control: true,
            no_api_cache_control: false,
        }
    }
}

impl HttpSettings {
    /// Whether hub sets `Cache-Control` (`--no-api-cache-control` wins over the environment).
    pub fn cache_control(&self) -> bool {
        self.api_cache_control && !self.no_api_cache_control
    }

    /// Settings with `Cache-Control` switched on or off.
    pub fn with_cache_control(enabled: bool) -> Self {
        Self {
            api_cache_control: enabled,
            no_api_cache_control: false,
        }
    }
}

/// MeshCore Hub's default SPAM_SCORE_THRESHOLD.
pub const DEFAULT_SPAM_SCORE_THRESHOLD: f64 = 0.65;

/// Spam filtering of message lists, as MeshCore Hub configures it.
///
/// With detection off (the default), `include_spam` changes nothing and every message is
/// listed; with it on, messages scoring at least the threshold are hidden unless the client
/// asks for them.
///
/// ```
/// use hub_core::settings::SpamSettings;
/// let on = SpamSettings { spam_detection_enabled: true, spam_score_threshold: 0.8 };
/// assert_eq!(on.hidden_from(false), Some(0.8));
/// assert_eq!(on.hidden_from(true), None);
/// assert_eq!(SpamSettings::default().hidden_from(false), None);
/// ```
#[derive(Args, Debug, Clone, Copy, PartialEq)]
pub struct SpamSettings {
    /// Hide messages scored as spam from message lists unless `include_spam=true` (off by default).
    #[arg(
        long = "spam-detection-enabled",
        env = "SPAM_DETECTION_ENABLED",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = false
    )]
    pub spam_detection_enabled: bool,
    /// Spam score (0-1) from which a message counts as spam.
    #[arg(
        long = "spam-score-threshold",
        env = "SPAM_SCORE_THRESHOLD",
        default_value_t = DEFAULT_SPAM_SCORE_THRESHOLD
    )]
    pub spam_score_threshold: f64,
}

impl Default for SpamSettings {
    fn default() -> Self {
        Self {
            spam_detection_enabled: false,
            spam_score_threshold: DEFAULT_SPAM_SCORE_THRESHOLD,
        }
    }
}

impl SpamSettings {
    /// Checks that the threshold is a number between 0 and 1.
    pub fn validate(&self) -> Result<(), SettingError> {
        if !(0.0..=1.0).contains(&self.spam_score_threshold) {
            return Err(SettingError::new(
                "SPAM_SCORE_THRESHOLD",
                "spam-score-threshold",
                format!("must be between 0 and 1, got {}", self.spam_score_threshold),
            ));
        }
        Ok(())
    }

    /// The score from which a message list hides messages, given the client's
    /// `include_spam`; `None` when nothing is hidden.
    pub fn hidden_from(&self, include_spam: bool) -> Option<f64> {
        (self.spam_detection_enabled && !include_spam).then_some(self.spam_score_threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct HttpCli {
        #[command(flatten)]
        http: HttpSettings,
    }

    #[test]
    fn cache_control_is_on_by_default_and_switchable() {
        // Environment is process-global; only the CLI forms are exercised here.
        let parse = |args: &[&str]| {
            let mut all = vec!["hub"];
            all.extend(args);
            HttpCli::try_parse_from(all).unwrap().http.cache_control()
        };
        if std::env::var_os("API_CACHE_CONTROL_ENABLED").is_none() {
            assert!(parse(&[]));
        }
        assert!(!parse(&["--no-api-cache-control"]));
        assert!(parse(&["--no-api-cache-control", "--api-cache-control"]));
        assert!(!parse(&["--api-cache-control", "--no-api-cache-control"]));
        assert!(HttpSettings::default().cache_control());
        assert!(!HttpSettings::with_cache_control(false).cache_control());
    }

    #[test]
    fn port_out_of_range_names_the_setting() {
        let s = ServerSettings {
            host: "127.0.0.1".into(),
            port: 0,
        };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("API_PORT") && err.contains("--port"), "{err}");
        let s = ServerSettings { port: 65536, ..s };
        assert!(s.validate().is_err());
        let s = ServerSettings { port: 8000, ..s };
        assert!(s.validate().is_ok());
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let s = ServerSettings {
            host: "::1".into(),
            port: 80,
        };
        assert_eq!(s.bind_address(), "[::1]:80");
    }

    #[test]
    fn log_level_and_retention_are_checked() {
        let ok = RuntimeSettings {
            log_level: "WARNING".into(),
            raw_packet_retention_days: 7,
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.tracing_directive(), "warn");
        let bad = RuntimeSettings {
            log_level: "loud".into(),
            ..ok.clone()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("LOG_LEVEL")
        );
        let bad = RuntimeSettings {
            raw_packet_retention_days: 0,
            ..ok
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("RAW_PACKET_RETENTION_DAYS")
        );
    }

    #[test]
    fn spam_threshold_is_checked() {
        let on = SpamSettings {
            spam_detection_enabled: true,
            spam_score_threshold: 1.5,
        };
        let err = on.validate().unwrap_err().to_string();
        assert!(err.contains("SPAM_SCORE_THRESHOLD"), "{err}");
        let nan = SpamSettings {
            spam_score_threshold: f64::NAN,
            ..on
        };
        assert!(nan.validate().is_err());
        assert!(SpamSettings::default().validate().is_ok());
    }

    #[test]
    fn keys_are_not_debug_printed() {
        let auth = AuthSettings {
            read_key: Some("secret-read".into()),
            admin_key: Some(String::new()),
        }
        .normalized();
        let printed = format!("{auth:?}");
        assert!(!printed.contains("secret-read"));
        assert!(auth.admin_key.is_none());
    }
}
