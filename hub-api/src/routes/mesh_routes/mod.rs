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
mod detail;
mod keys;
mod preview;
pub mod query;
mod types;
mod write;

use crate::body::JsonBody;
use crate::caller::{Caller, Identity, role_key};
use crate::caller::{has_role, require_operator_or_admin};
use crate::documented::BoolParam;
use crate::error::ApiError;
use crate::params::parse_bool;
use crate::responses::{
    DeleteErrors, InvalidParams, ReadErrors, Reply, Unauthorized, Unavailable, WriteErrors,
};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::routes;
use hub_macros::{cached, cached_api, invalidates};
use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use std::sync::Arc;

use detail::{
    RouteParts, contributing_observers, history_days, read_route, route_matches, visible_route,
};
pub use keys::list_key;
use keys::user_id;
use preview::preview_route;
pub use types::{
    ContributingObserver, RecentMatchHop, RecentMatchPath, RouteCreated, RouteDeleted, RouteDetail,
    RouteDetailResponse, RouteHistory, RouteHistoryResponse, RouteList, RouteListResponse,
    RouteNodeRead, RouteObserverRead, RoutePreviewResponse, RoutePreviewed, RouteRead,
    RouteResultSummary, RouteUpdated,
};

/// Cache names of this group; a route write must invalidate all of them (and
/// `dashboard/routes-overview`).
pub const CACHE_NAMES: [&str; 3] = ["routes", "routes/detail", "routes/history"];

/// Route endpoints.
pub struct RoutesApi;

fn default_history_days() -> i64 {
    7
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
    #[cached(name = "routes", key = list_key, reads = [routes, route_nodes, route_observers, route_results, route_result_history, nodes, node_tags, user_profiles, user_profile_nodes])]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
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
    #[cached(name = "routes/detail", ttl = dashboard, key = role_key, reads = [routes, route_nodes, route_observers, route_results, route_result_history, nodes, node_tags, user_profiles, user_profile_nodes, route_recent_matches, raw_packets, packet_path_hops])]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
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
    #[cached(name = "routes/history", ttl = dashboard, key = role_key, reads = [routes, route_results, route_result_history, user_profiles])]
    async fn history(
        &self,
        state: Data<&Arc<AppState>>,
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
    #[oai(path = "/routes", method = "post")]
    #[invalidates(
        routes,
        route_nodes,
        route_observers,
        route_results,
        route_result_history,
        route_recent_matches,
        user_profiles
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
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
        state: Data<&Arc<AppState>>,
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
    #[oai(path = "/routes/:route_id", method = "put")]
    #[invalidates(
        routes,
        route_nodes,
        route_observers,
        route_results,
        route_result_history,
        route_recent_matches,
        user_profiles
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
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
    #[oai(path = "/routes/:route_id", method = "delete")]
    #[invalidates(
        routes,
        route_nodes,
        route_observers,
        route_results,
        route_result_history,
        route_recent_matches,
        user_profiles
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
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
