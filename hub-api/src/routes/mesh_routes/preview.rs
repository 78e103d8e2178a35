//! `POST /routes/preview`: the matcher run over an unsaved configuration, writing nothing.

use super::{RoutePreviewResponse, body, query, write};
use crate::error::ApiError;
use hub_core::route_matching::{expected_hash, needs_reverse_fetch, preview, preview_truncated};
use sea_orm::DatabaseConnection;

/// The preview of an unsaved configuration (docs/contract/api-2.md sections 5.7 and 5.8).
pub(super) async fn preview_route(
    db: &DatabaseConnection,
    config: body::PreviewConfig,
) -> Result<RoutePreviewResponse, ApiError> {
    let empty = || serde_json::Value::Object(serde_json::Map::new());
    let path = write::resolve_nodes(db, &config.node_public_keys).await?;
    if path.len() < 2 {
        return Ok(RoutePreviewResponse {
            matched_count: Some(0),
            quality: Some("unknown".to_string()),
            state: Some("no_coverage".to_string()),
            contributing_observers: empty(),
            collisions: empty(),
            truncated: false,
            candidate_count: None,
        });
    }
    let observers: Vec<String> = write::resolve_nodes(db, &config.observer_public_keys)
        .await?
        .into_iter()
        .map(|n| n.id)
        .collect();
    let expected: Vec<String> = path
        .iter()
        .map(|n| expected_hash(&n.public_key, config.settings.match_width))
        .collect();
    let window = query::Window {
        since: hub_core::time::now()
            - chrono::Duration::hours(i64::from(config.settings.window_hours)),
        until: None,
        observers: &observers,
    };
    let mut candidate_count = query::count_candidates(db, &expected[0], &window).await?;
    if needs_reverse_fetch(&expected, config.settings.reversible)
        && let Some(last) = expected.last()
    {
        candidate_count += query::count_candidates(db, last, &window).await?;
    }
    if preview_truncated(candidate_count) {
        return Ok(RoutePreviewResponse {
            matched_count: None,
            quality: None,
            state: None,
            contributing_observers: empty(),
            collisions: empty(),
            truncated: true,
            candidate_count: Some(candidate_count),
        });
    }
    let candidates =
        query::candidates_both_ways(db, &expected, config.settings.reversible, &window).await?;
    let coverage = query::has_coverage(db, &window).await?;
    let found = preview(
        &expected,
        &candidates,
        &config.settings.rules(),
        &config.settings.thresholds(),
        || coverage,
    );
    let mut contributing = serde_json::Map::new();
    for (observer, count) in found.contributing_observers {
        contributing.insert(observer, count.into());
    }
    let mut collisions = serde_json::Map::new();
    for (node, hash) in path.iter().zip(&expected) {
        if !collisions.contains_key(&node.id) {
            let count = query::count_key_prefix(db, hash).await?.max(1);
            collisions.insert(node.id.clone(), count.into());
        }
    }
    Ok(RoutePreviewResponse {
        matched_count: Some(found.evaluation.matched_count),
        quality: Some(found.evaluation.quality.as_str().to_string()),
        state: Some(found.evaluation.state.as_str().to_string()),
        contributing_observers: serde_json::Value::Object(contributing),
        collisions: serde_json::Value::Object(collisions),
        truncated: false,
        candidate_count: None,
    })
}
