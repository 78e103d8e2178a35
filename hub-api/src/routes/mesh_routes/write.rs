//! SQL of the route writes (docs/contract/api-2.md sections 5.2, 5.5, 5.6, 5.8). Each write, its
//! synchronous evaluation and the caller's profile run in one transaction: a request that
//! fails changes nothing.

use super::body::{NewRoute, RouteChanges};
use super::query::{self, Window};
use crate::error::ApiError;
use crate::query::profiles::ensure_profile;
use chrono::{Duration, NaiveDateTime};
use hub_core::entity::{
    nodes, route_nodes, route_observers, route_recent_matches, route_result_history, route_results,
    routes,
};
use hub_core::roles::visibility_level;
use hub_core::route_matching::{
    MatchSettings, PathNode, RECENT_MATCH_LIMIT, evaluate, expected_hash, expected_hashes,
    quality_avg, recent_matches,
};
use hub_core::time::Timestamp;
use hub_core::time::db_time;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// Who writes: `X-User-Id`, `X-User-Name`, the raw `X-User-Roles`, and whether they hold
/// `admin`.
pub(crate) struct Writer<'a> {
    /// The identity provider's user id.
    pub(crate) user_id: &'a str,
    /// The name a new profile gets.
    pub(crate) user_name: Option<&'a str>,
    /// The roles stored on the profile (NULL when absent or blank).
    pub(crate) roles: Option<&'a str>,
    /// The caller's highest visibility level.
    pub(crate) max_level: u8,
    /// Whether the caller's role is admin.
    pub(crate) is_admin: bool,
}

fn tier_check(writer: &Writer<'_>, visibility: &str) -> Result<(), ApiError> {
    if visibility_level(visibility) > writer.max_level {
        return Err(ApiError::forbidden(
            "Cannot set route visibility above your own role",
        ));
    }
    Ok(())
}

fn now_value<C: ConnectionTrait>(db: &C, at: NaiveDateTime) -> sea_orm::Value {
    db_time(db.get_database_backend(), Timestamp(at))
}

async fn execute<C: ConnectionTrait>(
    db: &C,
    insert: Result<&mut sea_orm::sea_query::InsertStatement, sea_orm::sea_query::error::Error>,
) -> Result<(), ApiError> {
    let insert = insert.map_err(|e| DbErr::Custom(e.to_string()))?.to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// 409 when another route (not `except`) has exactly this label pair.
async fn check_duplicate<C: ConnectionTrait>(
    db: &C,
    from: &str,
    to: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let mut find = routes::Entity::find()
        .filter(routes::Column::FromLabel.eq(from))
        .filter(routes::Column::ToLabel.eq(to));
    if let Some(id) = except {
        find = find.filter(routes::Column::Id.ne(id));
    }
    if find.one(db).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "Route '{from}' -> '{to}' already exists"
        )));
    }
    Ok(())
}

/// A node found by public key: its id and key.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedNode {
    /// `nodes.id`.
    pub(crate) id: String,
    /// `nodes.public_key`.
    pub(crate) public_key: String,
}

/// The nodes of `keys` (trimmed, lowercased, exact), in input order, unknown ones dropped,
/// repeats kept.
pub(crate) async fn resolve_nodes<C: ConnectionTrait>(
    db: &C,
    keys: &[String],
) -> Result<Vec<ResolvedNode>, ApiError> {
    let wanted: Vec<String> = keys.iter().map(|k| k.trim().to_lowercase()).collect();
    let mut by_key: HashMap<String, String> = HashMap::new();
    for chunk in wanted.chunks(500) {
        for node in nodes::Entity::find()
            .filter(nodes::Column::PublicKey.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            by_key.entry(node.public_key).or_insert(node.id);
        }
    }
    Ok(wanted
        .into_iter()
        .filter_map(|key| {
            by_key.get(&key).map(|id| ResolvedNode {
                id: id.clone(),
                public_key: key,
            })
        })
        .collect())
}

async fn resolve_path<C: ConnectionTrait>(
    db: &C,
    keys: &[String],
) -> Result<Vec<ResolvedNode>, ApiError> {
    let resolved = resolve_nodes(db, keys).await?;
    if resolved.len() < 2 {
        return Err(ApiError::Detail {
            status: poem::http::StatusCode::BAD_REQUEST,
            text: "Could not resolve >= 2 path nodes".to_string(),
        });
    }
    Ok(resolved)
}

async fn insert_path<C: ConnectionTrait>(
    db: &C,
    route_id: &str,
    path: &[ResolvedNode],
    match_width: i32,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    for (position, node) in path.iter().enumerate() {
        execute(
            db,
            Query::insert()
                .into_table(route_nodes::Entity)
                .columns([
                    route_nodes::Column::Id,
                    route_nodes::Column::CreatedAt,
                    route_nodes::Column::UpdatedAt,
                    route_nodes::Column::RouteId,
                    route_nodes::Column::NodeId,
                    route_nodes::Column::Position,
                    route_nodes::Column::ExpectedHash,
                ])
                .values([
                    uuid::Uuid::new_v4().to_string().into(),
                    now_value(db, now).into(),
                    now_value(db, now).into(),
                    route_id.into(),
                    node.id.clone().into(),
                    i32::try_from(position).unwrap_or(i32::MAX).into(),
                    expected_hash(&node.public_key, match_width).into(),
                ]),
        )
        .await?;
    }
    Ok(())
}

async fn insert_observers<C: ConnectionTrait>(
    db: &C,
    route_id: &str,
    observers: &[ResolvedNode],
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    for (n, node) in observers.iter().enumerate() {
        // Distinct creation times keep insertion order when the rows are read back.
        let at = now + Duration::microseconds(i64::try_from(n).unwrap_or(0));
        execute(
            db,
            Query::insert()
                .into_table(route_observers::Entity)
                .columns([
                    route_observers::Column::Id,
                    route_observers::Column::CreatedAt,
                    route_observers::Column::UpdatedAt,
                    route_observers::Column::RouteId,
                    route_observers::Column::NodeId,
                ])
                .values([
                    uuid::Uuid::new_v4().to_string().into(),
                    now_value(db, at).into(),
                    now_value(db, at).into(),
                    route_id.into(),
                    node.id.clone().into(),
                ]),
        )
        .await?;
    }
    Ok(())
}

/// Creates a route (docs/contract/api-2.md section 5.2) and evaluates it when enabled; returns its id.
pub(crate) async fn create<C: ConnectionTrait>(
    db: &C,
    writer: &Writer<'_>,
    new: NewRoute,
) -> Result<String, ApiError> {
    let now = hub_core::time::now();
    ensure_profile(db, writer.user_id, writer.user_name, writer.roles).await?;
    tier_check(writer, &new.visibility)?;
    check_duplicate(db, &new.from_label, &new.to_label, None).await?;
    let path = resolve_path(db, &new.node_public_keys).await?;
    let observers = resolve_nodes(db, &new.observer_public_keys).await?;
    let id = uuid::Uuid::new_v4().to_string();
    execute(
        db,
        Query::insert()
            .into_table(routes::Entity)
            .columns([
                routes::Column::Id,
                routes::Column::CreatedAt,
                routes::Column::UpdatedAt,
                routes::Column::FromLabel,
                routes::Column::ToLabel,
                routes::Column::Description,
                routes::Column::Visibility,
                routes::Column::MatchWidth,
                routes::Column::WindowHours,
                routes::Column::PacketCountThreshold,
                routes::Column::ClearThreshold,
                routes::Column::MaxHopSpan,
                routes::Column::Enabled,
                routes::Column::Reversible,
                routes::Column::MaxPathLength,
                routes::Column::CreatedBy,
            ])
            .values([
                id.clone().into(),
                now_value(db, now).into(),
                now_value(db, now).into(),
                new.from_label.into(),
                new.to_label.into(),
                new.description.into(),
                new.visibility.into(),
                new.settings.match_width.into(),
                new.settings.window_hours.into(),
                new.settings.packet_count_threshold.into(),
                new.settings.clear_threshold.into(),
                new.settings.max_hop_span.into(),
                new.enabled.into(),
                new.settings.reversible.into(),
                new.settings.max_path_length.into(),
                writer.user_id.into(),
            ]),
    )
    .await?;
    insert_path(db, &id, &path, new.settings.match_width, now).await?;
    insert_observers(db, &id, &observers, now).await?;
    if new.enabled {
        let route = query::route_by_id(db, &id)
            .await?
            .ok_or(ApiError::NotFound("Route not found"))?;
        evaluate_and_store(db, &route, now).await?;
    }
    Ok(id)
}

/// The route `id` the writer may modify: 404 when missing or above their level, 403 when
/// a non-admin did not create it.
async fn modifiable<C: ConnectionTrait>(
    db: &C,
    writer: &Writer<'_>,
    id: &str,
) -> Result<routes::Model, ApiError> {
    let route = query::route_by_id(db, id)
        .await?
        .filter(|r| visibility_level(&r.visibility) <= writer.max_level)
        .ok_or(ApiError::NotFound("Route not found"))?;
    if !writer.is_admin && route.created_by.as_deref() != Some(writer.user_id) {
        return Err(ApiError::forbidden(
            "You can only modify routes you created",
        ));
    }
    Ok(route)
}

/// Updates a route (docs/contract/api-2.md section 5.5) and re-evaluates it when enabled.
pub(crate) async fn update<C: ConnectionTrait>(
    db: &C,
    writer: &Writer<'_>,
    id: &str,
    changes: RouteChanges,
) -> Result<(), ApiError> {
    let now = hub_core::time::now();
    let route = modifiable(db, writer, id).await?;
    let mut next = route.clone();
    if writer.is_admin && next.created_by.is_none() {
        next.created_by = Some(writer.user_id.to_string());
    }
    if changes.from_label.is_some() || changes.to_label.is_some() {
        let from = changes
            .from_label
            .clone()
            .unwrap_or(route.from_label.clone());
        let to = changes.to_label.clone().unwrap_or(route.to_label.clone());
        check_duplicate(db, &from, &to, Some(&route.id)).await?;
        next.from_label = from;
        next.to_label = to;
    }
    if let Some(description) = changes.description {
        next.description = Some(description);
    }
    if let Some(visibility) = changes.visibility {
        tier_check(writer, &visibility)?;
        next.visibility = visibility;
    }
    next.match_width = changes.match_width.unwrap_or(next.match_width);
    next.window_hours = changes.window_hours.unwrap_or(next.window_hours);
    next.packet_count_threshold = changes
        .packet_count_threshold
        .unwrap_or(next.packet_count_threshold);
    next.clear_threshold = changes.clear_threshold.or(next.clear_threshold);
    next.max_hop_span = changes.max_hop_span.or(next.max_hop_span);
    next.max_path_length = changes.max_path_length.or(next.max_path_length);
    next.enabled = changes.enabled.unwrap_or(next.enabled);
    next.reversible = changes.reversible.unwrap_or(next.reversible);
    let path = match &changes.node_public_keys {
        Some(keys) => Some(resolve_path(db, keys).await?),
        None => None,
    };
    if next != route {
        routes::Entity::update_many()
            .filter(routes::Column::Id.eq(&route.id))
            .col_expr(
                routes::Column::FromLabel,
                Expr::value(next.from_label.clone()),
            )
            .col_expr(routes::Column::ToLabel, Expr::value(next.to_label.clone()))
            .col_expr(
                routes::Column::Description,
                Expr::value(next.description.clone()),
            )
            .col_expr(
                routes::Column::Visibility,
                Expr::value(next.visibility.clone()),
            )
            .col_expr(routes::Column::MatchWidth, Expr::value(next.match_width))
            .col_expr(routes::Column::WindowHours, Expr::value(next.window_hours))
            .col_expr(
                routes::Column::PacketCountThreshold,
                Expr::value(next.packet_count_threshold),
            )
            .col_expr(
                routes::Column::ClearThreshold,
                Expr::value(next.clear_threshold),
            )
            .col_expr(routes::Column::MaxHopSpan, Expr::value(next.max_hop_span))
            .col_expr(
                routes::Column::MaxPathLength,
                Expr::value(next.max_path_length),
            )
            .col_expr(routes::Column::Enabled, Expr::value(next.enabled))
            .col_expr(routes::Column::Reversible, Expr::value(next.reversible))
            .col_expr(
                routes::Column::CreatedBy,
                Expr::value(next.created_by.clone()),
            )
            .col_expr(routes::Column::UpdatedAt, Expr::value(now_value(db, now)))
            .exec(db)
            .await?;
    }
    if let Some(path) = path {
        route_nodes::Entity::delete_many()
            .filter(route_nodes::Column::RouteId.eq(&route.id))
            .exec(db)
            .await?;
        insert_path(db, &route.id, &path, next.match_width, now).await?;
    }
    if let Some(keys) = &changes.observer_public_keys {
        let observers = resolve_nodes(db, keys).await?;
        route_observers::Entity::delete_many()
            .filter(route_observers::Column::RouteId.eq(&route.id))
            .exec(db)
            .await?;
        insert_observers(db, &route.id, &observers, now).await?;
    }
    if next.enabled {
        evaluate_and_store(db, &next, now).await?;
    }
    Ok(())
}

/// Deletes a route and its dependent rows (docs/contract/api-2.md section 5.6).
pub(crate) async fn delete<C: ConnectionTrait>(
    db: &C,
    writer: &Writer<'_>,
    id: &str,
) -> Result<(), ApiError> {
    let route = modifiable(db, writer, id).await?;
    // The schema cascades, but SQLite enforces foreign keys only when the connection turns
    // them on; deleting the children explicitly works either way.
    route_nodes::Entity::delete_many()
        .filter(route_nodes::Column::RouteId.eq(&route.id))
        .exec(db)
        .await?;
    route_observers::Entity::delete_many()
        .filter(route_observers::Column::RouteId.eq(&route.id))
        .exec(db)
        .await?;
    route_results::Entity::delete_many()
        .filter(route_results::Column::RouteId.eq(&route.id))
        .exec(db)
        .await?;
    route_result_history::Entity::delete_many()
        .filter(route_result_history::Column::RouteId.eq(&route.id))
        .exec(db)
        .await?;
    route_recent_matches::Entity::delete_many()
        .filter(route_recent_matches::Column::RouteId.eq(&route.id))
        .exec(db)
        .await?;
    routes::Entity::delete_by_id(route.id).exec(db).await?;
    Ok(())
}

/// The synchronous evaluation of a saved route (docs/contract/api-2.md section 5.8): judge it, persist
/// its recent matches, and upsert its route_results row with quality_avg from history.
async fn evaluate_and_store<C: ConnectionTrait>(
    db: &C,
    route: &routes::Model,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let ids = std::slice::from_ref(&route.id);
    let nodes = query::path_nodes(db, ids).await?;
    let nodes = nodes.get(&route.id).map(Vec::as_slice).unwrap_or(&[]);
    let path: Vec<PathNode<'_>> = nodes
        .iter()
        .map(|n| PathNode {
            expected_hash: n.row.expected_hash.as_deref(),
            public_key: n.public_key.as_deref(),
        })
        .collect();
    let expected = expected_hashes(&path, route.match_width);
    let observers: Vec<String> = query::observers(db, ids)
        .await?
        .remove(&route.id)
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.node_id)
        .collect();
    let window = Window {
        since: now - Duration::hours(i64::from(route.window_hours)),
        until: None,
        observers: &observers,
    };
    let candidates = if expected.len() < 2 {
        Vec::new()
    } else {
        query::candidates_both_ways(db, &expected, route.reversible, &window).await?
    };
    let coverage = query::has_coverage(db, &window).await?;
    let settings = MatchSettings::from(route);
    let rules = settings.rules();
    let thresholds = settings.thresholds();
    let verdict = evaluate(&expected, &candidates, &rules, &thresholds, || coverage);
    let matches = recent_matches(&expected, &candidates, &rules, RECENT_MATCH_LIMIT);
    store_matches(db, &route.id, &matches, now).await?;

    let today = now.date();
    let past: Vec<String> = route_result_history::Entity::find()
        .select_only()
        .column(route_result_history::Column::Quality)
        .filter(route_result_history::Column::RouteId.eq(&route.id))
        .filter(route_result_history::Column::Date.lt(today))
        .order_by_desc(route_result_history::Column::Date)
        .limit(7)
        .into_tuple()
        .all(db)
        .await?;
    let past: Vec<&str> = past.iter().rev().map(String::as_str).collect();
    let average = quality_avg(Some(verdict.quality.as_str()), &past);

    let matched = i32::try_from(verdict.matched_count).unwrap_or(i32::MAX);
    let clear = i32::try_from(thresholds.effective_clear()).unwrap_or(i32::MAX);
    let existing = route_results::Entity::find()
        .filter(route_results::Column::RouteId.eq(&route.id))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut update = route_results::Entity::update_many()
                .filter(route_results::Column::Id.eq(&row.id))
                .col_expr(
                    route_results::Column::State,
                    Expr::value(verdict.state.as_str()),
                )
                .col_expr(
                    route_results::Column::Quality,
                    Expr::value(verdict.quality.as_str()),
                )
                .col_expr(route_results::Column::MatchedCount, Expr::value(matched))
                .col_expr(
                    route_results::Column::Threshold,
                    Expr::value(route.packet_count_threshold),
                )
                .col_expr(route_results::Column::EffectiveClear, Expr::value(clear))
                .col_expr(
                    route_results::Column::EvaluatedAt,
                    Expr::value(now_value(db, now)),
                )
                .col_expr(
                    route_results::Column::UpdatedAt,
                    Expr::value(now_value(db, now)),
                );
            if let Some(average) = average {
                update = update.col_expr(route_results::Column::QualityAvg, Expr::value(average));
            }
            update.exec(db).await?;
        }
        None => {
            execute(
                db,
                Query::insert()
                    .into_table(route_results::Entity)
                    .columns([
                        route_results::Column::Id,
                        route_results::Column::CreatedAt,
                        route_results::Column::UpdatedAt,
                        route_results::Column::RouteId,
                        route_results::Column::State,
                        route_results::Column::Quality,
                        route_results::Column::MatchedCount,
                        route_results::Column::Threshold,
                        route_results::Column::EffectiveClear,
                        route_results::Column::EvaluatedAt,
                        route_results::Column::QualityAvg,
                    ])
                    .values([
                        uuid::Uuid::new_v4().to_string().into(),
                        now_value(db, now).into(),
                        now_value(db, now).into(),
                        route.id.clone().into(),
                        verdict.state.as_str().into(),
                        verdict.quality.as_str().into(),
                        matched.into(),
                        route.packet_count_threshold.into(),
                        clear.into(),
                        now_value(db, now).into(),
                        average.map(str::to_string).into(),
                    ]),
            )
            .await?;
        }
    }
    Ok(())
}

/// Replaces the route's stored recent matches by `matches`: rows of other packets go, new
/// ones are inserted, staying ones get their positions updated.
async fn store_matches<C: ConnectionTrait>(
    db: &C,
    route_id: &str,
    matches: &[hub_core::route_matching::RecentMatch],
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let existing = route_recent_matches::Entity::find()
        .filter(route_recent_matches::Column::RouteId.eq(route_id))
        .all(db)
        .await?;
    let keep: Vec<&str> = matches.iter().map(|m| m.raw_packet_id.as_str()).collect();
    let gone: Vec<String> = existing
        .iter()
        .filter(|row| !keep.contains(&row.raw_packet_id.as_str()))
        .map(|row| row.id.clone())
        .collect();
    if !gone.is_empty() {
        route_recent_matches::Entity::delete_many()
            .filter(route_recent_matches::Column::Id.is_in(gone))
            .exec(db)
            .await?;
    }
    for m in matches {
        match existing
            .iter()
            .find(|row| row.raw_packet_id == m.raw_packet_id)
        {
            Some(row) => {
                if row.first_position != m.first_position || row.last_position != m.last_position {
                    route_recent_matches::Entity::update_many()
                        .filter(route_recent_matches::Column::Id.eq(&row.id))
                        .col_expr(
                            route_recent_matches::Column::FirstPosition,
                            Expr::value(m.first_position),
                        )
                        .col_expr(
                            route_recent_matches::Column::LastPosition,
                            Expr::value(m.last_position),
                        )
                        .col_expr(
                            route_recent_matches::Column::UpdatedAt,
                            Expr::value(now_value(db, now)),
                        )
                        .exec(db)
                        .await?;
                }
            }
            None => {
                execute(
                    db,
                    Query::insert()
                        .into_table(route_recent_matches::Entity)
                        .columns([
                            route_recent_matches::Column::Id,
                            route_recent_matches::Column::CreatedAt,
                            route_recent_matches::Column::UpdatedAt,
                            route_recent_matches::Column::RouteId,
                            route_recent_matches::Column::RawPacketId,
                            route_recent_matches::Column::FirstPosition,
                            route_recent_matches::Column::LastPosition,
                        ])
                        .values([
                            uuid::Uuid::new_v4().to_string().into(),
                            now_value(db, now).into(),
                            now_value(db, now).into(),
                            route_id.into(),
                            m.raw_packet_id.clone().into(),
                            m.first_position.into(),
                            m.last_position.into(),
                        ]),
                )
                .await?;
            }
        }
    }
    Ok(())
}
