//! `compose/docker-compose.yml` keeps the promises of the operators' kit: Redis is an optional
//! profile the API does not depend on, configured as a bounded cache, and every `hub-api serve`
//! setting is passed through to the API with its default.

use crate::cli_settings;

use cli_settings::{env_defaults, repo_file, serve_envs};
use serde_norway::Value;

fn compose(file: &str) -> Value {
    serde_norway::from_str(&repo_file(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// A string, or a list of strings, as one space-separated string.
fn words(value: &Value) -> String {
    match value {
        Value::String(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().expect("a string item").to_string())
            .collect::<Vec<_>>()
            .join(" "),
        other => panic!("expected a string or a list, got {other:?}"),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().expect("a string item").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn redis_is_an_optional_profile_the_api_does_not_depend_on() {
    let doc = compose("compose/docker-compose.yml");
    let redis = service(&doc, "redis");
    let mut profiles = strings(redis.get("profiles"));
    profiles.sort();
    assert_eq!(profiles, ["all", "cache"]);
    let api = service(&doc, "api");
    assert!(
        api.get("profiles").is_none(),
        "the API must start without a profile"
    );
    if let Some(depends_on) = api.get("depends_on") {
        // Both forms: a list of names or a map keyed by name.
        let names: Vec<String> = match depends_on {
            Value::Mapping(m) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            other => strings(Some(other)),
        };
        assert!(
            !names.iter().any(|n| n == "redis"),
            "api must not depend on redis"
        );
    }
}

#[test]
fn redis_is_a_bounded_persistent_cache_with_a_health_check() {
    let doc = compose("compose/docker-compose.yml");
    let redis = service(&doc, "redis");
    assert_eq!(redis["image"].as_str(), Some("redis:7-alpine"));
    assert_eq!(
        redis["container_name"].as_str(),
        Some("${COMPOSE_PROJECT_NAME:-hub}-redis")
    );
    assert_eq!(redis["restart"].as_str(), Some("unless-stopped"));
    assert_eq!(
        words(&redis["command"]),
        "redis-server --appendonly yes --maxmemory 128mb --maxmemory-policy volatile-lru"
    );
    assert_eq!(strings(redis.get("volumes")), ["redis_data:/data"]);
    assert_eq!(
        doc["volumes"]["redis_data"]["name"].as_str(),
        Some("${COMPOSE_PROJECT_NAME:-hub}_redis_data")
    );
    let health = &redis["healthcheck"];
    assert_eq!(words(&health["test"]), "CMD redis-cli ping");
    assert_eq!(health["interval"].as_str(), Some("10s"));
    assert_eq!(health["timeout"].as_str(), Some("5s"));
    assert_eq!(health["retries"].as_u64(), Some(3));
}

#[test]
fn the_api_is_built_here_and_keeps_its_data_on_a_volume() {
    let doc = compose("compose/docker-compose.yml");
    let api = service(&doc, "api");
    assert_eq!(
        api["build"]["dockerfile"].as_str(),
        Some("compose/Dockerfile")
    );
    assert_eq!(strings(api.get("ports")), ["${API_PORT:-8000}:8000"]);
    assert_eq!(
        strings(api.get("volumes")),
        ["${HUB_DATA:-hub_data}:/app/data"]
    );
    assert!(doc["volumes"].get("hub_data").is_some());
    let dockerfile = repo_file("compose/Dockerfile");
    for needle in [
        "AS build",
        "USER hub",
        "HEALTHCHECK",
        "/health",
        "WORKDIR /app",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle:?}");
    }
}

/// Settings the container fixes instead of passing through: the API listens on every
/// interface on port 8000 (API_PORT picks the published host port), and Redis is the
/// `redis` service.
const FIXED_IN_CONTAINER: [(&str, &str); 4] = [
    ("API_HOST", "0.0.0.0"),
    ("API_PORT", "8000"),
    ("REDIS_HOST", "redis"),
    ("REDIS_PORT", "6379"),
];

#[test]
fn every_serve_setting_is_passed_through_with_its_default() {
    let doc = compose("compose/docker-compose.yml");
    let environment = service(&doc, "api")["environment"]
        .as_mapping()
        .expect("api.environment as a map");
    let defaults = env_defaults();
    let mut problems = Vec::new();
    let serve = serve_envs();
    for env in &serve {
        let Some(value) = environment.get(env.as_str()) else {
            problems.push(format!("{env} is not passed"));
            continue;
        };
        let value = match value {
            Value::String(s) => s.clone(),
            other => {
                problems.push(format!("{env}: {other:?} is not a string"));
                continue;
            }
        };
        if let Some((_, fixed)) = FIXED_IN_CONTAINER.iter().find(|(n, _)| n == env) {
            if value != *fixed {
                problems.push(format!("{env}: {value}, expected {fixed}"));
            }
            continue;
        }
        // The cache is on in compose: the `cache` profile is one flag away.
        let default = if env == "REDIS_ENABLED" {
            "true".to_string()
        } else {
            defaults[env].clone().unwrap_or_default()
        };
        let passed_with_default = format!("${{{env}:-{default}}}");
        // A setting resolved in code may pass as empty, which hub reads as unset.
        let passed_empty = format!("${{{env}:-}}");
        let resolved_in_code = !has_clap_default(env);
        if value != passed_with_default && !(resolved_in_code && value == passed_empty) {
            problems.push(format!("{env}: {value}, expected {passed_with_default}"));
        }
    }
    for key in environment.keys().filter_map(Value::as_str) {
        if !serve.iter().any(|e| e == key) {
            problems.push(format!("{key} is not a setting of hub-api serve"));
        }
    }
    assert!(problems.is_empty(), "api.environment: {problems:#?}");
}

/// Whether clap itself has a default for `env` (then an empty value would not parse).
fn has_clap_default(env: &str) -> bool {
    let mut command = hub_api::cli::command();
    command.build();
    let serve = command.find_subcommand("serve").expect("serve");
    serve
        .get_arguments()
        .any(|a| a.get_env().is_some_and(|e| e == env) && !a.get_default_values().is_empty())
}

#[test]
fn the_dev_override_publishes_redis_on_redis_port() {
    let doc = compose("compose/docker-compose.dev.yml");
    let redis = service(&doc, "redis");
    assert_eq!(strings(redis.get("ports")), ["${REDIS_PORT:-6379}:6379"]);
}

#[test]
fn the_header_says_how_to_serve_an_existing_meshcore_hub_database() {
    let text = repo_file("compose/docker-compose.yml");
    for needle in [
        "--profile cache",
        "DATA_HOME=/app/data",
        "collector/meshcore.db",
        "postgresql+asyncpg://",
        "DATABASE_SCHEMA",
        "never alters",
    ] {
        assert!(text.contains(needle), "header lacks {needle:?}");
    }
}
