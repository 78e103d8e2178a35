//! `/api/v1/routes`: monitored routes between sites (docs/contract/api-2.md section 5).
//!
//! A route's health is computed by MeshCore Hub's collector and stored in `route_results`,
//! `route_result_history` and `route_recent_matches`; the reads serve those tables. Only
//! when a route has no stored recent matches does the detail compute them live with
//! [`hub_core::route_matching`], without writing anything. The writes (create, update,
//! delete) run in one transaction each, together with the synchronous evaluation of an
//! enabled route; the preview runs the matcher over an unsaved configuration and writes
//! nothing.
//!
//! Visibility: a route above the caller's level (community 0, member 1, operator 2, admin 3;
//! unknown names count as 0) is left out of the list and answered 404 by id, exactly like a
//! missing one.

pub mod body;
pub mod query;
mod write;

use crate::body::{BodyErrors, ErrorText, JsonBody};
use crate::caller::{Caller, Identity, role_key};
use crate::caller::{has_role, require_operator_or_admin};
use crate::documented::BoolParam;
use crate::error::ApiError;
use crate::params::parse_bool;
use crate::query::lookups::{AdoptedBy, profiles_by_user_id};
use crate::query::route_history::{RouteDay, daily_series, history_rows, latest_results};
use crate::responses::{
    DeleteErrors, InvalidParams, ReadErrors, Reply, Unauthorized, Unavailable, ValidationErrors,
    WriteErrors,
};
use crate::routes::ApiTags;
use crate::state::AppState;
use chrono::NaiveDate;
use hub_core::entity::{route_results, routes};
use hub_core::route_matching::{
    Hop, MatchRules, PathNode, RECENT_MATCH_LIMIT, Thresholds, expected_hash, expected_hashes,
    needs_reverse_fetch, preview, preview_truncated, recent_matches,
};
use hub_core::time::rfc3339;
use hub_macros::{cached, cached_api, invalidates};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Cache names of this group; a route write must invalidate all of them (and
/// `dashboard/routes-overview`).
pub const CACHE_NAMES: [&str; 3] = ["routes", "routes/detail", "routes/history"];

/// A path node of a route.
#[derive(Debug, Clone, Object)]
pub struct RouteNodeRead {
    /// The node's id.
    pub node_id: String,
    /// 0-based position in the route.
    pub position: i32,
    /// The hop hash this node is matched by (uppercase hex, `2 x match_width` chars).
    #[oai(nullable)]
    pub expected_hash: Option<String>,
    /// The node's advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The node's public key.
    #[oai(nullable)]
    pub public_key: Option<String>,
}

/// An observer a route is restricted to.
#[derive(Debug, Clone, Object)]
pub struct RouteObserverRead {
    /// The observer's node id.
    pub node_id: String,
    /// The observer's advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The observer's public key.
    #[oai(nullable)]
    pub public_key: Option<String>,
}

/// The route's latest evaluation.
#[derive(Debug, Clone, Object)]
pub struct RouteResultSummary {
    /// `healthy`, `unhealthy` or `no_coverage`.
    #[oai(nullable)]
    pub state: Option<String>,
    /// `clear`, `marginal`, `failing` or `unknown`.
    #[oai(nullable)]
    pub quality: Option<String>,
    /// Distinct matching packets in the window (capped at `effective_clear`).
    #[oai(nullable)]
    pub matched_count: Option<i32>,
    /// The packet count threshold it was judged by.
    #[oai(nullable)]
    pub threshold: Option<i32>,
    /// The clear bar it was judged by.
    #[oai(nullable)]
    pub effective_clear: Option<i32>,
    /// When it was evaluated (RFC 3339, UTC).
    #[oai(nullable)]
    pub evaluated_at: Option<String>,
}

impl From<route_results::Model> for RouteResultSummary {
    fn from(r: route_results::Model) -> Self {
        RouteResultSummary {
            state: Some(r.state),
            quality: Some(r.quality),
            matched_count: Some(r.matched_count),
            threshold: Some(r.threshold),
            effective_clear: Some(r.effective_clear),
            evaluated_at: Some(rfc3339(r.evaluated_at)),
        }
    }
}

/// A route, as listed.
#[derive(Debug, Clone, Object)]
pub struct RouteRead {
    /// The route id.
    pub id: String,
    /// Label of the site the route starts at.
    pub from_label: String,
    /// Label of the site the route ends at.
    pub to_label: String,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// `community`, `member`, `operator` or `admin`: the lowest role that sees the route.
    pub visibility: String,
    /// Bytes of each node's key matched against hop hashes, 1-3.
    pub match_width: i32,
    /// Length of the evaluation window, in hours.
    pub window_hours: i32,
    /// Distinct matching packets needed to be healthy.
    pub packet_count_threshold: i32,
    /// Distinct matching packets for `clear` quality; null (or 0) means 3 x the threshold.
    #[oai(nullable)]
    pub clear_threshold: Option<i32>,
    /// Most positions between the first and last matched hop; null is unlimited.
    #[oai(nullable)]
    pub max_hop_span: Option<i32>,
    /// Packets with a longer path never match; null is unlimited.
    #[oai(nullable)]
    pub max_path_length: Option<i32>,
    /// Whether the route is evaluated.
    pub enabled: bool,
    /// Whether the path may also be heard in reverse.
    pub reversible: bool,
    /// The path nodes, by position.
    pub route_nodes: Vec<RouteNodeRead>,
    /// The observers the route is restricted to; empty means all.
    pub route_observers: Vec<RouteObserverRead>,
    /// The latest evaluation; null when the route was never evaluated. A disabled route keeps
    /// the result of its last evaluation.
    #[oai(nullable)]
    pub route_result: Option<RouteResultSummary>,
    /// Average quality over the last days (`clear`, `marginal` or `failing`), when known.
    #[oai(nullable)]
    pub quality_avg: Option<String>,
    /// User id of the creator; null for legacy routes.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// The creator's profile, when there is one.
    #[oai(nullable)]
    pub owner: Option<AdoptedBy>,
    /// Row creation time (RFC 3339, UTC).
    pub created_at: String,
    /// Last change (RFC 3339, UTC).
    pub updated_at: String,
}

/// One hop of a matched path.
#[derive(Debug, Clone, Object)]
pub struct RecentMatchHop {
    /// 0-based position in the packet's path.
    pub position: i32,
    /// The hop's hash (uppercase hex).
    pub node_hash: String,
    /// The packet's hash.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// The packet's event hash.
    #[oai(nullable)]
    pub event_hash: Option<String>,
    /// When the packet was received (RFC 3339, UTC).
    pub received_at: String,
    /// The observer that received it.
    #[oai(nullable)]
    pub observer_node_id: Option<String>,
}

impl From<Hop> for RecentMatchHop {
    fn from(hop: Hop) -> Self {
        RecentMatchHop {
            position: hop.position,
            node_hash: hop.node_hash,
            packet_hash: hop.packet_hash,
            event_hash: hop.event_hash,
            received_at: rfc3339(hop.received_at),
            observer_node_id: hop.observer_node_id,
        }
    }
}

/// A recent packet whose path matched the route.
#[derive(Debug, Clone, Object)]
pub struct RecentMatchPath {
    /// The packet's hash.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// The matched part of the path, first to last matched hop, in packet order.
    pub hops: Vec<RecentMatchHop>,
    /// When the packet was received (RFC 3339, UTC).
    #[oai(nullable)]
    pub received_at: Option<String>,
    /// The observer that received it.
    #[oai(nullable)]
    pub observer_node_id: Option<String>,
}

/// An observer that heard some of the recent matches.
#[derive(Debug, Clone, Object)]
pub struct ContributingObserver {
    /// The observer's node id.
    pub node_id: String,
    /// The observer's advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// How many of the recent matches it heard.
    pub match_count: i64,
}

/// A route with its recent matches.
#[derive(Debug, Clone, Object)]
pub struct RouteDetail {
    /// The route id.
    pub id: String,
    /// Label of the site the route starts at.
    pub from_label: String,
    /// Label of the site the route ends at.
    pub to_label: String,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// `community`, `member`, `operator` or `admin`: the lowest role that sees the route.
    pub visibility: String,
    /// Bytes of each node's key matched against hop hashes, 1-3.
    pub match_width: i32,
    /// Length of the evaluation window, in hours.
    pub window_hours: i32,
    /// Distinct matching packets needed to be healthy.
    pub packet_count_threshold: i32,
    /// Distinct matching packets for `clear` quality; null (or 0) means 3 x the threshold.
    #[oai(nullable)]
    pub clear_threshold: Option<i32>,
    /// Most positions between the first and last matched hop; null is unlimited.
    #[oai(nullable)]
    pub max_hop_span: Option<i32>,
    /// Packets with a longer path never match; null is unlimited.
    #[oai(nullable)]
    pub max_path_length: Option<i32>,
    /// Whether the route is evaluated.
    pub enabled: bool,
    /// Whether the path may also be heard in reverse.
    pub reversible: bool,
    /// The path nodes, by position.
    pub route_nodes: Vec<RouteNodeRead>,
    /// The observers the route is restricted to; empty means all.
    pub route_observers: Vec<RouteObserverRead>,
    /// The latest evaluation; null when the route was never evaluated.
    #[oai(nullable)]
    pub route_result: Option<RouteResultSummary>,
    /// Average quality over the last days, when known.
    #[oai(nullable)]
    pub quality_avg: Option<String>,
    /// Observers of `recent_matches`, with their counts, in first-appearance order.
    pub contributing_observers: Vec<ContributingObserver>,
    /// Up to 3 most recent matching packets, newest first: the stored ones, or (when none
    /// are stored and the route is enabled) computed now over the route's window.
    pub recent_matches: Vec<RecentMatchPath>,
    /// User id of the creator; null for legacy routes.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// The creator's profile, when there is one.
    #[oai(nullable)]
    pub owner: Option<AdoptedBy>,
    /// Row creation time (RFC 3339, UTC).
    pub created_at: String,
    /// Last change (RFC 3339, UTC).
    pub updated_at: String,
}

impl RouteDetail {
    /// `read` with the two detail lists inserted after `quality_avg`.
    fn new(
        read: RouteRead,
        contributing_observers: Vec<ContributingObserver>,
        recent_matches: Vec<RecentMatchPath>,
    ) -> RouteDetail {
        RouteDetail {
            id: read.id,
            from_label: read.from_label,
            to_label: read.to_label,
            description: read.description,
            visibility: read.visibility,
            match_width: read.match_width,
            window_hours: read.window_hours,
            packet_count_threshold: read.packet_count_threshold,
            clear_threshold: read.clear_threshold,
            max_hop_span: read.max_hop_span,
            max_path_length: read.max_path_length,
            enabled: read.enabled,
            reversible: read.reversible,
            route_nodes: read.route_nodes,
            route_observers: read.route_observers,
            route_result: read.route_result,
            quality_avg: read.quality_avg,
            contributing_observers,
            recent_matches,
            created_by: read.created_by,
            owner: read.owner,
            created_at: read.created_at,
            updated_at: read.updated_at,
        }
    }
}

/// The routes the caller may see.
#[derive(Debug, Clone, Object)]
pub struct RouteList {
    /// Routes ordered by `from_label`, then id.
    pub items: Vec<RouteRead>,
    /// Number of items (the list is not paginated).
    pub total: i64,
}

/// A route's daily history.
#[derive(Debug, Clone, Object)]
pub struct RouteHistory {
    /// The route id.
    pub route_id: String,
    /// Number of entries in `data` (past days plus today).
    pub days: i64,
    /// One entry per UTC day, oldest first; the last is today's (the current evaluation).
    pub data: Vec<RouteDay>,
}

/// Responses of `GET /routes`.
#[derive(ApiResponse)]
pub enum RouteListResponse {
    /// The routes the caller may see.
    #[oai(status = 200)]
    Ok(Json<RouteList>),
    /// `mine` is not a boolean.
    #[oai(status = 422)]
    Invalid(Json<ValidationErrors>),
}

/// Responses of `GET /routes/{route_id}`.
#[derive(ApiResponse)]
pub enum RouteDetailResponse {
    /// The route.
    #[oai(status = 200)]
    Ok(Json<Box<RouteDetail>>),
    /// `Route not found`: no such route, or one above the caller's role.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
}

/// Responses of `GET /routes/{route_id}/history`.
#[derive(ApiResponse)]
pub enum RouteHistoryResponse {
    /// The route's history.
    #[oai(status = 200)]
    Ok(Json<RouteHistory>),
    /// `Route not found`: no such route, or one above the caller's role.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// `days` is not an integer.
    #[oai(status = 422)]
    Invalid(Json<ValidationErrors>),
}

/// What a preview of an unsaved route found.
#[derive(Debug, Clone, Object)]
pub struct RoutePreviewResponse {
    /// Distinct matching packets in the window; null when truncated.
    #[oai(nullable)]
    pub matched_count: Option<i64>,
    /// `clear`, `marginal`, `failing` or `unknown`; null when truncated.
    #[oai(nullable)]
    pub quality: Option<String>,
    /// `healthy`, `unhealthy` or `no_coverage`; null when truncated.
    #[oai(nullable)]
    pub state: Option<String>,
    /// `{observer node id: matching receptions}`, in first-appearance order.
    pub contributing_observers: serde_json::Value,
    /// `{path node id: nodes sharing its expected hash}`, in path order.
    pub collisions: serde_json::Value,
    /// Whether there were too many candidate packets (over 5000) to examine.
    pub truncated: bool,
    /// The candidate count, when truncated.
    #[oai(nullable)]
    pub candidate_count: Option<i64>,
}

/// Responses of `POST /routes`.
#[derive(ApiResponse)]
pub enum RouteCreated {
    /// The new route; `quality_avg` is always null here.
    #[oai(status = 201)]
    Created(Json<Box<RouteRead>>),
    /// `Could not resolve >= 2 path nodes`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorText>),
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required` or `Cannot set route visibility above your own role`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Route '<from>' -> '<to>' already exists`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is not a valid `RouteCreate`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Responses of `PUT /routes/{route_id}`.
#[derive(ApiResponse)]
pub enum RouteUpdated {
    /// The route after the change.
    #[oai(status = 200)]
    Ok(Json<Box<RouteRead>>),
    /// `Could not resolve >= 2 path nodes`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorText>),
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`, `You can only modify routes you created` or
    /// `Cannot set route visibility above your own role`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Route not found`: no such route, or one above the caller's role.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// `Route '<from>' -> '<to>' already exists`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is not a valid `RouteUpdate`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Responses of `DELETE /routes/{route_id}`.
#[derive(ApiResponse)]
pub enum RouteDeleted {
    /// Deleted: no body.
    #[oai(status = 204)]
    NoContent,
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required` or `You can only modify routes you created`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Route not found`: no such route, or one above the caller's role.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
}

/// Responses of `POST /routes/preview`.
#[derive(ApiResponse)]
pub enum RoutePreviewed {
    /// What the configuration would match now.
    #[oai(status = 200)]
    Ok(Json<Box<RoutePreviewResponse>>),
    /// The body is not a valid `RoutePreviewRequest`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Route endpoints.
pub struct RoutesApi;

fn default_history_days() -> i64 {
    7
}

/// `X-User-Id`, when present and not blank.
fn user_id(req: &Request) -> Option<&str> {
    req.headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
}

/// `text` with `%` and `:` percent-encoded, so it cannot split a cache key's parts.
fn escape_key_part(text: &str) -> String {
    text.replace('%', "%25").replace(':', "%3A")
}

#[derive(serde::Deserialize)]
struct MineParam {
    mine: Option<String>,
}

/// Cache-key variant of the list: the role, plus a digest of `X-User-Id` whenever `mine` may
/// be true, so that no user's `mine` list is served to another user.
///
/// ```
/// let req = |uri: &str, user: &str| poem::Request::builder().uri(uri.parse().unwrap())
///     .header("X-User-Roles", "operator").header("X-User-Id", user).finish();
/// let key = hub_api::routes::mesh_routes::list_key;
/// assert_eq!(key(&req("/api/v1/routes", "u1")), "role=operator");
/// assert_eq!(key(&req("/api/v1/routes?mine=false", "u1")), "role=operator");
/// assert_ne!(key(&req("/api/v1/routes?mine=true", "u1")), key(&req("/api/v1/routes?mine=true", "u2")));
/// assert!(!key(&req("/api/v1/routes?mine=true", "a:b")).contains(':'));
/// ```
pub fn list_key(req: &Request) -> String {
    let role = role_key(req);
    // An unreadable query is keyed per user too: splitting the cache is safe, sharing is not.
    let mine = req
        .params::<MineParam>()
        .map_err(|_| ())
        .and_then(|p| parse_bool("mine", p.mine.as_deref()).map_err(|_| ()));
    if matches!(mine, Ok(None) | Ok(Some(false))) {
        return role;
    }
    let user = user_id(req).map_or_else(
        || "none".to_string(),
        |id| hex::encode(&Sha256::digest(id.as_bytes())[..16]),
    );
    format!("{role};user={user}")
}

/// Cache-key variant of the per-route operations: the role and the request path, which
/// holds the route id (the macro keys on query parameters only).
///
/// ```
/// let req = |uri: &str| poem::Request::builder().uri(uri.parse().unwrap()).finish();
/// let key = hub_api::routes::mesh_routes::route_key;
/// assert_ne!(key(&req("/api/v1/routes/a")), key(&req("/api/v1/routes/b")));
/// assert_eq!(key(&req("/api/v1/routes/a:b")), "role=anonymous;path=/api/v1/routes/a%3Ab");
/// ```
pub fn route_key(req: &Request) -> String {
    format!(
        "{};path={}",
        role_key(req),
        escape_key_part(req.uri().path())
    )
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Routes")]
impl RoutesApi {
    /// List routes
    ///
    /// Every route the caller's role may see (disabled ones included), ordered by
    /// `from_label`, then id. With `mine=true`, only the routes created by the caller
    /// (`X-User-Id`); without that header the list is empty. Not paginated.
    #[oai(path = "/routes", method = "get")]
    #[cached(name = "routes", key = list_key)]
    async fn list(
        &self,
        state: Data<&AppState>,
        req: &Request,
        caller: Caller,
        /// Only the caller's own routes (true/false/1/0/yes/no/on/off); default false.
        mine: Query<Option<BoolParam>>,
    ) -> Reply<RouteListResponse, ReadErrors> {
        let db = &state.db;
        let mine = parse_bool("mine", mine.as_deref())?.unwrap_or(false);
        let mut visible: Vec<routes::Model> = query::all_routes(db)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|r| caller.role.can_see(&r.visibility))
            .collect();
        if mine {
            let me = user_id(req);
            visible.retain(|r| r.created_by.is_some() && r.created_by.as_deref() == me);
        }
        // Byte order, as SQLite sorts text, on either backend.
        visible.sort_by(|a, b| a.from_label.cmp(&b.from_label).then(a.id.cmp(&b.id)));
        let parts = RouteParts::load(db, &visible).await?;
        let items: Vec<RouteRead> = visible.into_iter().map(|r| parts.read(r)).collect();
        Ok(RouteListResponse::Ok(Json(RouteList {
            total: items.len() as i64,
            items,
        })))
    }

    /// Get a route
    ///
    /// The route with its three most recent matching packets and the observers that heard
    /// them. Stored matches are shown even for a disabled route; when none are stored, an
    /// enabled route's matches are computed over its window (nothing is written).
    #[oai(path = "/routes/:route_id", method = "get")]
    #[cached(name = "routes/detail", ttl = dashboard, key = route_key)]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The route id.
        route_id: Path<String>,
    ) -> Reply<RouteDetailResponse, (Unauthorized, InvalidParams, Unavailable)> {
        let db = &state.db;
        let route = visible_route(db, caller, &route_id).await?;
        let parts = RouteParts::load(db, std::slice::from_ref(&route)).await?;
        let matches = route_matches(db, &route, &parts).await?;
        let observers = contributing_observers(db, &matches).await?;
        let read = parts.read(route);
        Ok(RouteDetailResponse::Ok(Json(Box::new(RouteDetail::new(
            read, observers, matches,
        )))))
    }

    /// Get a route's daily history
    ///
    /// One entry per UTC day from today-`days` to yesterday, from the evaluator's daily
    /// rows (`unknown`/`no_coverage`/0 for days without one), then today's entry from the
    /// current evaluation. `days` is clamped to RAW_PACKET_RETENTION_DAYS; `days <= 0` gives
    /// only today. A disabled route reads `unknown`/`no_coverage`/0 throughout.
    #[oai(path = "/routes/:route_id/history", method = "get")]
    #[cached(name = "routes/history", ttl = dashboard, key = route_key)]
    async fn history(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The route id.
        route_id: Path<String>,
        /// Past days before today (default 7).
        #[oai(default = "default_history_days")]
        days: Query<i64>,
    ) -> Reply<RouteHistoryResponse, ReadErrors> {
        let db = &state.db;
        let route = visible_route(db, caller, &route_id).await?;
        let days = days.0.min(state.raw_packet_retention_days).max(0);
        let today = hub_core::time::now().date();
        let data = history_days(db, &route, days, today).await?;
        Ok(RouteHistoryResponse::Ok(Json(RouteHistory {
            route_id: route.id,
            days: data.len() as i64,
            data,
        })))
    }

    /// Create a route
    ///
    /// Operator or admin; the visibility may not exceed the caller's role. Path nodes are
    /// resolved by public key (trimmed, lowercased; unknown ones dropped, at least 2 must
    /// remain). An enabled route is evaluated at once. Creates the caller's profile when
    /// missing, in the same transaction: a failed request changes nothing.
    ///
    /// Invalidates: routes, profiles, dashboard/routes-overview, dashboard/stats (the
    /// writer's profile is created or its roles synced).
    #[oai(path = "/routes", method = "post")]
    #[invalidates("routes", "profiles", "dashboard/routes-overview", "dashboard/stats")]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        identity: Identity,
        body: JsonBody<body::RouteCreate>,
    ) -> Reply<RouteCreated, WriteErrors> {
        let user_id = require_operator_or_admin(&identity)?;
        let new = body::parse_create(&body.object()?)?;
        let writer = writer(&identity, user_id, caller);
        let txn = hub_core::db::begin_write(&state.db)
            .await
            .map_err(ApiError::from)?;
        let id = write::create(&txn, &writer, new).await?;
        txn.commit().await.map_err(ApiError::from)?;
        let mut read = read_route(&state.db, &id).await?;
        read.quality_avg = None;
        Ok(RouteCreated::Created(Json(Box::new(read))))
    }

    /// Preview a route
    ///
    /// A dry run of the matcher over an unsaved configuration; nothing is written and no
    /// identity is needed. Over 5000 candidate packets the answer is `truncated`.
    #[oai(path = "/routes/preview", method = "post")]
    async fn preview(
        &self,
        state: Data<&AppState>,
        body: JsonBody<body::RoutePreviewRequest>,
    ) -> Reply<RoutePreviewed, ReadErrors> {
        let config = body::parse_preview(&body.object()?)?;
        Ok(RoutePreviewed::Ok(Json(Box::new(
            preview_route(&state.db, config).await?,
        ))))
    }

    /// Update a route
    ///
    /// Operator or admin; a non-admin only their own routes (legacy routes without a
    /// creator are admin-only, and an admin editing one becomes its creator). Null or
    /// absent fields stay unchanged. An enabled route is re-evaluated at once.
    ///
    /// Invalidates: routes, profiles, dashboard/routes-overview, dashboard/stats (the
    /// writer's profile is created or its roles synced).
    #[oai(path = "/routes/:route_id", method = "put")]
    #[invalidates("routes", "profiles", "dashboard/routes-overview", "dashboard/stats")]
    async fn update(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        identity: Identity,
        /// The route id.
        route_id: Path<String>,
        body: JsonBody<body::RouteUpdate>,
    ) -> Reply<RouteUpdated, WriteErrors> {
        let user_id = require_operator_or_admin(&identity)?;
        let changes = body::parse_update(&body.object()?)?;
        let writer = writer(&identity, user_id, caller);
        let txn = hub_core::db::begin_write(&state.db)
            .await
            .map_err(ApiError::from)?;
        write::update(&txn, &writer, &route_id, changes).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(RouteUpdated::Ok(Json(Box::new(
            read_route(&state.db, &route_id).await?,
        ))))
    }

    /// Delete a route
    ///
    /// Operator or admin; a non-admin only their own routes. Its nodes, observers, results,
    /// history and recent matches go with it.
    ///
    /// Invalidates: routes, profiles, dashboard/routes-overview, dashboard/stats (the
    /// writer's profile is created or its roles synced).
    #[oai(path = "/routes/:route_id", method = "delete")]
    #[invalidates("routes", "profiles", "dashboard/routes-overview", "dashboard/stats")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        identity: Identity,
        /// The route id.
        route_id: Path<String>,
    ) -> Reply<RouteDeleted, DeleteErrors> {
        let user_id = require_operator_or_admin(&identity)?;
        let writer = writer(&identity, user_id, caller);
        let txn = hub_core::db::begin_write(&state.db)
            .await
            .map_err(ApiError::from)?;
        write::delete(&txn, &writer, &route_id).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(RouteDeleted::NoContent)
    }
}

/// The writer of a route write request.
fn writer<'a>(identity: &'a Identity, user_id: &'a str, caller: Caller) -> write::Writer<'a> {
    write::Writer {
        user_id,
        user_name: identity.user_name.as_deref(),
        roles: identity.roles.as_deref(),
        max_level: caller.role.max_visibility(),
        is_admin: has_role(identity, "admin"),
    }
}

/// The route `id` as `RouteRead`, with its persisted quality_avg.
async fn read_route(db: &DatabaseConnection, id: &str) -> Result<RouteRead, ApiError> {
    let route = query::route_by_id(db, id)
        .await?
        .ok_or(ApiError::NotFound("Route not found"))?;
    let parts = RouteParts::load(db, std::slice::from_ref(&route)).await?;
    Ok(parts.read(route))
}

/// The preview of an unsaved configuration (docs/contract/api-2.md sections 5.7 and 5.8).
async fn preview_route(
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
        .map(|n| expected_hash(&n.public_key, config.match_width))
        .collect();
    let window = query::Window {
        since: hub_core::time::now() - chrono::Duration::hours(i64::from(config.window_hours)),
        until: None,
        observers: &observers,
    };
    let mut candidate_count = query::count_candidates(db, &expected[0], &window).await?;
    if needs_reverse_fetch(&expected, config.reversible)
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
    let candidates = query::candidates_both_ways(db, &expected, config.reversible, &window).await?;
    let coverage = query::has_coverage(db, &window).await?;
    let rules = MatchRules {
        max_hop_span: config.max_hop_span,
        max_path_length: config.max_path_length,
        reversible: config.reversible,
    };
    let thresholds = Thresholds {
        packet_count_threshold: config.packet_count_threshold,
        clear_threshold: config.clear_threshold,
    };
    let found = preview(&expected, &candidates, &rules, &thresholds, || coverage);
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

/// The route `id`, or 404 when it is missing or above the caller's level.
async fn visible_route(
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
struct RouteParts {
    nodes: HashMap<String, Vec<query::PathNodeRow>>,
    observers: HashMap<String, Vec<query::ObserverRow>>,
    results: HashMap<String, route_results::Model>,
    owners: HashMap<String, AdoptedBy>,
}

impl RouteParts {
    async fn load(db: &DatabaseConnection, routes: &[routes::Model]) -> Result<Self, ApiError> {
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

    fn read(&self, route: routes::Model) -> RouteRead {
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
fn slice_hops(hops: &[Hop], first: i32, last: i32) -> &[Hop] {
    let start = usize::try_from(first.max(0)).unwrap_or(0);
    let end = usize::try_from(i64::from(last).saturating_add(1).max(0))
        .unwrap_or(0)
        .min(hops.len());
    if start >= end { &[] } else { &hops[start..end] }
}

/// The recent matches of `route`: the stored ones, else (enabled routes only) the live ones.
async fn route_matches(
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
    let rules = MatchRules {
        max_hop_span: route.max_hop_span,
        max_path_length: route.max_path_length,
        reversible: route.reversible,
    };
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
async fn contributing_observers(
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
async fn history_days(
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
