//! docs/caching.md's table of what is cached names only real things, and every one of them:
//! each endpoint it lists is in the OpenAPI document, each cache name is one a `#[cached]`
//! operation uses (or a group of them that writes invalidate), and every cached operation's
//! name is in the table. (Settings have the same check in `settings_docs.rs`.)

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
fn the_table_of_cached_endpoints_names_real_operations_and_all_of_them() {
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
    let mut documented = Vec::new();
    for (endpoints, names) in &rows {
        for name in documented_names(endpoints, names) {
            let real = used.iter().any(|u| matches(&name, u));
            if !real {
                wrong.push(format!("cache name `{name}` is not used"));
            }
            documented.push(name);
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
    for name in &used {
        if !documented.iter().any(|d| matches(d, name)) {
            wrong.push(format!(
                "cached operation `{name}` is missing from the table"
            ));
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
