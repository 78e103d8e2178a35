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

/// The settings named in the first column of docs/upgrading.md's table of settings hub
/// does not read.
fn settings_not_read() -> Vec<String> {
    let upgrading = repo_file("docs/upgrading.md");
    let section = upgrading
        .split("### Settings hub does not read")
        .nth(1)
        .expect("docs/upgrading.md has a \"Settings hub does not read\" section")
        .split("\n#")
        .next()
        .unwrap()
        .to_string();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn upgrading_lists_exactly_the_settings_hub_does_not_read() {
    let honoured = serve_envs();
    let listed = settings_not_read();
    let stale: Vec<&String> = listed
        .iter()
        .filter(|name| honoured.contains(name))
        .collect();
    assert!(stale.is_empty(), "hub reads these now: {stale:?}");
    let unread: Vec<&str> = MESHCORE_HUB_API_SETTINGS
        .iter()
        .copied()
        .filter(|name| !honoured.iter().any(|env| env == name))
        .collect();
    let unlisted: Vec<&&str> = unread
        .iter()
        .filter(|name| !listed.iter().any(|l| l == *name))
        .collect();
    assert!(unlisted.is_empty(), "not in the table: {unlisted:?}");
}
