//! Cache settings (docs/contract/cache-design.md section 8), meant to be flattened into the server's settings:
//!
//! ```
//! use clap::Parser;
//! use hub_core::cache::CacheSettings;
//!
//! #[derive(Parser)]
//! struct Settings {
//!     #[command(flatten)]
//!     cache: CacheSettings,
//! }
//!
//! let s = Settings::parse_from(["hub", "--redis-enabled", "--redis-port", "6380"]);
//! assert!(s.cache.enabled());
//! assert_eq!(s.cache.redis_port, 6380);
//! s.cache.validate().unwrap();
//! ```

use std::fmt;
use std::time::Duration;

use crate::settings::SettingError;
use clap::Args;
use clap::builder::BoolishValueParser;

/// Redis response-cache settings. Precedence: CLI, then environment, then defaults (a `.env`
/// file is loaded into the environment by the caller before parsing).
///
/// `Debug` and `Display` never show the password.
#[derive(Clone, Args, PartialEq, Eq)]
pub struct CacheSettings {
    /// Use Redis for response caching (otherwise responses are never cached).
    #[arg(
        long = "redis-enabled",
        env = "REDIS_ENABLED",
        value_parser = BoolishValueParser::new(),
        overrides_with = "no_redis"
    )]
    pub redis_enabled: bool,

    /// Disable Redis even when REDIS_ENABLED is set.
    #[arg(long = "no-redis", overrides_with = "redis_enabled")]
    pub no_redis: bool,

    /// Redis host.
    #[arg(long = "redis-host", env = "REDIS_HOST", default_value = "localhost")]
    pub redis_host: String,

    /// Redis port (1-65535).
    #[arg(long = "redis-port", env = "REDIS_PORT", default_value_t = 6379)]
    pub redis_port: u32,

    /// Redis database number.
    #[arg(long = "redis-db", env = "REDIS_DB", default_value_t = 0)]
    pub redis_db: i64,

    /// Redis password (never printed or logged).
    #[arg(
        long = "redis-password",
        env = "REDIS_PASSWORD",
        hide_env_values = true
    )]
    pub redis_password: Option<String>,

    /// Redis URL (`redis://[:password@]host[:port][/db]`, or `rediss://` for TLS); when set
    /// it replaces REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_PASSWORD.
    #[arg(long = "redis-url", env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Redis Cluster nodes as a comma list of host:port; when set the cache uses the cluster
    /// (with REDIS_PASSWORD, if any) instead of one server.
    #[arg(long = "redis-cluster-nodes", env = "REDIS_CLUSTER_NODES")]
    pub redis_cluster_nodes: Option<String>,

    /// Key namespace, so several instances can share one Redis. No `:` allowed.
    #[arg(
        long = "redis-key-prefix",
        env = "REDIS_KEY_PREFIX",
        default_value = "hub"
    )]
    pub redis_key_prefix: String,

    /// Seconds a `ttl = default` response stays cached.
    #[arg(
        long = "redis-cache-ttl",
        env = "REDIS_CACHE_TTL",
        default_value_t = 30,
        allow_negative_numbers = true
    )]
    pub redis_cache_ttl: i64,

    /// Seconds a `ttl = dashboard` response stays cached.
    #[arg(
        long = "redis-cache-ttl-dashboard",
        env = "REDIS_CACHE_TTL_DASHBOARD",
        default_value_t = 30,
        allow_negative_numbers = true
    )]
    pub redis_cache_ttl_dashboard: i64,

    /// Seconds a `ttl = feeds` response (the RSS and Atom feeds) stays cached; also the
    /// `max-age` of their `Cache-Control: public`.
    #[arg(
        long = "redis-cache-ttl-feeds",
        env = "REDIS_CACHE_TTL_FEEDS",
        default_value_t = 300,
        allow_negative_numbers = true
    )]
    pub redis_cache_ttl_feeds: i64,

    /// Seconds past its TTL that a response is still served (marked stale) while one
    /// background refresh recomputes it; also served when that refresh fails. 0 turns it off.
    #[arg(
        long = "redis-cache-grace",
        env = "REDIS_CACHE_GRACE",
        default_value_t = 30,
        allow_negative_numbers = true
    )]
    pub redis_cache_grace: i64,

    /// Upper bound in milliseconds on every Redis call.
    #[arg(
        long = "redis-timeout-ms",
        env = "REDIS_TIMEOUT_MS",
        default_value_t = 150,
        allow_negative_numbers = true
    )]
    pub redis_timeout_ms: i64,

    /// Keep a near cache of Redis values in process memory, kept coherent by Redis client
    /// tracking (only used while Redis is enabled).
    #[arg(
        long = "cache-local",
        env = "CACHE_LOCAL_ENABLED",
        value_parser = BoolishValueParser::new(),
        default_value_t = true,
        overrides_with = "no_cache_local"
    )]
    pub cache_local: bool,

    /// Turn the near cache off even when CACHE_LOCAL_ENABLED is set.
    #[arg(long = "no-cache-local", overrides_with = "cache_local")]
    pub no_cache_local: bool,

    /// Upper bound of the near cache in MiB (keys, values and bookkeeping), 1-65536.
    #[arg(
        long = "cache-local-max-mb",
        env = "CACHE_LOCAL_MAX_MB",
        default_value_t = 64,
        allow_negative_numbers = true
    )]
    pub cache_local_max_mb: i64,
    /// Longest, in milliseconds, a request waits for a concurrent identical request that is
    /// already computing the response; past it, it computes the response itself.
    #[arg(
        long = "cache-coalesce-wait-ms",
        env = "CACHE_COALESCE_WAIT_MS",
        default_value_t = 10_000,
        allow_negative_numbers = true
    )]
    pub cache_coalesce_wait_ms: i64,
}

/// Largest accepted `CACHE_COALESCE_WAIT_MS`: a waiter held longer than this is a hung
/// request, whatever its leader does.
const MAX_COALESCE_WAIT_MS: i64 = 600_000;

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            redis_enabled: false,
            no_redis: false,
            redis_host: "localhost".into(),
            redis_port: 6379,
            redis_db: 0,
            redis_password: None,
            redis_url: None,
            redis_cluster_nodes: None,
            redis_key_prefix: "hub".into(),
            redis_cache_ttl: 30,
            redis_cache_ttl_dashboard: 30,
            redis_cache_ttl_feeds: 300,
            redis_cache_grace: 30,
            redis_timeout_ms: 150,
            cache_local: true,
            no_cache_local: false,
            cache_local_max_mb: 64,
            cache_coalesce_wait_ms: 10_000,
        }
    }
}

/// Builds the validation error; flags here are written with their dashes.
fn invalid(env: &'static str, flag: &'static str, reason: String) -> SettingError {
    SettingError::new(env, flag.trim_start_matches('-'), reason)
}

impl CacheSettings {
    /// Whether Redis caching is on (`--no-redis` wins over `REDIS_ENABLED`).
    pub fn enabled(&self) -> bool {
        self.redis_enabled && !self.no_redis
    }

    /// Checks values clap cannot: ranges, TTL sign, prefix shape. Run it at startup and exit
    /// with the message on error.
    pub fn validate(&self) -> Result<(), SettingError> {
        if !(1..=65535).contains(&self.redis_port) {
            return Err(invalid(
                "REDIS_PORT",
                "--redis-port",
                format!("must be between 1 and 65535, got {}", self.redis_port),
            ));
        }
        if self.redis_db < 0 {
            return Err(invalid(
                "REDIS_DB",
                "--redis-db",
                format!("must be >= 0, got {}", self.redis_db),
            ));
        }
        if self.redis_host.trim().is_empty() {
            return Err(invalid(
                "REDIS_HOST",
                "--redis-host",
                "must not be empty".into(),
            ));
        }
        if let Some(url) = self.redis_url.as_deref().filter(|u| !u.is_empty()) {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    "REDIS_URL",
                    "--redis-url",
                    "must start with redis:// or rediss:// (TLS)".into(),
                ));
            }
            // The crate's own parser decides; its message never repeats the URL (a password).
            if let Err(e) = redis::IntoConnectionInfo::into_connection_info(url) {
                return Err(invalid(
                    "REDIS_URL",
                    "--redis-url",
                    format!(
                        "is not a usable Redis URL: {}",
                        e.detail().unwrap_or("invalid")
                    ),
                ));
            }
            if !self.cluster_nodes().is_empty() {
                return Err(invalid(
                    "REDIS_URL",
                    "--redis-url",
                    "and REDIS_CLUSTER_NODES are alternatives: set only one".into(),
                ));
            }
        }
        // Empty (as compose passes an unset variable) means one server.
        if !self.cluster_nodes().is_empty() {
            for node in self.cluster_nodes() {
                let port_ok = node
                    .rsplit_once(':')
                    .filter(|(host, _)| !host.is_empty())
                    .and_then(|(_, port)| port.parse::<u16>().ok())
                    .is_some_and(|port| port > 0);
                if !port_ok {
                    return Err(invalid(
                        "REDIS_CLUSTER_NODES",
                        "--redis-cluster-nodes",
                        format!("must be a comma list of host:port, got {node:?}"),
                    ));
                }
            }
            if self.redis_db != 0 {
                return Err(invalid(
                    "REDIS_DB",
                    "--redis-db",
                    format!(
                        "must be 0 with REDIS_CLUSTER_NODES (a cluster has one database), got {}",
                        self.redis_db
                    ),
                ));
            }
        }
        if self.redis_key_prefix.is_empty() {
            return Err(invalid(
                "REDIS_KEY_PREFIX",
                "--redis-key-prefix",
                "must not be empty".into(),
            ));
        }
        if self.redis_key_prefix.contains(':') {
            return Err(invalid(
                "REDIS_KEY_PREFIX",
                "--redis-key-prefix",
                format!("must not contain ':', got {:?}", self.redis_key_prefix),
            ));
        }
        if self
            .redis_key_prefix
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '*' | '{' | '}'))
        {
            return Err(invalid(
                "REDIS_KEY_PREFIX",
                "--redis-key-prefix",
                format!(
                    "must not contain whitespace, '*', '{{' or '}}', got {:?}",
                    self.redis_key_prefix
                ),
            ));
        }
        for (env, flag, v) in [
            ("REDIS_CACHE_TTL", "--redis-cache-ttl", self.redis_cache_ttl),
            (
                "REDIS_CACHE_TTL_DASHBOARD",
                "--redis-cache-ttl-dashboard",
                self.redis_cache_ttl_dashboard,
            ),
            (
                "REDIS_CACHE_TTL_FEEDS",
                "--redis-cache-ttl-feeds",
                self.redis_cache_ttl_feeds,
            ),
        ] {
            if v <= 0 {
                return Err(invalid(
                    env,
                    flag,
                    format!("must be a positive number of seconds, got {v}"),
                ));
            }
        }
        if !(0..=86_400).contains(&self.redis_cache_grace) {
            return Err(invalid(
                "REDIS_CACHE_GRACE",
                "--redis-cache-grace",
                format!(
                    "must be between 0 (off) and 86400 seconds, got {}",
                    self.redis_cache_grace
                ),
            ));
        }
        if self.redis_timeout_ms <= 0 {
            return Err(invalid(
                "REDIS_TIMEOUT_MS",
                "--redis-timeout-ms",
                format!(
                    "must be a positive number of milliseconds, got {}",
                    self.redis_timeout_ms
                ),
            ));
        }
        if !(1..=65536).contains(&self.cache_local_max_mb) {
            return Err(invalid(
                "CACHE_LOCAL_MAX_MB",
                "--cache-local-max-mb",
                format!(
                    "must be between 1 and 65536 (MiB), got {}",
                    self.cache_local_max_mb
                ),
            ));
        }
        if !(1..=MAX_COALESCE_WAIT_MS).contains(&self.cache_coalesce_wait_ms) {
            return Err(invalid(
                "CACHE_COALESCE_WAIT_MS",
                "--cache-coalesce-wait-ms",
                format!(
                    "must be between 1 and {MAX_COALESCE_WAIT_MS} milliseconds, got {}",
                    self.cache_coalesce_wait_ms
                ),
            ));
        }
        Ok(())
    }

    /// `REDIS_CLUSTER_NODES` as a list (empty when unset).
    pub fn cluster_nodes(&self) -> Vec<String> {
        self.redis_cluster_nodes
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The near cache's byte bound, `None` when it is off (or Redis is, or Redis is a
    /// cluster: tracking would need a connection per master).
    pub fn near_cache_bytes(&self) -> Option<usize> {
        let on = self.enabled()
            && self.cache_local
            && !self.no_cache_local
            && self.cluster_nodes().is_empty();
        let mib = usize::try_from(self.cache_local_max_mb.clamp(1, 65536)).unwrap_or(64);
        on.then_some(mib << 20)
    }

    /// `REDIS_CACHE_TTL` as a duration (at least 1 s even if unvalidated).
    pub fn ttl_default(&self) -> Duration {
        Duration::from_secs(self.redis_cache_ttl.max(1).unsigned_abs())
    }

    /// `REDIS_CACHE_TTL_DASHBOARD` as a duration (at least 1 s even if unvalidated).
    pub fn ttl_dashboard(&self) -> Duration {
        Duration::from_secs(self.redis_cache_ttl_dashboard.max(1).unsigned_abs())
    }

    /// `REDIS_CACHE_TTL_FEEDS` as a duration (at least 1 s even if unvalidated).
    pub fn ttl_feeds(&self) -> Duration {
        Duration::from_secs(self.redis_cache_ttl_feeds.max(1).unsigned_abs())
    }

    /// `REDIS_CACHE_GRACE` as a duration (zero: stale-while-revalidate off).
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.redis_cache_grace.max(0).unsigned_abs())
    }

    /// `REDIS_TIMEOUT_MS` as a duration (at least 1 ms even if unvalidated).
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms.max(1).unsigned_abs())
    }

    /// Where Redis is, for the banner: the cluster nodes, the URL without its password, or
    /// host, port and db.
    fn target(&self) -> String {
        let nodes = self.cluster_nodes();
        if !nodes.is_empty() {
            return format!("cluster={}", nodes.join(","));
        }
        match self.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => format!("url={}", redact_url(url)),
            None => format!(
                "host={} port={} db={}",
                self.redis_host, self.redis_port, self.redis_db
            ),
        }
    }

    /// `CACHE_COALESCE_WAIT_MS` as a duration (at least 1 ms even if unvalidated).
    pub fn coalesce_wait(&self) -> Duration {
        Duration::from_millis(self.cache_coalesce_wait_ms.max(1).unsigned_abs())
    }

    /// The startup banner line: every setting, the password only as `set`/`unset`.
    pub fn banner(&self) -> String {
        self.to_string()
    }
}

/// A Redis URL for banners and logs: the password replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

impl fmt::Display for CacheSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redis: enabled={} {} password={} key_prefix={} \
             cache_ttl={}s cache_ttl_dashboard={}s grace={}s timeout={}ms near_cache={} \
             coalesce_wait={}ms",
            self.enabled(),
            self.target(),
            if self
                .redis_password
                .as_deref()
                .is_some_and(|p| !p.is_empty())
            {
                "set"
            } else {
                "unset"
            },
            self.redis_key_prefix,
            self.redis_cache_ttl,
            self.redis_cache_ttl_dashboard,
            self.redis_cache_grace,
            self.redis_timeout_ms,
            match self.near_cache_bytes() {
                Some(bytes) => format!("{}MiB", bytes >> 20),
                None => "off".to_owned(),
            },
            self.cache_coalesce_wait_ms,
        )
    }
}

impl fmt::Debug for CacheSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheSettings")
            .field("enabled", &self.enabled())
            .field("redis_host", &self.redis_host)
            .field("redis_port", &self.redis_port)
            .field("redis_db", &self.redis_db)
            .field(
                "redis_password",
                &self.redis_password.as_ref().map(|_| "<redacted>"),
            )
            .field("target", &self.target())
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("redis_cache_ttl", &self.redis_cache_ttl)
            .field("redis_cache_ttl_dashboard", &self.redis_cache_ttl_dashboard)
            .field("redis_cache_ttl_feeds", &self.redis_cache_ttl_feeds)
            .field("redis_cache_grace", &self.redis_cache_grace)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("near_cache_bytes", &self.near_cache_bytes())
            .field("cache_coalesce_wait_ms", &self.cache_coalesce_wait_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        cache: CacheSettings,
    }

    /// Env-free parsing: these tests must not depend on (or mutate) the process environment,
    /// so they only pass CLI flags, which take precedence over any REDIS_* variables anyway.
    fn parse(args: &[&str]) -> CacheSettings {
        let mut argv = vec!["hub"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("parses").cache
    }

    fn all_flags() -> Vec<&'static str> {
        vec![
            "--redis-host",
            "localhost",
            "--redis-port",
            "6379",
            "--redis-db",
            "0",
            "--redis-key-prefix",
            "hub",
            "--redis-cache-ttl",
            "30",
            "--redis-cache-ttl-dashboard",
            "30",
            "--redis-timeout-ms",
            "150",
            "--cache-coalesce-wait-ms",
            "10000",
        ]
    }

    #[test]
    fn defaults_match_the_design() {
        let d = CacheSettings::default();
        assert!(!d.enabled());
        assert_eq!(d.redis_host, "localhost");
        assert_eq!(d.redis_port, 6379);
        assert_eq!(d.redis_db, 0);
        assert_eq!(d.redis_password, None);
        assert_eq!(d.redis_key_prefix, "hub");
        assert_eq!(d.ttl_default(), Duration::from_secs(30));
        assert_eq!(d.ttl_dashboard(), Duration::from_secs(30));
        assert_eq!(d.ttl_feeds(), Duration::from_secs(300));
        assert_eq!(d.timeout(), Duration::from_millis(150));
        assert_eq!(d.coalesce_wait(), Duration::from_secs(10));
        d.validate().unwrap();
    }

    #[test]
    fn enable_and_disable_flags() {
        let mut a = all_flags();
        a.push("--redis-enabled");
        assert!(parse(&a).enabled());
        a.push("--no-redis");
        assert!(!parse(&a).enabled());
        let mut b = all_flags();
        b.extend(["--no-redis", "--redis-enabled"]);
        assert!(parse(&b).enabled(), "last flag wins");
    }

    #[test]
    fn flags_parse() {
        let s = parse(&[
            "--redis-host",
            "cache.internal",
            "--redis-port",
            "6380",
            "--redis-db",
            "2",
            "--redis-password",
            "s3cret",
            "--redis-key-prefix",
            "hub2",
            "--redis-cache-ttl",
            "10",
            "--redis-cache-ttl-dashboard",
            "60",
            "--redis-timeout-ms",
            "75",
            "--cache-coalesce-wait-ms",
            "250",
        ]);
        assert_eq!(s.redis_host, "cache.internal");
        assert_eq!(s.redis_port, 6380);
        assert_eq!(s.redis_db, 2);
        assert_eq!(s.redis_password.as_deref(), Some("s3cret"));
        assert_eq!(s.redis_key_prefix, "hub2");
        assert_eq!(s.ttl_default(), Duration::from_secs(10));
        assert_eq!(s.ttl_dashboard(), Duration::from_secs(60));
        assert_eq!(s.timeout(), Duration::from_millis(75));
        assert_eq!(s.coalesce_wait(), Duration::from_millis(250));
        s.validate().unwrap();
    }

    #[test]
    fn env_names_are_exact() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let envs: Vec<(String, String)> = cmd
            .get_arguments()
            .filter_map(|a| {
                Some((
                    a.get_long()?.to_string(),
                    a.get_env()?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        for (flag, env) in [
            ("redis-enabled", "REDIS_ENABLED"),
            ("redis-host", "REDIS_HOST"),
            ("redis-port", "REDIS_PORT"),
            ("redis-db", "REDIS_DB"),
            ("redis-password", "REDIS_PASSWORD"),
            ("redis-key-prefix", "REDIS_KEY_PREFIX"),
            ("redis-cache-ttl", "REDIS_CACHE_TTL"),
            ("redis-cache-ttl-dashboard", "REDIS_CACHE_TTL_DASHBOARD"),
            ("redis-cache-ttl-feeds", "REDIS_CACHE_TTL_FEEDS"),
            ("redis-timeout-ms", "REDIS_TIMEOUT_MS"),
            ("cache-coalesce-wait-ms", "CACHE_COALESCE_WAIT_MS"),
        ] {
            assert!(
                envs.contains(&(flag.to_string(), env.to_string())),
                "--{flag} must read {env}; have {envs:?}"
            );
        }
    }

    fn err(s: CacheSettings) -> String {
        s.validate().expect_err("must be rejected").to_string()
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let base = CacheSettings::default;
        assert!(
            err(CacheSettings {
                redis_port: 0,
                ..base()
            })
            .contains("REDIS_PORT")
        );
        assert!(
            err(CacheSettings {
                redis_port: 65536,
                ..base()
            })
            .contains("REDIS_PORT")
        );
        assert!(
            err(CacheSettings {
                redis_cache_ttl: 0,
                ..base()
            })
            .contains("REDIS_CACHE_TTL ")
        );
        assert!(
            err(CacheSettings {
                redis_cache_ttl: -5,
                ..base()
            })
            .contains("REDIS_CACHE_TTL ")
        );
        assert!(
            err(CacheSettings {
                redis_cache_ttl_dashboard: 0,
                ..base()
            })
            .contains("REDIS_CACHE_TTL_DASHBOARD")
        );
        assert!(
            err(CacheSettings {
                redis_cache_ttl_feeds: 0,
                ..base()
            })
            .contains("REDIS_CACHE_TTL_FEEDS")
        );
        assert!(
            err(CacheSettings {
                redis_key_prefix: String::new(),
                ..base()
            })
            .contains("REDIS_KEY_PREFIX")
        );
        assert!(
            err(CacheSettings {
                redis_key_prefix: "a:b".into(),
                ..base()
            })
            .contains("REDIS_KEY_PREFIX")
        );
        assert!(
            err(CacheSettings {
                redis_timeout_ms: 0,
                ..base()
            })
            .contains("REDIS_TIMEOUT_MS")
        );
        for wait in [0, -1, MAX_COALESCE_WAIT_MS + 1] {
            assert!(
                err(CacheSettings {
                    cache_coalesce_wait_ms: wait,
                    ..base()
                })
                .contains("CACHE_COALESCE_WAIT_MS"),
                "{wait}"
            );
        }
        assert!(
            err(CacheSettings {
                redis_db: -1,
                ..base()
            })
            .contains("REDIS_DB")
        );
    }

    #[test]
    fn url_cluster_and_near_cache_settings_are_validated_by_name() {
        let base = CacheSettings::default;
        for (bad, name) in [
            (
                CacheSettings {
                    redis_url: Some("http://x".into()),
                    ..base()
                },
                "REDIS_URL",
            ),
            (
                CacheSettings {
                    redis_url: Some("redis://h:notaport/".into()),
                    ..base()
                },
                "REDIS_URL",
            ),
            (
                CacheSettings {
                    redis_url: Some("redis://h/".into()),
                    redis_cluster_nodes: Some("a:1".into()),
                    ..base()
                },
                "REDIS_URL",
            ),
            (
                CacheSettings {
                    redis_cluster_nodes: Some("a:1,b".into()),
                    ..base()
                },
                "REDIS_CLUSTER_NODES",
            ),
            (
                CacheSettings {
                    redis_cluster_nodes: Some("a:1".into()),
                    redis_db: 2,
                    ..base()
                },
                "REDIS_DB",
            ),
            (
                CacheSettings {
                    cache_local_max_mb: 0,
                    ..base()
                },
                "CACHE_LOCAL_MAX_MB",
            ),
            (
                CacheSettings {
                    redis_cache_grace: -1,
                    ..base()
                },
                "REDIS_CACHE_GRACE",
            ),
        ] {
            assert!(
                err(bad.clone()).contains(name),
                "{bad:?}: {}",
                err(bad.clone())
            );
        }
        let fine = CacheSettings {
            redis_url: Some("rediss://:pw@cache.example:6380/1".into()),
            redis_cluster_nodes: Some(String::new()),
            ..base()
        };
        fine.validate().unwrap();
        let cluster = CacheSettings {
            redis_cluster_nodes: Some(" a:7000, b:7001 ,".into()),
            ..base()
        };
        cluster.validate().unwrap();
        assert_eq!(cluster.cluster_nodes(), ["a:7000", "b:7001"]);
    }

    #[test]
    fn the_near_cache_is_on_with_redis_on_one_server_only() {
        let on = CacheSettings {
            redis_enabled: true,
            ..CacheSettings::default()
        };
        assert_eq!(on.near_cache_bytes(), Some(64 << 20));
        let parsed = parse(&["--redis-enabled", "--no-cache-local"]);
        assert_eq!(parsed.near_cache_bytes(), None);
        let parsed = parse(&["--redis-enabled", "--cache-local-max-mb", "8"]);
        assert_eq!(parsed.near_cache_bytes(), Some(8 << 20));
        assert_eq!(
            CacheSettings::default().near_cache_bytes(),
            None,
            "Redis off"
        );
        let cluster = CacheSettings {
            redis_cluster_nodes: Some("a:7000".into()),
            ..on
        };
        assert_eq!(cluster.near_cache_bytes(), None);
    }

    #[test]
    fn the_banner_never_shows_a_url_password() {
        let s = CacheSettings {
            redis_enabled: true,
            redis_url: Some("rediss://:hunter2@cache.example:6380/1".into()),
            ..CacheSettings::default()
        };
        for text in [s.banner(), format!("{s:?}")] {
            assert!(!text.contains("hunter2"), "password leaked: {text}");
            assert!(text.contains("cache.example"), "{text}");
        }
    }

    #[test]
    fn negative_ttl_from_cli_reaches_validation() {
        let s = parse(&["--redis-cache-ttl", "-1"]);
        assert!(err(s).contains("REDIS_CACHE_TTL"));
    }

    #[test]
    fn banner_shows_everything_but_the_password() {
        let s = CacheSettings {
            redis_enabled: true,
            redis_password: Some("hunter2-secret".into()),
            ..CacheSettings::default()
        };
        for text in [s.banner(), format!("{s:?}")] {
            assert!(!text.contains("hunter2"), "password leaked: {text}");
        }
        let b = s.banner();
        for part in [
            "enabled=true",
            "host=localhost",
            "port=6379",
            "db=0",
            "password=set",
            "key_prefix=hub",
            "cache_ttl=30s",
            "cache_ttl_dashboard=30s",
            "timeout=150ms",
            "coalesce_wait=10000ms",
        ] {
            assert!(b.contains(part), "{part} missing from {b}");
        }
        assert!(CacheSettings::default().banner().contains("password=unset"));
    }
}
