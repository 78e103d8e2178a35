//! Settings, named as MeshCore Hub names them.
//!
//! Every setting has a CLI flag and an environment variable; `hub-api` loads a `.env` file
//! into the environment first (without overriding what is already set), so the order of
//! precedence is CLI, environment, `.env`, default. Values are checked by [`validate`](ServerSettings::validate)
//! methods whose messages name the environment variable and the flag.

use clap::Args;
use std::fmt;
use std::time::Duration;

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

/// `DATABASE_NAME` when unset: MeshCore Hub's default, and the database its compose's bundled
/// PostgreSQL creates.
pub const DEFAULT_POSTGRES_NAME: &str = "meshcorehub";

/// `DATABASE_USER` when unset: MeshCore Hub's default, and the role its compose's bundled
/// PostgreSQL creates.
pub const DEFAULT_POSTGRES_USER: &str = "meshcorehub";

/// Where MeshCore Hub's collector keeps its SQLite file, below `DATA_HOME`.
pub const DATA_HOME_SQLITE_FILE: &str = "collector/meshcore.db";

/// Which database to use: `DATABASE_URL`, or MeshCore Hub's `DATABASE_*` / `DATA_HOME`
/// settings, so that hub can run on MeshCore Hub's own `.env`.
///
/// Precedence ([`resolve`](Self::resolve)): a non-empty `DATABASE_URL` wins; otherwise
/// `DATABASE_BACKEND=postgres` builds a URL from `DATABASE_HOST`, `DATABASE_PORT`,
/// `DATABASE_NAME`, `DATABASE_USER` and `DATABASE_PASSWORD`; otherwise (SQLite, the default
/// backend) `DATA_HOME` gives `${DATA_HOME}/collector/meshcore.db`, and without it hub's own
/// default [`DEFAULT_DATABASE_URL`]. `DATABASE_SCHEMA` applies to PostgreSQL however it is
/// reached. `DATABASE_HOST`, `DATABASE_NAME`, `DATABASE_USER` or `DATABASE_PASSWORD` set
/// without `DATABASE_BACKEND` (and without `DATABASE_URL`) is refused, naming
/// `DATABASE_BACKEND`: that is how MeshCore Hub v0.19 and later are configured.
#[derive(Args, Clone, Default)]
pub struct DatabaseSettings {
    /// Database URL: `sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://user:pass@host/db`.
    /// MeshCore Hub's SQLAlchemy forms (`sqlite:///./data/meshcore.db`, `postgresql+asyncpg://...`)
    /// are accepted too. Takes precedence over every other database setting but DATABASE_SCHEMA
    /// [default: sqlite://./data/hub.db]
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// `sqlite` or `postgres`, when DATABASE_URL is not set [default: sqlite]
    #[arg(long = "database-backend", env = "DATABASE_BACKEND")]
    pub database_backend: Option<String>,
    /// PostgreSQL host (DATABASE_BACKEND=postgres) [default: localhost]
    #[arg(long = "database-host", env = "DATABASE_HOST")]
    pub database_host: Option<String>,
    /// PostgreSQL port (DATABASE_BACKEND=postgres) [default: 5432]
    #[arg(long = "database-port", env = "DATABASE_PORT")]
    pub database_port: Option<String>,
    /// PostgreSQL database name (DATABASE_BACKEND=postgres) [default: meshcorehub]
    #[arg(long = "database-name", env = "DATABASE_NAME")]
    pub database_name: Option<String>,
    /// PostgreSQL schema holding the tables, set as every connection's search_path (one schema
    /// per instance on a shared cluster) [default: the server's search_path, normally public]
    #[arg(long = "database-schema", env = "DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// PostgreSQL user (DATABASE_BACKEND=postgres) [default: meshcorehub]
    #[arg(long = "database-user", env = "DATABASE_USER")]
    pub database_user: Option<String>,
    /// PostgreSQL password (DATABASE_BACKEND=postgres); never printed
    #[arg(
        long = "database-password",
        env = "DATABASE_PASSWORD",
        hide_env_values = true
    )]
    pub database_password: Option<String>,
    /// Data directory; with the SQLite backend and no DATABASE_URL the database is
    /// `${DATA_HOME}/collector/meshcore.db`
    #[arg(long = "data-home", env = "DATA_HOME")]
    pub data_home: Option<String>,
}

/// The database backend named by `DATABASE_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A set, non-empty value: `.env` files write `NAME=` for "not set".
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for URL user info and path.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl DatabaseSettings {
    /// Settings with only `DATABASE_URL` set.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            database_url: Some(url.into()),
            ..Self::default()
        }
    }

    /// The backend `DATABASE_BACKEND` names (SQLite when unset).
    pub fn backend(&self) -> Result<Backend, SettingError> {
        match given(&self.database_backend)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("sqlite") => Ok(Backend::Sqlite),
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            Some(other) => Err(SettingError::new(
                "DATABASE_BACKEND",
                "database-backend",
                format!("expected sqlite or postgres, got {other:?}"),
            )),
        }
    }

    /// Checks every database setting; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.resolve().map(|_| ())
    }

    /// The PostgreSQL connection setting that is set while `DATABASE_BACKEND` and
    /// `DATABASE_URL` are not, if any: MeshCore Hub v0.19 and later connect to PostgreSQL
    /// from these alone (its compose passes them without `DATABASE_BACKEND`), where hub would
    /// otherwise open or create an SQLite file and serve an empty network.
    fn postgres_part_without_backend(&self) -> Option<&'static str> {
        if given(&self.database_backend).is_some() || given(&self.database_url).is_some() {
            return None;
        }
        [
            ("DATABASE_HOST", &self.database_host),
            ("DATABASE_NAME", &self.database_name),
            ("DATABASE_USER", &self.database_user),
            ("DATABASE_PASSWORD", &self.database_password),
        ]
        .into_iter()
        .find(|(_, value)| given(value).is_some())
        .map(|(name, _)| name)
    }

    /// The database to open, following the precedence documented on the type.
    pub fn resolve(&self) -> Result<crate::db::DatabaseTarget, SettingError> {
        if let Some(part) = self.postgres_part_without_backend() {
            return Err(SettingError::new(
                "DATABASE_BACKEND",
                "database-backend",
                format!(
                    "{part} is set but DATABASE_BACKEND is not: set DATABASE_BACKEND=postgres to \
                     serve that PostgreSQL database (MeshCore Hub v0.19 and later need no such \
                     setting; hub serves SQLite too), or DATABASE_BACKEND=sqlite for SQLite"
                ),
            ));
        }
        let backend = self.backend()?;
        let schema = self.validated_schema()?;
        let url = if let Some(url) = given(&self.database_url) {
            crate::db::normalize_database_url(url)
                .map_err(|problem| SettingError::new("DATABASE_URL", "database-url", problem))?;
            url.to_string()
        } else if backend == Backend::Postgres {
            self.postgres_url()?
        } else if let Some(home) = given(&self.data_home) {
            // `/data` gives `sqlite:///data/...` (absolute), `./data` a relative path.
            format!(
                "sqlite://{}/{DATA_HOME_SQLITE_FILE}",
                home.trim_end_matches('/')
            )
        } else {
            DEFAULT_DATABASE_URL.to_string()
        };
        Ok(crate::db::DatabaseTarget { url, schema })
    }

    /// `DATABASE_SCHEMA`, checked to be a plain PostgreSQL identifier (hub splices it into
    /// `CREATE SCHEMA` and `search_path` unquoted, so PostgreSQL folds it to lower case).
    fn validated_schema(&self) -> Result<Option<String>, SettingError> {
        let Some(schema) = given(&self.database_schema) else {
            return Ok(None);
        };
        let mut chars = schema.chars();
        let plain = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain || schema.len() > 63 {
            return Err(SettingError::new(
                "DATABASE_SCHEMA",
                "database-schema",
                format!(
                    "expected a schema name of letters, digits and underscores (not starting \
                     with a digit, at most 63 characters), got {schema:?}"
                ),
            ));
        }
        Ok(Some(schema.to_ascii_lowercase()))
    }

    /// `postgres://user:password@host:port/name` from the `DATABASE_*` parts, percent-encoded.
    fn postgres_url(&self) -> Result<String, SettingError> {
        let host = given(&self.database_host).unwrap_or("localhost");
        if host
            .chars()
            .any(|c| c.is_whitespace() || "/@?#".contains(c))
        {
            return Err(SettingError::new(
                "DATABASE_HOST",
                "database-host",
                format!("expected a host name or IP address, got {host:?}"),
            ));
        }
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let port = match given(&self.database_port) {
            None => 5432,
            Some(port) => port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                SettingError::new(
                    "DATABASE_PORT",
                    "database-port",
                    format!("must be between 1 and 65535, got {port:?}"),
                )
            })?,
        };
        // MeshCore Hub's defaults (its settings and its compose's bundled PostgreSQL).
        let name = given(&self.database_name).unwrap_or(DEFAULT_POSTGRES_NAME);
        let user = given(&self.database_user).unwrap_or(DEFAULT_POSTGRES_USER);
        // An empty password is "none", as for the other secrets.
        let credentials = match self.database_password.as_deref().filter(|p| !p.is_empty()) {
            Some(password) => format!("{}:{}", percent_encode(user), percent_encode(password)),
            None => percent_encode(user),
        };
        Ok(format!(
            "postgres://{credentials}@{host}:{port}/{}",
            percent_encode(name)
        ))
    }
}

// DATABASE_URL and DATABASE_PASSWORD never reach logs, even through `{:?}`.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::db::redact_url),
            )
            .field("database_backend", &self.database_backend)
            .field("database_host", &self.database_host)
            .field("database_port", &self.database_port)
            .field("database_name", &self.database_name)
            .field("database_schema", &self.database_schema)
            .field("database_user", &self.database_user)
            .field(
                "database_password",
                &self.database_password.as_ref().map(|_| "<set>"),
            )
            .field("data_home", &self.data_home)
            .finish()
    }
}

/// Optional API keys (docs/contract/api.md section 1).
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

/// `RAW_PACKET_RETENTION_DAYS` when unset, as in MeshCore Hub.
pub const DEFAULT_RAW_PACKET_RETENTION_DAYS: i64 = 7;

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
        default_value_t = DEFAULT_RAW_PACKET_RETENTION_DAYS
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

/// `DATA_CHANGE_CHECK_MS` when unset: how often hub looks for changes it did not make.
pub const DEFAULT_DATA_CHANGE_CHECK_MS: u64 = 1000;

/// `KEPT_COUNTS_RENEW_AFTER` when unset, in seconds.
pub const DEFAULT_KEPT_COUNTS_RENEW_AFTER: u64 = 600;

/// How fresh hub keeps what it serves when others write the database (docs/caching.md,
/// "Freshness").
///
/// ```
/// use hub_core::settings::FreshnessSettings;
/// let s = FreshnessSettings::default();
/// assert_eq!(s.check_interval(), Some(std::time::Duration::from_secs(1)));
/// let off = FreshnessSettings { data_change_check_ms: 0, ..s };
/// assert_eq!(off.check_interval(), None);
/// assert!(off.validate().is_ok());
/// ```
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FreshnessSettings {
    /// Milliseconds between two looks at the database for changes hub did not make (the
    /// collector's rows, retention deletes, an operator's SQL); each one found ends the cached
    /// answers and kept counts that read the table. 0 turns the watch off: such changes then
    /// show when a TTL ends.
    #[arg(
        long = "data-change-check-ms",
        env = "DATA_CHANGE_CHECK_MS",
        default_value_t = DEFAULT_DATA_CHANGE_CHECK_MS
    )]
    pub data_change_check_ms: u64,
    /// Seconds after which a kept count of a past day or hour is read again in the background
    /// even though no change of its tables was seen: the bound for changes the watch cannot
    /// see. 0: never by age.
    #[arg(
        long = "kept-counts-renew-after",
        env = "KEPT_COUNTS_RENEW_AFTER",
        default_value_t = DEFAULT_KEPT_COUNTS_RENEW_AFTER
    )]
    pub kept_counts_renew_after: u64,
}

impl Default for FreshnessSettings {
    fn default() -> Self {
        FreshnessSettings {
            data_change_check_ms: DEFAULT_DATA_CHANGE_CHECK_MS,
            kept_counts_renew_after: DEFAULT_KEPT_COUNTS_RENEW_AFTER,
        }
    }
}

impl FreshnessSettings {
    /// Checks both settings are within a day (a longer bound is a TTL's job).
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.data_change_check_ms > 86_400_000 {
            return Err(SettingError::new(
                "DATA_CHANGE_CHECK_MS",
                "data-change-check-ms",
                format!(
                    "must be between 0 (off) and 86400000, got {}",
                    self.data_change_check_ms
                ),
            ));
        }
        if self.kept_counts_renew_after > 86_400 {
            return Err(SettingError::new(
                "KEPT_COUNTS_RENEW_AFTER",
                "kept-counts-renew-after",
                format!(
                    "must be between 0 (never) and 86400 seconds, got {}",
                    self.kept_counts_renew_after
                ),
            ));
        }
        Ok(())
    }

    /// The time between two checks for changes, `None` when the watch is off.
    pub fn check_interval(&self) -> Option<Duration> {
        (self.data_change_check_ms > 0).then(|| Duration::from_millis(self.data_change_check_ms))
    }

    /// The renewal age of kept counts (zero: never by age).
    pub fn renew_after(&self) -> Duration {
        Duration::from_secs(self.kept_counts_renew_after)
    }
}

/// HTTP caching headers (docs/contract/cache-design.md section 4).
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
    /// `/metrics`.
    #[command(flatten)]
    pub metrics: MetricsSettings,
    /// Cross-origin requests.
    #[command(flatten)]
    pub cors: CorsSettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            api_cache_control: true,
            no_api_cache_control: false,
            metrics: MetricsSettings::default(),
            cors: CorsSettings::default(),
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
            ..Self::default()
        }
    }

    /// Checks the metrics and CORS settings.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.metrics.validate()?;
        self.cors.validate()
    }
}

/// Default `METRICS_CACHE_TTL`, in seconds (MeshCore Hub's).
pub const DEFAULT_METRICS_CACHE_TTL_SECS: i64 = 60;

/// `/metrics`, as MeshCore Hub's API reads these settings (docs/metrics.md).
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Serve Prometheus metrics at `/metrics` (on by default; `false` answers 404 there).
    #[arg(
        long = "metrics-enabled",
        env = "METRICS_ENABLED",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = true
    )]
    pub metrics_enabled: bool,
    /// Seconds the network series (`meshcore_*`) of `/metrics` are reused before the
    /// database is read again (0-86400; 0 reads it at every scrape).
    #[arg(
        long = "metrics-cache-ttl",
        env = "METRICS_CACHE_TTL",
        default_value_t = DEFAULT_METRICS_CACHE_TTL_SECS
    )]
    pub metrics_cache_ttl: i64,
    /// With no read key configured, serve `/metrics` without authentication (off by
    /// default: refused, as in MeshCore Hub). With a read key, Basic auth always applies.
    #[arg(
        long = "metrics-public",
        env = "METRICS_PUBLIC",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = false
    )]
    pub metrics_public: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            metrics_enabled: true,
            metrics_cache_ttl: DEFAULT_METRICS_CACHE_TTL_SECS,
            metrics_public: false,
        }
    }
}

impl MetricsSettings {
    /// Checks that the TTL is between 0 and a day.
    pub fn validate(&self) -> Result<(), SettingError> {
        if !(0..=86_400).contains(&self.metrics_cache_ttl) {
            return Err(SettingError::new(
                "METRICS_CACHE_TTL",
                "metrics-cache-ttl",
                format!(
                    "must be between 0 and 86400 seconds, got {}",
                    self.metrics_cache_ttl
                ),
            ));
        }
        Ok(())
    }

    /// How long the network series are reused.
    pub fn cache_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.metrics_cache_ttl.max(0) as u64)
    }
}

/// Cross-origin requests, as MeshCore Hub's API configures them.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSettings {
    /// Comma-separated origins allowed to call the API from a browser, with credentials
    /// (e.g. `https://hub.example.org,http://localhost:8080`). Unset: every origin, without
    /// credentials.
    #[arg(long = "cors-origins", env = "CORS_ORIGINS")]
    pub cors_origins: Option<String>,
}

impl CorsSettings {
    /// The configured origins, trimmed (`None`: any origin, without credentials). An empty
    /// value counts as unset, as in MeshCore Hub.
    pub fn origins(&self) -> Option<Vec<String>> {
        let list = self.cors_origins.as_deref().filter(|v| !v.is_empty())?;
        Some(list.split(',').map(|o| o.trim().to_string()).collect())
    }

    /// Checks that every origin is a header value without wildcards (`*` is what leaving
    /// the setting unset means).
    pub fn validate(&self) -> Result<(), SettingError> {
        for origin in self.origins().into_iter().flatten() {
            let bad = origin.is_empty()
                || origin.contains('*')
                || origin.chars().any(|c| c.is_control() || c == ' ');
            if bad {
                return Err(SettingError::new(
                    "CORS_ORIGINS",
                    "cors-origins",
                    format!(
                        "must be a comma-separated list of origins such as \
                         https://hub.example.org (unset allows every origin), got {origin:?}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The profile role names MeshCore Hub's dashboard counts and profile list read
/// (`OIDC_ROLE_*`, the web tier's names). Authorization keeps the fixed names `admin`,
/// `operator` and `member`, as MeshCore Hub's API does.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct RoleNameSettings {
    /// Role counted by the dashboard's `total_operators`.
    #[arg(
        long = "oidc-role-operator",
        env = "OIDC_ROLE_OPERATOR",
        default_value = "operator"
    )]
    pub oidc_role_operator: String,
    /// Role counted by the dashboard's `total_members`.
    #[arg(
        long = "oidc-role-member",
        env = "OIDC_ROLE_MEMBER",
        default_value = "member"
    )]
    pub oidc_role_member: String,
    /// Role of test accounts, left out of the dashboard's counts and (by default) the
    /// profile list; empty: no account is a test account.
    #[arg(
        long = "oidc-role-test",
        env = "OIDC_ROLE_TEST",
        default_value = crate::roles::TEST_ROLE
    )]
    pub oidc_role_test: String,
}

impl Default for RoleNameSettings {
    fn default() -> Self {
        Self {
            oidc_role_operator: "operator".into(),
            oidc_role_member: "member".into(),
            oidc_role_test: crate::roles::TEST_ROLE.into(),
        }
    }
}

impl RoleNameSettings {
    /// Checks that each name could appear in a comma list of roles: no comma, no spaces.
    pub fn validate(&self) -> Result<(), SettingError> {
        let names = [
            (
                "OIDC_ROLE_OPERATOR",
                "oidc-role-operator",
                &self.oidc_role_operator,
                false,
            ),
            (
                "OIDC_ROLE_MEMBER",
                "oidc-role-member",
                &self.oidc_role_member,
                false,
            ),
            (
                "OIDC_ROLE_TEST",
                "oidc-role-test",
                &self.oidc_role_test,
                true,
            ),
        ];
        for (env, flag, name, may_be_empty) in names {
            let bad = (name.is_empty() && !may_be_empty)
                || name
                    .chars()
                    .any(|c| c == ',' || c.is_whitespace() || c.is_control());
            if bad {
                return Err(SettingError::new(
                    env,
                    flag,
                    format!("must be one role name without commas or spaces, got {name:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The test role, `None` when it is empty (no account is a test account).
    pub fn test_role(&self) -> Option<&str> {
        Some(self.oidc_role_test.as_str()).filter(|r| !r.is_empty())
    }
}

/// Default `API_HEADER_READ_TIMEOUT`, in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default `API_IDLE_TIMEOUT`, in seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;

/// How long a client and the database may take (`hub-api serve` only: `migrate` and `seed`
/// run long statements on purpose). Whole seconds, 1-3600.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutSettings {
    /// Seconds a client has to send a request's line and headers, from its first byte (or
    /// from connecting); a slower client is disconnected.
    #[arg(
        long = "header-read-timeout",
        env = "API_HEADER_READ_TIMEOUT",
        default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS
    )]
    pub header_read_timeout: u64,
    /// Seconds a connection may stay without traffic either way (keep-alive between requests)
    /// before it is closed.
    #[arg(
        long = "idle-timeout",
        env = "API_IDLE_TIMEOUT",
        default_value_t = DEFAULT_IDLE_TIMEOUT_SECS
    )]
    pub idle_timeout: u64,
    /// Seconds a request may wait for the database: PostgreSQL's statement_timeout, SQLite's
    /// busy timeout and the wait for a pooled connection; past it the request gets a 503.
    #[arg(
        long = "database-statement-timeout",
        env = "DATABASE_STATEMENT_TIMEOUT",
        default_value_t = crate::db::DEFAULT_STATEMENT_TIMEOUT.as_secs()
    )]
    pub database_statement_timeout: u64,
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT_SECS,
            database_statement_timeout: crate::db::DEFAULT_STATEMENT_TIMEOUT.as_secs(),
        }
    }
}

impl TimeoutSettings {
    /// Checks each timeout is 1-3600 seconds.
    pub fn validate(&self) -> Result<(), SettingError> {
        for (value, env, flag) in [
            (
                self.header_read_timeout,
                "API_HEADER_READ_TIMEOUT",
                "header-read-timeout",
            ),
            (self.idle_timeout, "API_IDLE_TIMEOUT", "idle-timeout"),
            (
                self.database_statement_timeout,
                "DATABASE_STATEMENT_TIMEOUT",
                "database-statement-timeout",
            ),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(SettingError::new(
                    env,
                    flag,
                    format!("must be between 1 and 3600 seconds, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// [`header_read_timeout`](Self::header_read_timeout) as a duration.
    pub fn header_read(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout)
    }

    /// [`idle_timeout`](Self::idle_timeout) as a duration.
    pub fn idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.idle_timeout)
    }

    /// [`database_statement_timeout`](Self::database_statement_timeout) as a duration.
    pub fn statement(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.database_statement_timeout)
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

/// Default `NETWORK_NAME`, as MeshCore Hub's.
pub const DEFAULT_NETWORK_NAME: &str = "MeshCore Network";

/// The public RSS and Atom feeds (`/api/v1/feeds/...`), as MeshCore Hub v0.21 serves them.
///
/// ```
/// use hub_core::settings::FeedSettings;
/// let feeds = FeedSettings { web_public_url: Some("https://mesh.example.org/".into()), ..FeedSettings::default() };
/// assert!(feeds.feature_feeds);
/// assert_eq!(feeds.public_origin(), Some("https://mesh.example.org"));
/// assert_eq!(FeedSettings::default().public_origin(), None);
/// ```
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FeedSettings {
    /// Serve the RSS and Atom feeds (on by default); when off every feed answers 404.
    #[arg(
        long = "feature-feeds",
        env = "FEATURE_FEEDS",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = true
    )]
    pub feature_feeds: bool,
    /// Public origin of the web dashboard (e.g. `https://mesh.example.org`) that feed links
    /// point at; unset, links use X-Forwarded-Host/X-Forwarded-Proto, else the request's own
    /// origin.
    #[arg(long = "web-public-url", env = "WEB_PUBLIC_URL")]
    pub web_public_url: Option<String>,
    /// Network display name: the title of every feed.
    #[arg(
        long = "network-name",
        env = "NETWORK_NAME",
        default_value = DEFAULT_NETWORK_NAME
    )]
    pub network_name: String,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            feature_feeds: true,
            web_public_url: None,
            network_name: DEFAULT_NETWORK_NAME.to_owned(),
        }
    }
}

impl FeedSettings {
    /// Checks that `WEB_PUBLIC_URL`, when set, is an absolute http(s) URL without query or
    /// fragment (feed links are built by appending paths to it).
    pub fn validate(&self) -> Result<(), SettingError> {
        let Some(origin) = self.public_origin() else {
            return Ok(());
        };
        let problem = match url::Url::parse(origin) {
            Err(e) => Some(format!("must be an absolute URL: {e}")),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => Some(format!(
                "must be an http:// or https:// URL, got {origin:?}"
            )),
            Ok(url) if url.query().is_some() || url.fragment().is_some() => {
                Some(format!("must not have a query or fragment, got {origin:?}"))
            }
            Ok(_) => None,
        };
        match problem {
            Some(problem) => Err(SettingError::new(
                "WEB_PUBLIC_URL",
                "web-public-url",
                problem,
            )),
            None => Ok(()),
        }
    }

    /// `WEB_PUBLIC_URL` without trailing slashes, `None` when unset or blank (as compose
    /// passes an unset variable).
    pub fn public_origin(&self) -> Option<&str> {
        self.web_public_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn web_public_url_is_validated() {
        let with = |url: &str| FeedSettings {
            web_public_url: Some(url.into()),
            ..FeedSettings::default()
        };
        assert!(FeedSettings::default().validate().is_ok());
        assert!(with("").validate().is_ok());
        assert!(with("https://mesh.example.org/").validate().is_ok());
        assert!(with("http://10.0.0.2:8080/hub").validate().is_ok());
        for bad in [
            "mesh.example.org",
            "ftp://mesh.example.org",
            "https://a/?x=1",
        ] {
            let err = with(bad).validate().expect_err(bad).to_string();
            assert!(err.contains("WEB_PUBLIC_URL"), "{err}");
        }
        assert_eq!(with("https://a/b//").public_origin(), Some("https://a/b"));
    }

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
    fn timeouts_are_bounded_and_named() {
        #[derive(Parser)]
        struct TimeoutCli {
            #[command(flatten)]
            timeouts: TimeoutSettings,
        }
        let parsed = TimeoutCli::try_parse_from(["hub", "--header-read-timeout", "3"])
            .unwrap()
            .timeouts;
        assert_eq!(parsed.header_read_timeout, 3);
        assert!(TimeoutSettings::default().validate().is_ok());
        let zero = TimeoutSettings {
            database_statement_timeout: 0,
            ..TimeoutSettings::default()
        };
        let err = zero.validate().unwrap_err().to_string();
        assert!(err.contains("DATABASE_STATEMENT_TIMEOUT"), "{err}");
        let long = TimeoutSettings {
            idle_timeout: 3601,
            ..TimeoutSettings::default()
        };
        assert!(
            long.validate()
                .unwrap_err()
                .to_string()
                .contains("--idle-timeout")
        );
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

    fn postgres_parts() -> DatabaseSettings {
        DatabaseSettings {
            database_backend: Some("postgres".into()),
            database_host: Some("db.example".into()),
            database_port: Some("5433".into()),
            database_name: Some("mesh net".into()),
            database_user: Some("hub@site".into()),
            database_password: Some("p@ss:w/rd %1".into()),
            database_schema: Some("meshcorehub".into()),
            ..DatabaseSettings::default()
        }
    }

    #[test]
    fn postgres_url_is_built_from_the_parts_with_everything_encoded() {
        let target = postgres_parts().resolve().unwrap();
        assert_eq!(
            target.url,
            "postgres://hub%40site:p%40ss%3Aw%2Frd%20%251@db.example:5433/mesh%20net"
        );
        assert_eq!(target.schema.as_deref(), Some("meshcorehub"));
        // The URL that sqlx parses gives back the password as it was set.
        let options: sea_orm::sqlx::postgres::PgConnectOptions = target.url.parse().unwrap();
        assert_eq!(options.get_username(), "hub@site");
        assert_eq!(options.get_database(), Some("mesh net"));
        let defaults = DatabaseSettings {
            database_backend: Some("PostgreSQL".into()),
            ..DatabaseSettings::default()
        };
        assert_eq!(
            defaults.resolve().unwrap().url,
            "postgres://meshcorehub@localhost:5432/meshcorehub"
        );
        let ipv6 = DatabaseSettings {
            database_host: Some("::1".into()),
            ..defaults
        };
        assert_eq!(
            ipv6.resolve().unwrap().url,
            "postgres://meshcorehub@[::1]:5432/meshcorehub"
        );
    }

    #[test]
    fn the_password_is_never_printed() {
        let settings = postgres_parts();
        let target = settings.resolve().unwrap();
        for printed in [
            format!("{settings:?}"),
            format!("{target:?}"),
            target.describe(),
        ] {
            assert!(!printed.contains("p@ss"), "{printed}");
            assert!(!printed.contains("p%40ss"), "{printed}");
        }
        assert_eq!(
            target.describe(),
            "postgres://hub%40site:***@db.example:5433/mesh%20net (schema meshcorehub)"
        );
        let with_url = DatabaseSettings::from_url("postgres://hub:hunter2@db/hub");
        assert!(!format!("{with_url:?}").contains("hunter2"));
    }

    #[test]
    fn database_url_takes_precedence_over_the_parts() {
        let settings = DatabaseSettings {
            database_url: Some("postgresql+asyncpg://a:b@elsewhere/x".into()),
            data_home: Some("/srv/meshcore".into()),
            ..postgres_parts()
        };
        let target = settings.resolve().unwrap();
        assert_eq!(target.url, "postgresql+asyncpg://a:b@elsewhere/x");
        // The schema is not part of a URL, so it still applies.
        assert_eq!(target.schema.as_deref(), Some("meshcorehub"));
        // An empty DATABASE_URL (`DATABASE_URL=` in a .env) is unset.
        let settings = DatabaseSettings {
            database_url: Some(" ".into()),
            ..postgres_parts()
        };
        assert!(
            settings
                .resolve()
                .unwrap()
                .url
                .starts_with("postgres://hub%40site")
        );
    }

    #[test]
    fn sqlite_defaults_follow_data_home() {
        assert_eq!(
            DatabaseSettings::default().resolve().unwrap().url,
            DEFAULT_DATABASE_URL
        );
        let in_home = |home: &str| DatabaseSettings {
            data_home: Some(home.into()),
            ..DatabaseSettings::default()
        };
        assert_eq!(
            in_home("/srv/meshcore/").resolve().unwrap().url,
            "sqlite:///srv/meshcore/collector/meshcore.db"
        );
        assert_eq!(
            in_home("./data").resolve().unwrap().url,
            "sqlite://./data/collector/meshcore.db"
        );
        // DATA_HOME names the SQLite file only; a PostgreSQL backend ignores it.
        let postgres = DatabaseSettings {
            database_backend: Some("postgres".into()),
            ..in_home("/srv/meshcore")
        };
        assert!(postgres.resolve().unwrap().url.starts_with("postgres://"));
    }

    /// MeshCore Hub v0.19+'s compose passes the PostgreSQL parts without DATABASE_BACKEND.
    #[test]
    fn postgres_parts_without_a_backend_ask_for_one() {
        for part in [
            DatabaseSettings {
                database_host: Some("postgres".into()),
                ..DatabaseSettings::default()
            },
            DatabaseSettings {
                database_name: Some("meshcorehub".into()),
                ..DatabaseSettings::default()
            },
            DatabaseSettings {
                database_user: Some("meshcorehub".into()),
                ..DatabaseSettings::default()
            },
            DatabaseSettings {
                database_password: Some("meshcorehub".into()),
                data_home: Some("/data".into()),
                ..DatabaseSettings::default()
            },
        ] {
            let message = part.validate().unwrap_err().to_string();
            assert!(
                message.contains("DATABASE_BACKEND=postgres")
                    && message.contains("--database-backend"),
                "{message}"
            );
        }
        // Either backend named explicitly, or a URL, settles it; empty values are unset.
        let parts = DatabaseSettings {
            database_host: Some("postgres".into()),
            database_password: Some(String::new()),
            ..DatabaseSettings::default()
        };
        for backend in ["sqlite", "postgres"] {
            let explicit = DatabaseSettings {
                database_backend: Some(backend.into()),
                ..parts.clone()
            };
            assert!(explicit.resolve().unwrap().url.starts_with(backend));
        }
        assert!(
            DatabaseSettings {
                database_url: Some("sqlite://./x.db".into()),
                ..parts
            }
            .validate()
            .is_ok()
        );
        assert!(
            DatabaseSettings {
                database_host: Some(" ".into()),
                database_password: Some(String::new()),
                ..DatabaseSettings::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn invalid_database_settings_name_the_setting() {
        let problem = |settings: DatabaseSettings| settings.validate().unwrap_err().to_string();
        let message = problem(DatabaseSettings {
            database_backend: Some("mysql".into()),
            ..DatabaseSettings::default()
        });
        assert!(message.contains("DATABASE_BACKEND") && message.contains("--database-backend"));
        for port in ["0", "65536", "x"] {
            let message = problem(DatabaseSettings {
                database_port: Some(port.into()),
                ..postgres_parts()
            });
            assert!(message.contains("DATABASE_PORT"), "{message}");
        }
        for schema in ["1abc", "mesh-core", "a;DROP TABLE nodes", &"s".repeat(64)] {
            let message = problem(DatabaseSettings {
                database_schema: Some(schema.into()),
                ..postgres_parts()
            });
            assert!(message.contains("DATABASE_SCHEMA"), "{message}");
        }
        let message = problem(DatabaseSettings {
            database_host: Some("user@host".into()),
            ..postgres_parts()
        });
        assert!(message.contains("DATABASE_HOST"), "{message}");
        let message = problem(DatabaseSettings::from_url("mysql://db/hub"));
        assert!(message.contains("DATABASE_URL"), "{message}");
        // Mixed case folds as PostgreSQL folds an unquoted name.
        let settings = DatabaseSettings {
            database_schema: Some("MeshCoreHub".into()),
            ..postgres_parts()
        };
        assert_eq!(
            settings.resolve().unwrap().schema.as_deref(),
            Some("meshcorehub")
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
