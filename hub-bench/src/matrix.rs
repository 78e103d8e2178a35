//! `--matrix N`: every list endpoint with each of its declared filters alone, and every
//! dashboard endpoint, uncached.
//!
//! The cells come from the app's OpenAPI document, so a filter added to a handler is measured
//! without editing this file: every `GET` of `/api/v1` without path parameters, except the
//! feeds and the caller's own profile, once without filters and once per query parameter
//! that is not paging or ordering ([`NOT_FILTERS`]). The dashboard endpoints are measured with
//! their defaults (`days` is a window, not a filter). Each filter gets a value that matches
//! rows of the measured database ([`FilterValues`]): read from the database for the filters
//! whose values are not in a list item, else taken from the unfiltered first page's items
//! (the newest row that has the field).
//!
//! Each cell is timed twice over:
//! - `first`: the first request of a server that just started, over a new connection pool,
//!   after the startup read `serve` does (the dashboard's past days, the packet-group list's hours), as a restart meets it;
//! - `median` and `max` of N sequential requests on one server that was asked every cell once
//!   and then had 10 s for the reads those requests started in the background.
//!
//! A cell that does not answer 200 is reported as failed; the run goes on.

use hub_api::state::AppState;
use hub_core::cache::NullCache;
use hub_core::cache::runtime::ResponseCache;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Query parameters that page or order a list rather than filter it.
const NOT_FILTERS: &[&str] = &["limit", "offset", "sort", "order", "days"];

/// Paths of `GET` operations that are not list or dashboard reads: the feeds (XML, measured
/// by their own tests) and the caller's own profile (needs an identity).
const NOT_MEASURED: &[&str] = &["/api/v1/feeds/", "/api/v1/user/profile/me", "/health"];

/// The page size asked of every list (within each list's maximum).
const PAGE_SIZE: i64 = 50;

/// How long the server measured for the medians may read in the background after it was
/// asked every cell once (kept counts, packet-group hours).
const BACKGROUND_FILLS: Duration = Duration::from_secs(10);

/// A median at or above this is flagged.
const MEDIAN_BUDGET_MS: f64 = 50.0;

/// A first request after a start at or above this is flagged.
const FIRST_BUDGET_MS: f64 = 250.0;

/// One measured request: an endpoint, alone or with one filter.
struct Cell {
    /// Path and query, as requested.
    request: String,
    /// What is shown in the table: the request, with the filter's value when it is long.
    label: String,
}

/// What one request answered.
struct Answer {
    millis: f64,
    status: u16,
    body: Body,
}

/// A body's size and a digest of its bytes, to compare runs (same digest: same bytes).
struct Body {
    len: usize,
    digest: u64,
    /// A page without items: the filter's value matched no row.
    empty: bool,
}

/// The values the filters are given, by parameter name; several for a filter whose values
/// select different kinds of rows (`message_type`, `adv_type`, booleans).
struct FilterValues {
    by_name: HashMap<String, Vec<String>>,
    /// Candidates of a filter whose matches differ by list (`search`): each list is measured
    /// with the first that matches rows of it.
    alternatives: HashMap<String, Vec<String>>,
}

impl FilterValues {
    /// Values read from `db` for the filters that a list item does not show or whose every
    /// value selects other rows.
    async fn read(db: &DatabaseConnection) -> Result<FilterValues, String> {
        let now = hub_core::time::now();
        let rfc3339 = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut by_name = HashMap::new();
        by_name.insert(
            "observed_by".to_string(),
            vec![super::first_observer(db).await?],
        );
        by_name.insert(
            "since".to_string(),
            vec![rfc3339(now - chrono::Duration::days(7))],
        );
        by_name.insert(
            "until".to_string(),
            vec![rfc3339(now - chrono::Duration::days(1))],
        );
        for (name, sql) in [
            (
                "message_type",
                "SELECT DISTINCT message_type FROM messages WHERE message_type IS NOT NULL \
                 ORDER BY 1",
            ),
            (
                "adv_type",
                "SELECT DISTINCT adv_type FROM nodes WHERE adv_type IS NOT NULL ORDER BY 1",
            ),
            (
                "adopted_by",
                "SELECT user_profile_id FROM user_profile_nodes ORDER BY adopted_at DESC LIMIT 1",
            ),
            (
                "role",
                "SELECT value FROM node_tags WHERE key = 'role' AND value IS NOT NULL \
                 ORDER BY value LIMIT 1",
            ),
        ] {
            let values = strings(db, sql).await?;
            if !values.is_empty() {
                by_name.insert(name.to_string(), values);
            }
        }
        let alternatives = HashMap::from([("search".to_string(), search_words(db).await?)]);
        Ok(FilterValues {
            by_name,
            alternatives,
        })
    }

    /// The values of `param` of the list at `path`: read from the database, `true` and
    /// `false` for a boolean, else the field of that name (or the field it bounds, for
    /// `min_`/`max_`, or the key it is a prefix of) of the first item of the unfiltered page
    /// `items` that has it. Empty when nothing gives one.
    fn of(&self, param: &Value, items: &[Value]) -> Vec<String> {
        let name = param["name"].as_str().unwrap_or_default();
        if let Some(values) = self.by_name.get(name) {
            return values.clone();
        }
        if is_boolean(param) {
            return vec!["true".to_string(), "false".to_string()];
        }
        let field = name
            .strip_prefix("min_")
            .or_else(|| name.strip_prefix("max_"))
            .unwrap_or(name);
        let scalar = |item: &Value, field: &str| match &item[field] {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        if let Some(value) = items.iter().find_map(|item| scalar(item, field)) {
            return vec![value];
        }
        // A field that qualifies the name (`source_pubkey_prefix` for `pubkey_prefix`, and
        // for `public_key`, which filters packets by that prefix).
        let suffixes = [
            format!("_{field}"),
            format!("_{field}").replace("public_key", "pubkey_prefix"),
        ];
        let qualified = |item: &Value| {
            item.as_object()?
                .keys()
                .filter(|key| suffixes.iter().any(|s| key.ends_with(s.as_str())))
                .find_map(|key| scalar(item, key))
        };
        if let Some(value) = items.iter().find_map(qualified) {
            return vec![value];
        }
        if name == "pubkey_prefix" {
            // A key's first 12 characters, the width the collector stores prefixes at.
            return items
                .iter()
                .find_map(|item| scalar(item, "public_key"))
                .map(|key| vec![key.chars().take(12).collect()])
                .unwrap_or_default();
        }
        Vec::new()
    }
}

/// Whether the parameter takes a boolean (`BoolParam` documents its accepted words).
fn is_boolean(param: &Value) -> bool {
    let schema = &param["schema"];
    schema["type"] == "boolean"
        || schema["enum"]
            .as_array()
            .is_some_and(|values| values.iter().any(|v| v == "true"))
        || schema["format"] == "bool"
        // `BoolText`'s pattern spells each word in either case.
        || schema["pattern"]
            .as_str()
            .is_some_and(|p| p.contains("[Tt][Rr][Uu][Ee]"))
}

/// The first column of every row of `sql`, as text.
async fn strings(db: &DatabaseConnection, sql: &str) -> Result<Vec<String>, String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .map_err(|e| format!("database: {e}"))?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect())
}

/// The ASCII word of at least four letters that the most texts of `sql` contain, lowercased
/// (ties: the first in alphabetical order); `None` when none has one.
async fn common_word(db: &DatabaseConnection, sql: &str) -> Result<Option<String>, String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for text in strings(db, sql).await? {
        let mut words: Vec<String> = text
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() >= 4)
            .map(str::to_ascii_lowercase)
            .collect();
        words.sort();
        words.dedup();
        for word in words {
            *counts.entry(word).or_default() += 1;
        }
    }
    Ok(counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(word, _)| word))
}

/// Candidates for `search`, each list's own first that matches rows is used: the commonest
/// word of observers' names (packets search observer names), of all node names, and of the
/// newest messages' texts.
async fn search_words(db: &DatabaseConnection) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    for sql in [
        "SELECT name FROM nodes WHERE name IS NOT NULL AND is_observer",
        "SELECT name FROM nodes WHERE name IS NOT NULL",
        "SELECT text FROM messages WHERE text IS NOT NULL ORDER BY received_at DESC LIMIT 1000",
    ] {
        if let Some(word) = common_word(db, sql).await?
            && !words.contains(&word)
        {
            words.push(word);
        }
    }
    Ok(words)
}

/// Percent-encodes a query value (keys and times need `+` and `:` left alone by poem, but a
/// space or `&` in a name must not split the query).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The `GET` operations measured, by path: list and dashboard reads without path parameters.
fn measured_operations(spec: &Value) -> Vec<(String, Value)> {
    let mut operations: Vec<(String, Value)> = spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(path, _)| path.starts_with("/api/v1/") && !path.contains('{'))
        .filter(|(path, _)| !NOT_MEASURED.iter().any(|p| path.starts_with(p)))
        .filter_map(|(path, item)| item.get("get").map(|get| (path.clone(), get.clone())))
        .collect();
    operations.sort_by(|a, b| a.0.cmp(&b.0));
    operations
}

/// The base request of an operation: its path, with a page of [`PAGE_SIZE`] (or its maximum)
/// when it is paged.
fn base_request(path: &str, operation: &Value) -> String {
    let limit = query_params(operation).find(|p| p["name"] == "limit");
    match limit {
        Some(limit) => {
            let maximum = limit["schema"]["maximum"].as_i64().unwrap_or(PAGE_SIZE);
            format!("{path}?limit={}", PAGE_SIZE.min(maximum))
        }
        None => path.to_string(),
    }
}

/// An operation's query parameters.
fn query_params(operation: &Value) -> impl Iterator<Item = &Value> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
}

/// Sends one `GET` to `app` and times it to the last byte of the body.
async fn request(app: &impl poem::Endpoint<Output = poem::Response>, uri: &str) -> Answer {
    let started = Instant::now();
    let response = match uri.parse::<poem::http::Uri>() {
        Ok(uri) => {
            app.get_response(poem::Request::builder().uri(uri).finish())
                .await
        }
        Err(_) => poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .finish(),
    };
    let status = response.status().as_u16();
    let body = response.into_body().into_bytes().await.unwrap_or_default();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let empty = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(page)) => page
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty),
        _ => false,
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    Answer {
        millis,
        status,
        body: Body {
            len: body.len(),
            digest: hasher.finish(),
            empty,
        },
    }
}

/// A server as `serve` starts it without a cache: a new pool over `url`, the kept counts read
/// as `serve` reads them at startup (awaited here), the null cache, no coalescing.
async fn started_server(url: &str) -> Result<AppState, String> {
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let ttl = Duration::from_secs(3600);
    let state = AppState::new(
        db,
        ResponseCache::new(Arc::new(NullCache), ttl, ttl).without_coalescing(),
    );
    hub_api::server::read_kept_values(&state)
        .await
        .map_err(|e| format!("kept counts: {e}"))?;
    Ok(state)
}

/// Waits for what the requests so far started reading in the background.
async fn settled(state: &AppState) {
    state.packet_group_hours.settled().await;
    state.list_days.settled().await;
}

/// The cells of the matrix: each measured operation without filters, then with each filter
/// alone (one cell per value), from the unfiltered pages that `app` answers.
async fn cells(
    spec: &Value,
    values: &FilterValues,
    app: &impl poem::Endpoint<Output = poem::Response>,
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (path, operation) in measured_operations(spec) {
        let base = base_request(&path, &operation);
        let short = base.trim_start_matches("/api/v1/").to_string();
        cells.push(Cell {
            request: base.clone(),
            label: short.clone(),
        });
        if path.starts_with("/api/v1/dashboard/") {
            continue;
        }
        let items = first_page_items(app, &base).await;
        let separator = if base.contains('?') { '&' } else { '?' };
        for param in query_params(&operation) {
            let name = param["name"].as_str().unwrap_or_default();
            if NOT_FILTERS.contains(&name) {
                continue;
            }
            let mut found = values.of(param, &items);
            if let Some(candidates) = values.alternatives.get(name) {
                found = Vec::new();
                for candidate in candidates {
                    let uri = format!("{base}{separator}{name}={}", encode(candidate));
                    if !request(app, &uri).await.body.empty {
                        found.push(candidate.clone());
                        break;
                    }
                }
            }
            if found.is_empty() {
                cells.push(Cell {
                    request: String::new(),
                    label: format!("{short}{separator}{name}=(no value found)"),
                });
            }
            for value in found {
                let shown = if value.len() > 24 {
                    format!("{}...", &value[..12])
                } else {
                    value.clone()
                };
                cells.push(Cell {
                    request: format!("{base}{separator}{name}={}", encode(&value)),
                    label: format!("{short}{separator}{name}={shown}"),
                });
            }
        }
    }
    cells
}

/// The items of the first page at `request`: a page's `items`, or the array itself.
async fn first_page_items(
    app: &impl poem::Endpoint<Output = poem::Response>,
    request: &str,
) -> Vec<Value> {
    let Ok(uri) = request.parse::<poem::http::Uri>() else {
        return Vec::new();
    };
    let response = app
        .get_response(poem::Request::builder().uri(uri).finish())
        .await;
    let body = response.into_body().into_bytes().await.unwrap_or_default();
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(mut page)) => match page.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Runs `--matrix N` on the database at `url`.
pub(crate) async fn matrix(url: &str, n: u32) -> Result<(), String> {
    let spec: Value = serde_json::from_str(&hub_api::app::openapi().spec())
        .map_err(|e| format!("OpenAPI document: {e}"))?;
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let values = FilterValues::read(&db).await?;
    db.close().await.ok();

    // The server of the medians: asked every cell once, then left to its background reads.
    let started = Instant::now();
    let warm = started_server(url).await?;
    let startup_read = started.elapsed().as_secs_f64() * 1000.0;
    let warm_app = hub_api::app::build(warm.clone());
    let cells = cells(&spec, &values, &warm_app).await;
    println!(
        "matrix: {} cells; uncached (null cache, no coalescing), in process; {n} sequential \
         requests per cell",
        cells.len()
    );
    println!(
        "(startup: serve's read of the kept counts (dashboard days, packet-group hours, packet totals) took {startup_read:.0} ms)"
    );
    let mut shown: Vec<_> = values.by_name.iter().collect();
    shown.sort();
    for (name, found) in shown {
        println!("value of {name}: {}", found.join(", "));
    }
    for (name, candidates) in &values.alternatives {
        println!(
            "value of {name}: the first of {} that matches rows of the list",
            candidates.join(", ")
        );
    }
    println!("(other filters: the newest row of the unfiltered first page that has the field)");

    // `first` of each cell: a server started for it alone.
    let mut first = Vec::new();
    for cell in &cells {
        if cell.request.is_empty() {
            first.push(None);
            continue;
        }
        let state = started_server(url).await?;
        let app = hub_api::app::build(state.clone());
        first.push(Some(request(&app, &cell.request).await));
        settled(&state).await;
        state.db.close().await.ok();
    }

    for cell in cells.iter().filter(|c| !c.request.is_empty()) {
        request(&warm_app, &cell.request).await;
    }
    tokio::time::sleep(BACKGROUND_FILLS).await;
    settled(&warm).await;

    println!();
    println!(
        "| request | first ms | median ms | max ms | bytes | body digest | \
         (bold: median >= {MEDIAN_BUDGET_MS} ms or first >= {FIRST_BUDGET_MS} ms)"
    );
    println!("|---|---:|---:|---:|---:|---|---|");
    let mut slow = 0;
    let mut failed = 0;
    for (cell, first) in cells.iter().zip(first) {
        let Some(first) = first else {
            println!("| `{}` | - | - | - | - | - | not measured |", cell.label);
            continue;
        };
        let mut millis = Vec::new();
        let mut last = None;
        let mut status = first.status;
        for _ in 0..n {
            let answer = request(&warm_app, &cell.request).await;
            if answer.status != 200 {
                status = answer.status;
            }
            millis.push(answer.millis);
            last = Some(answer);
        }
        if status != 200 {
            failed += 1;
            println!(
                "| `{}` | - | - | - | - | - | **failed: HTTP {status}** |",
                cell.label
            );
            continue;
        }
        millis.sort_by(f64::total_cmp);
        let median = millis[millis.len() / 2];
        let max = millis[millis.len() - 1];
        let body = last.map_or(first.body, |answer| answer.body);
        let bold = |ms: f64, budget: f64| {
            if ms >= budget {
                format!("**{ms:.1}**")
            } else {
                format!("{ms:.1}")
            }
        };
        if median >= MEDIAN_BUDGET_MS || first.millis >= FIRST_BUDGET_MS {
            slow += 1;
        }
        println!(
            "| `{}` | {} | {} | {max:.1} | {} | {:016x} | {} |",
            cell.label,
            bold(first.millis, FIRST_BUDGET_MS),
            bold(median, MEDIAN_BUDGET_MS),
            body.len,
            body.digest,
            if body.empty { "no rows matched" } else { "" }
        );
    }
    println!();
    println!("{slow} cell(s) over budget, {failed} failed");
    warm.db.close().await.ok();
    Ok(())
}
