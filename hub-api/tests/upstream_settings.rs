//! Every setting MeshCore Hub's API command reads is honoured by `hub-api serve` (an
//! environment variable of its command line) or documented in docs/upgrading.md (what hub
//! does instead), so an operator's `.env` holds nothing hub silently ignores.

use crate::cli_settings;

use cli_settings::{repo_file, serve_envs};

/// The environment variables MeshCore Hub's `meshcore-hub api` reads, from
/// `src/meshcore_hub/api/cli.py` of ipnet-mesh/meshcore-hub at v0.21 (commit 1513561d, the
/// feeds release): its click options' `envvar`s, and the `get_api_settings()` fields it
/// passes to `create_app` (`common/config.py`: `DATA_HOME`, the database URL and its
/// `DATABASE_*` parts, `LOG_LEVEL`, feeds, spam, `OIDC_ROLE_*`); plus `OIDC_ROLE_TEST`, which
/// its dashboard counts and profile list read from the environment.
const MESHCORE_HUB_API_SETTINGS: &[&str] = &[
    // Server and keys.
    "API_HOST",
    "API_PORT",
    "API_READ_KEY",
    "API_ADMIN_KEY",
    "API_WORKERS",
    "API_CACHE_CONTROL_ENABLED",
    "LOG_LEVEL",
    // Database.
    "DATA_HOME",
    "DATABASE_URL",
    "DATABASE_BACKEND",
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    "DATABASE_USER",
    "DATABASE_PASSWORD",
    "DATABASE_SCHEMA",
    // MQTT: the API publishes nothing in hub.
    "MQTT_HOST",
    "MQTT_PORT",
    "MQTT_USERNAME",
    "MQTT_PASSWORD",
    "MQTT_PREFIX",
    "MQTT_TOPIC_PREFIX",
    "MQTT_TLS",
    "MQTT_TRANSPORT",
    "MQTT_WS_PATH",
    // HTTP and metrics.
    "CORS_ORIGINS",
    "METRICS_ENABLED",
    "METRICS_CACHE_TTL",
    "METRICS_PUBLIC",
    // Redis.
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
    "REDIS_KEY_PREFIX",
    "REDIS_CACHE_TTL",
    "REDIS_CACHE_TTL_DASHBOARD",
    "REDIS_CACHE_TTL_FEEDS",
    // Feeds.
    "FEATURE_FEEDS",
    "NETWORK_NAME",
    "WEB_PUBLIC_URL",
    // Spam.
    "SPAM_DETECTION_ENABLED",
    "SPAM_SCORE_THRESHOLD",
    // Role names.
    "OIDC_ROLE_ADMIN",
    "OIDC_ROLE_OPERATOR",
    "OIDC_ROLE_MEMBER",
    "OIDC_ROLE_TEST",
];

#[test]
fn every_setting_of_meshcore_hubs_api_is_honoured_or_documented() {
    let honoured = serve_envs();
    let upgrading = repo_file("docs/upgrading.md");
    let missing: Vec<&str> = MESHCORE_HUB_API_SETTINGS
        .iter()
        .copied()
        .filter(|name| !honoured.iter().any(|env| env == name))
        .filter(|name| !upgrading.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "MeshCore Hub's API reads these, and hub neither has them as settings nor says in \
         docs/upgrading.md what it does instead: {missing:?}"
    );
}

#[test]
fn upgrading_documents_only_settings_hub_does_not_read() {
    // A setting hub honours is documented in docs/configuration.md; docs/upgrading.md's
    // list of settings hub does not read must not name one (it would be stale).
    let honoured = serve_envs();
    let upgrading = repo_file("docs/upgrading.md");
    let section = upgrading
        .split("### Settings hub does not read")
        .nth(1)
        .expect("docs/upgrading.md has a \"Settings hub does not read\" section")
        .split("\n#")
        .next()
        .unwrap();
    let stale: Vec<&String> = honoured
        .iter()
        .filter(|env| section.contains(&format!("`{env}`")))
        .collect();
    assert!(stale.is_empty(), "hub reads these now: {stale:?}");
    for name in MESHCORE_HUB_API_SETTINGS {
        if !honoured.iter().any(|env| env == name) {
            assert!(
                section.contains(&format!("`{name}`")),
                "{name} belongs in the section"
            );
        }
    }
}
