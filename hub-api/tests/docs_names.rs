//! What the docs name exists. docs/caching.md's table of what is cached names only real
//! things: each endpoint it lists is in the OpenAPI document and each cache name is one a
//! `#[cached]` operation uses. (It need not list every one: the OpenAPI document is the complete
//! list, so a new cached endpoint touches no doc.) And every `/api/v1/...` path any user-facing
//! page names (README, CONTRIBUTING, `docs/`, `docs/contract/`) is served, with the query
//! parameters it shows. (Settings have the same checks in `settings_docs.rs`.)

use crate::cli_settings::repo_file;
use std::collections::BTreeSet;

/// `(endpoint column, cache-name column)` of each row of the "What is cached" table.
fn cached_rows() -> Vec<(String, String)> {
    repo_file("docs/caching.md")
        .lines()
        .filter(|line| line.starts_with("| `GET "))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells[1].to_string(), cells[2].to_string())
        })
        .collect()
}

/// The backticked texts of a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The names a cell states: `dashboard/<endpoint>` stands for each endpoint the row lists
/// in braces (`/dashboard/{activity, node-count}`); other `<...>` segments match anything.
fn documented_names(endpoints: &str, names: &str) -> Vec<String> {
    let listed: Vec<String> = endpoints
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .filter(|(inside, _)| inside.contains(','))
        .map(|(inside, _)| inside.split(',').map(|e| e.trim().to_string()).collect())
        .unwrap_or_default();
    backticked(names)
        .into_iter()
        .flat_map(|name| match name.strip_suffix("/<endpoint>") {
            Some(group) => listed.iter().map(|e| format!("{group}/{e}")).collect(),
            None => vec![name],
        })
        .collect()
}

/// Whether `name` is matched by `pattern`, where a `<...>` segment matches any one segment.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| p.starts_with('<') || p == n)
}

#[test]
fn the_table_of_cached_endpoints_names_only_real_operations() {
    let used: BTreeSet<&str> = hub_api::routes::cache_names().into_iter().collect();
    let spec: serde_json::Value =
        serde_json::from_str(&hub_api::app::openapi().spec()).expect("OpenAPI JSON");
    let paths: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let rows = cached_rows();
    assert!(rows.len() >= 15, "only {} rows read", rows.len());
    let mut wrong = Vec::new();
    for (endpoints, names) in &rows {
        for name in documented_names(endpoints, names) {
            let real = used.iter().any(|u| matches(&name, u));
            if !real {
                wrong.push(format!("cache name `{name}` is not used"));
            }
        }
        for endpoint in backticked(endpoints) {
            let path = endpoint.trim_start_matches("GET ").trim();
            // A brace list (`{a, b}` or `{xml,atom}`) names several paths; the plain ones are checked.
            if path.contains(',') {
                continue;
            }
            if !paths.contains(path) {
                wrong.push(format!("endpoint {path} is not in the OpenAPI document"));
            }
        }
    }
    assert!(wrong.is_empty(), "docs/caching.md: {wrong:#?}");
}

#[test]
fn a_placeholder_segment_matches_one_segment() {
    assert!(matches("feeds/<feed>/<format>", "feeds/nodes/atom"));
    assert!(!matches("feeds/<feed>/<format>", "feeds/channel"));
    assert_eq!(
        documented_names(
            "`GET /api/v1/dashboard/{activity, node-count}`",
            "`dashboard/<endpoint>`"
        ),
        ["dashboard/activity", "dashboard/node-count"]
    );
}

/// The Markdown files a user reads: README, CONTRIBUTING, `docs/` and `docs/contract/`.
fn user_docs() -> Vec<String> {
    let mut files = vec!["README.md".to_string(), "CONTRIBUTING.md".to_string()];
    for dir in ["docs", "docs/contract"] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".md"))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        names.sort();
        files.extend(names);
    }
    files
}

/// Expands the first `{a,b}` brace list of `text` (one with a comma) into each alternative.
fn expand_braces(text: &str) -> Vec<String> {
    let Some(open) = text.find('{') else {
        return vec![text.to_string()];
    };
    let Some(close) = text[open..].find('}').map(|i| open + i) else {
        return vec![text.to_string()];
    };
    let inside = &text[open + 1..close];
    if !inside.contains(',') {
        let (head, tail) = text.split_at(close + 1);
        return expand_braces(tail)
            .into_iter()
            .map(|rest| format!("{head}{rest}"))
            .collect();
    }
    inside
        .split(',')
        .flat_map(|choice| {
            expand_braces(&format!(
                "{}{}{}",
                &text[..open],
                choice.trim(),
                &text[close + 1..]
            ))
        })
        .collect()
}

/// Whether the document's path `template` (`/api/v1/nodes/{public_key}`) serves `path`, where
/// a `{...}` or `<...>` segment of either stands for any one segment, and a trailing `*` of
/// `path` for any rest.
fn serves(template: &str, path: &str) -> bool {
    if let Some(prefix) = path.strip_suffix('*') {
        return template.starts_with(prefix);
    }
    let placeholder = |s: &str| s.starts_with('{') || s.starts_with('<');
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| placeholder(t) || placeholder(p) || t == p)
}

/// Each backticked `/api/v1/...` path the docs name, with its query parameter names, and
/// where it stands. A key's notation (`/api/v1/messages:role=<r>:<qs>`) is cut at its `:`,
/// an optional part (`[/{id}]`) is left out, and brace lists are expanded.
fn documented_paths() -> Vec<(String, Vec<String>, String)> {
    let mut found = Vec::new();
    for file in user_docs() {
        for (line_no, line) in repo_file(&file).lines().enumerate() {
            for span in line.split('`').skip(1).step_by(2) {
                let span = span
                    .trim_start_matches(|c: char| c.is_ascii_uppercase())
                    .trim();
                if !span.starts_with("/api/v1/") || span.contains(' ') {
                    continue;
                }
                let span = span.split(':').next().unwrap_or(span);
                let span = span.split('[').next().unwrap_or(span);
                let (path, query) = span.split_once('?').unwrap_or((span, ""));
                let params: Vec<String> = query
                    .split('&')
                    .filter_map(|pair| pair.split('=').next())
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect();
                // `/api/v1/feeds/` names everything below it.
                let path = match path.strip_suffix('/') {
                    Some(prefix) => format!("{prefix}/*"),
                    None => path.to_string(),
                };
                for path in expand_braces(&path) {
                    found.push((path, params.clone(), format!("{file}:{}", line_no + 1)));
                }
            }
        }
    }
    found
}

/// What the contract names that hub does not serve, because it describes MeshCore Hub itself:
/// `(path, query parameter or "")`.
const MESHCORE_HUB_ONLY: &[(&str, &str)] = &[
    // The Python service's cache prefix, where the contract describes its invalidation.
    ("/api/v1/dashboard", ""),
    // MeshCore Hub's web front end asks for it; its API and hub's list every visible channel
    // and ignore the parameter.
    ("/api/v1/channels", "limit"),
];

#[test]
fn every_api_path_and_query_parameter_the_docs_name_is_served() {
    let spec: serde_json::Value =
        serde_json::from_str(&hub_api::app::openapi().spec()).expect("OpenAPI JSON");
    let paths = spec["paths"].as_object().unwrap();
    let documented = documented_paths();
    assert!(
        documented.len() >= 80,
        "only {} paths read",
        documented.len()
    );
    let mut wrong = Vec::new();
    for (path, params, place) in &documented {
        let templates: Vec<(&String, &serde_json::Value)> = paths
            .iter()
            .filter(|(template, _)| serves(template, path))
            .collect();
        if templates.is_empty() && !MESHCORE_HUB_ONLY.contains(&(path.as_str(), "")) {
            wrong.push(format!("{place}: {path} is not served"));
            continue;
        }
        for param in params {
            let declared = templates.iter().any(|(_, item)| {
                item["get"]["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == param.as_str()))
            });
            if !declared && !MESHCORE_HUB_ONLY.contains(&(path.as_str(), param.as_str())) {
                wrong.push(format!("{place}: {path} has no query parameter `{param}`"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn documented_paths_are_read_as_written() {
    assert_eq!(
        expand_braces("/api/v1/feeds/{messages,adverts}.{xml,atom}"),
        [
            "/api/v1/feeds/messages.xml",
            "/api/v1/feeds/messages.atom",
            "/api/v1/feeds/adverts.xml",
            "/api/v1/feeds/adverts.atom"
        ]
    );
    assert_eq!(
        expand_braces("/api/v1/nodes/{public_key}/tags"),
        ["/api/v1/nodes/{public_key}/tags"]
    );
    assert!(serves("/api/v1/nodes/{public_key}", "/api/v1/nodes/{pk}"));
    assert!(serves("/api/v1/routes/{route_id}", "/api/v1/routes/<id>"));
    assert!(serves("/api/v1/dashboard/stats", "/api/v1/dashboard/*"));
    assert!(serves("/api/v1/feeds/nodes.xml", "/api/v1/feeds/*"));
    assert!(!serves("/api/v1/nodes/{public_key}", "/api/v1/nodes"));
    assert!(!serves("/api/v1/nodes", "/api/v1/members"));
}
