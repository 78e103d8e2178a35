//! The response types of the route endpoints.

use crate::body::{BodyErrors, ErrorText};
use crate::query::lookups::AdoptedBy;
use crate::query::route_history::RouteDay;
use crate::responses::ValidationErrors;
use hub_core::entity::route_results;
use hub_core::route_matching::Hop;
use hub_core::time::rfc3339;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

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
    pub(super) fn new(
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
