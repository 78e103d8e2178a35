//! What a route is shown with: its nodes, observers and results ([`RouteParts`]), its recent
//! matches (stored, or computed live), its contributing observers and its daily history.

use super::{
    ContributingObserver, RecentMatchHop, RecentMatchPath, RouteNodeRead, RouteObserverRead,
    RouteRead, RouteResultSummary, query,
};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::query::lookups::{AdoptedBy, profiles_by_user_id};
use crate::query::route_history::{RouteDay, daily_series, history_rows, latest_results};
use chrono::NaiveDate;
use hub_core::entity::{route_results, routes};
use hub_core::route_matching::{
    Hop, MatchSettings, PathNode, RECENT_MATCH_LIMIT, expected_hashes, recent_matches,
};
use hub_core::time::rfc3339;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;

/// The route `id` as `RouteRead`, with its persisted quality_avg.
pub(super) async fn read_route(db: &DatabaseConnection, id: &str) -> Result<RouteRead, ApiError> {
    let route = query::route_by_id(db, id)
        .await?
        .ok_or(ApiError::NotFound("Route not found"))?;
    let parts = RouteParts::load(db, std::slice::from_ref(&route)).await?;
    Ok(parts.read(route))
}

/// The route `id`, or 404 when it is missing or above the caller's level.
pub(super) async fn visible_route(
    db: &DatabaseConnection,
    caller: Caller,
    id: &str,
) -> Result<routes::Model, ApiError> {
    query::route_by_id(db, id)
        .await?
        .filter(|r| caller.role.can_see(&r.visibility))
        .ok_or(ApiError::NotFound("Route not found"))
}

/// What a page of routes is shown with, loaded with a fixed number of queries.
pub(super) struct RouteParts {
    nodes: HashMap<String, Vec<query::PathNodeRow>>,
    observers: HashMap<String, Vec<query::ObserverRow>>,
    results: HashMap<String, route_results::Model>,
    owners: HashMap<String, AdoptedBy>,
}

impl RouteParts {
    pub(super) async fn load(
        db: &DatabaseConnection,
        routes: &[routes::Model],
    ) -> Result<Self, ApiError> {
        let ids: Vec<String> = routes.iter().map(|r| r.id.clone()).collect();
        let creators: Vec<String> = routes
            .iter()
            .filter_map(|r| r.created_by.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(RouteParts {
            nodes: query::path_nodes(db, &ids).await?,
            observers: query::observers(db, &ids).await?,
            results: latest_results(db, &ids).await?,
            owners: profiles_by_user_id(db, &creators).await?,
        })
    }

    pub(super) fn read(&self, route: routes::Model) -> RouteRead {
        let result = self.results.get(&route.id).cloned();
        RouteRead {
            route_nodes: self
                .nodes
                .get(&route.id)
                .map(|nodes| {
                    nodes
                        .iter()
                        .map(|n| RouteNodeRead {
                            node_id: n.row.node_id.clone(),
                            position: n.row.position,
                            expected_hash: n.row.expected_hash.clone(),
                            name: n.name.clone(),
                            public_key: n.public_key.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            route_observers: self
                .observers
                .get(&route.id)
                .map(|observers| {
                    observers
                        .iter()
                        .map(|o| RouteObserverRead {
                            node_id: o.node_id.clone(),
                            name: o.name.clone(),
                            public_key: o.public_key.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            quality_avg: result.as_ref().and_then(|r| r.quality_avg.clone()),
            route_result: result.map(RouteResultSummary::from),
            owner: route
                .created_by
                .as_ref()
                .and_then(|user| self.owners.get(user).cloned()),
            id: route.id,
            from_label: route.from_label,
            to_label: route.to_label,
            description: route.description,
            visibility: route.visibility,
            match_width: route.match_width,
            window_hours: route.window_hours,
            packet_count_threshold: route.packet_count_threshold,
            clear_threshold: route.clear_threshold,
            max_hop_span: route.max_hop_span,
            max_path_length: route.max_path_length,
            enabled: route.enabled,
            reversible: route.reversible,
            created_by: route.created_by,
            created_at: rfc3339(route.created_at),
            updated_at: rfc3339(route.updated_at),
        }
    }
}

/// `hops[first..=last]`, tolerating indices outside the list (an empty slice then).
pub(super) fn slice_hops(hops: &[Hop], first: i32, last: i32) -> &[Hop] {
    let start = usize::try_from(first.max(0)).unwrap_or(0);
    let end = usize::try_from(i64::from(last).saturating_add(1).max(0))
        .unwrap_or(0)
        .min(hops.len());
    if start >= end { &[] } else { &hops[start..end] }
}

/// The recent matches of `route`: the stored ones, else (enabled routes only) the live ones.
pub(super) async fn route_matches(
    db: &DatabaseConnection,
    route: &routes::Model,
    parts: &RouteParts,
) -> Result<Vec<RecentMatchPath>, ApiError> {
    let stored = query::stored_matches(db, &route.id, RECENT_MATCH_LIMIT).await?;
    if !stored.is_empty() {
        return Ok(stored
            .into_iter()
            .map(|m| RecentMatchPath {
                packet_hash: m.packet_hash,
                hops: slice_hops(&m.hops, m.row.first_position, m.row.last_position)
                    .iter()
                    .cloned()
                    .map(RecentMatchHop::from)
                    .collect(),
                received_at: Some(rfc3339(m.received_at)),
                observer_node_id: m.observer_node_id,
            })
            .collect());
    }
    if !route.enabled {
        return Ok(Vec::new());
    }
    let nodes = parts.nodes.get(&route.id).map(Vec::as_slice).unwrap_or(&[]);
    let path: Vec<PathNode<'_>> = nodes
        .iter()
        .map(|n| PathNode {
            expected_hash: n.row.expected_hash.as_deref(),
            public_key: n.public_key.as_deref(),
        })
        .collect();
    let expected = expected_hashes(&path, route.match_width);
    if expected.len() < 2 {
        return Ok(Vec::new());
    }
    let observers: Vec<String> = parts
        .observers
        .get(&route.id)
        .map(|o| o.iter().map(|o| o.node_id.clone()).collect())
        .unwrap_or_default();
    let window = query::Window {
        since: hub_core::time::now() - chrono::Duration::hours(i64::from(route.window_hours)),
        until: None,
        observers: &observers,
    };
    let candidates = query::candidates_both_ways(db, &expected, route.reversible, &window).await?;
    let rules = MatchSettings::from(route).rules();
    Ok(
        recent_matches(&expected, &candidates, &rules, RECENT_MATCH_LIMIT)
            .into_iter()
            .map(|m| RecentMatchPath {
                packet_hash: m.packet_hash,
                received_at: Some(rfc3339(m.received_at)),
                observer_node_id: m.observer_node_id,
                hops: m.hops.into_iter().map(RecentMatchHop::from).collect(),
            })
            .collect(),
    )
}

/// The observers of `matches` with their counts, in first-appearance order.
pub(super) async fn contributing_observers(
    db: &DatabaseConnection,
    matches: &[RecentMatchPath],
) -> Result<Vec<ContributingObserver>, ApiError> {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for observer in matches.iter().filter_map(|m| m.observer_node_id.as_ref()) {
        match counts.iter_mut().find(|(id, _)| id == observer) {
            Some((_, n)) => *n += 1,
            None => counts.push((observer.clone(), 1)),
        }
    }
    let names = query::node_keys(db, counts.iter().map(|(id, _)| id.clone())).await?;
    Ok(counts
        .into_iter()
        .map(|(node_id, match_count)| ContributingObserver {
            name: names.get(&node_id).and_then(|(name, _)| name.clone()),
            node_id,
            match_count,
        })
        .collect())
}

/// `days` (>= 0) past days before `today`, then today's entry.
pub(super) async fn history_days(
    db: &DatabaseConnection,
    route: &routes::Model,
    days: i64,
    today: NaiveDate,
) -> Result<Vec<RouteDay>, ApiError> {
    let ids = std::slice::from_ref(&route.id);
    let (past, latest) = if route.enabled {
        let oldest = today - chrono::Duration::days(days);
        (
            history_rows(db, ids, oldest, today).await?,
            latest_results(db, ids).await?,
        )
    } else {
        Default::default()
    };
    Ok(daily_series(
        route.enabled,
        past.get(&route.id),
        latest.get(&route.id),
        days,
        today,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hops(n: i32) -> Vec<Hop> {
        (0..n)
            .map(|position| Hop {
                position,
                node_hash: format!("{position:02X}"),
                packet_hash: None,
                event_hash: None,
                received_at: hub_core::time::now(),
                observer_node_id: None,
            })
            .collect()
    }

    #[test]
    fn stored_slices_tolerate_bad_indices() {
        let all = hops(3);
        assert_eq!(slice_hops(&all, 0, 1).len(), 2);
        assert_eq!(slice_hops(&all, 1, 9).len(), 2);
        assert!(slice_hops(&all, 5, 9).is_empty());
        assert!(slice_hops(&all, 2, 1).is_empty());
        assert_eq!(slice_hops(&all, -4, 0).len(), 1);
        assert!(slice_hops(&all, 0, i32::MIN).is_empty());
    }
}
