//! `/api/v1/advertisements`: adverts heard by observers, with their source and observers.
//!
//! The *source node* of an advert is `advertisements.node_id`, or, when the collector did not
//! link one, the node whose public key the advert carries. Search, `adopted_by`, the
//! `node_name` sort and the `node_*` fields all use that same node.

use crate::error::ApiError;
use crate::lookups::{NodeNames, ObserverRead, names_by_node_id, observers_by_event};
use crate::page::Page;
use crate::params::{
    Bound, Order, contains_pattern, datetime_bound, lowercase, lowercase_list, non_blank,
    parse_datetime, sql,
};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::{advertisements, nodes};
use hub_core::time::{rfc3339, rfc3339_opt};
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::{Expr, NullOrdering, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::{BTreeSet, HashMap};

/// An advertisement with its observers and the names of its source and primary observer.
#[derive(Debug, Clone, Object)]
pub struct AdvertisementRead {
    /// Public key of the observer that stored the advert (the primary observer).
    pub observed_by: Option<String>,
    /// The primary observer's advertised name.
    pub observer_name: Option<String>,
    /// The primary observer's `name` tag.
    pub observer_tag_name: Option<String>,
    /// Public key the advert announces.
    pub public_key: String,
    /// Name carried by the advert itself.
    pub name: Option<String>,
    /// The source node's name (`nodes.name`).
    pub node_name: Option<String>,
    /// The source node's `name` tag.
    pub node_tag_name: Option<String>,
    /// The source node's `description` tag.
    pub node_tag_description: Option<String>,
    /// The advert's type, else the source node's.
    pub adv_type: Option<String>,
    /// Advert flags.
    pub flags: Option<i32>,
    /// How the packet travelled: flood, transport_flood, direct, ...
    pub route_type: Option<String>,
    /// The sender's own clock at sending (RFC 3339, UTC).
    pub advert_timestamp: Option<String>,
    /// When the primary observer heard it.
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Hash of the raw packet.
    pub packet_hash: Option<String>,
    /// Every observer that heard this advert, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Advertisement endpoints.
pub struct AdvertisementsApi;

fn default_limit() -> i64 {
    50
}

/// Route types that count as flood, kept when `route_type` is absent and counted by the
/// dashboard: adverts of other route types (`direct`) were only heard by a direct neighbour.
/// A NULL route type (rows from before the column existed) counts as flood too.
pub const FLOOD_ROUTE_TYPES: [&str; 2] = ["flood", "transport_flood"];

/// Adverts whose route type is one of `types` or unknown (NULL).
///
/// Stored route types are lowercase; comparing the bare column (not `LOWER()`) lets the
/// `(route_type, received_at)` index serve the filter.
pub fn route_type_in<V: Into<sea_orm::Value>>(types: impl IntoIterator<Item = V>) -> Condition {
    Condition::any()
        .add(advertisements::Column::RouteType.is_in(types))
        .add(advertisements::Column::RouteType.is_null())
}

/// Flood-only adverts (see [`FLOOD_ROUTE_TYPES`]).
pub fn flood_only() -> Condition {
    route_type_in(FLOOD_ROUTE_TYPES)
}

/// Id of the advert's source node: its `node_id`, else the node with its public key.
const SOURCE_NODE_ID: &str = "COALESCE(advertisements.node_id, \
     (SELECT sn0.id FROM nodes sn0 WHERE sn0.public_key = advertisements.public_key))";

/// `EXISTS` an `event_observers` row of `event_type` for `{table}.event_hash` whose observer
/// has one of `public_keys` (already lowercased). `None` when the list is empty.
///
/// Shared with `/messages`, whose `observed_by` works the same way on its own table.
pub fn observed_by_condition(
    backend: DbBackend,
    table: &str,
    event_type: &str,
    public_keys: &[String],
) -> Option<SimpleExpr> {
    if public_keys.is_empty() {
        return None;
    }
    let placeholders = vec!["?"; public_keys.len()].join(", ");
    let mut values = vec![event_type.to_string()];
    values.extend(public_keys.iter().cloned());
    Some(sql(
        backend,
        &format!(
            // IN (subquery) rather than a correlated EXISTS: the observers' events are found
            // once through their index and joined on the unique event_hash, instead of one
            // probe per candidate row (2x faster on the `large` seed).
            "{table}.event_hash IN (SELECT eo.event_hash FROM event_observers eo \
             JOIN nodes eon ON eon.id = eo.observer_node_id \
             WHERE eo.event_type = ? AND eon.public_key IN ({placeholders}))"
        ),
        values,
    ))
}

/// The `route_type` filter: `None` when disabled (`all`, `none` or nothing but blanks),
/// else the lowercased set to keep (rows with a NULL route type are kept too).
fn route_types(param: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(param) = param else {
        return Ok(Some(
            FLOOD_ROUTE_TYPES.iter().map(|t| t.to_string()).collect(),
        ));
    };
    let list = lowercase_list("route_type", param.split(','))?;
    if list.is_empty() || list.iter().any(|t| t == "all" || t == "none") {
        return Ok(None);
    }
    Ok(Some(list))
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Advertisements")]
impl AdvertisementsApi {
    /// List advertisements
    ///
    /// Filters combine with AND. By default only flooded adverts (route type `flood`,
    /// `transport_flood` or unknown) are listed; `route_type=all` lists every advert. Every
    /// sort ends with the advert id so pages are stable.
    #[oai(path = "/advertisements", method = "get")]
    #[cached(name = "advertisements")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Case-insensitive substring of the advert's public key or name, or of the source
        /// node's name or `name` tag.
        search: Query<Option<String>>,
        /// Exact public key (case-insensitive).
        public_key: Query<Option<String>>,
        /// Observer public key; repeat the parameter to match any of several observers.
        #[oai(default)]
        observed_by: Query<Vec<String>>,
        /// Profile id adopting the source node.
        adopted_by: Query<Option<String>>,
        /// Comma list of route types to keep (NULL route types always kept); default
        /// `flood,transport_flood`; `all`, `none` or empty keeps every route type.
        route_type: Query<Option<String>>,
        /// Only adverts received at or after this time (RFC 3339).
        since: Query<Option<String>>,
        /// Only adverts received at or before this time (RFC 3339).
        until: Query<Option<String>>,
        /// time (default, received_at), node_name or public_key.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> poem::Result<Json<Page<AdvertisementRead>>> {
        let db = &state.db;
        let backend = db.get_database_backend();
        let observed_by = lowercase_list("observed_by", observed_by.iter())?;
        let route_types = route_types(route_type.as_deref())?;
        let since = parse_datetime("since", since.as_deref())?;
        let until = parse_datetime("until", until.as_deref())?;

        let mut filter = Condition::all();
        if let Some(search) = lowercase(search.as_deref()) {
            let pattern = contains_pattern(&search);
            filter = filter.add(
                Condition::any()
                    .add(sql(
                        backend,
                        "LOWER(advertisements.public_key) LIKE ? ESCAPE '\\'",
                        [pattern.clone()],
                    ))
                    .add(sql(
                        backend,
                        "LOWER(advertisements.name) LIKE ? ESCAPE '\\'",
                        [pattern.clone()],
                    ))
                    .add(sql(
                        backend,
                        &format!(
                            "EXISTS (SELECT 1 FROM nodes sn WHERE sn.id = {SOURCE_NODE_ID} AND \
                             (LOWER(sn.name) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM node_tags t \
                             WHERE t.node_id = sn.id AND t.key = 'name' AND LOWER(t.value) LIKE ? ESCAPE '\\')))"
                        ),
                        [pattern.clone(), pattern],
                    )),
            );
        }
        if let Some(public_key) = lowercase(public_key.as_deref()) {
            filter = filter.add(advertisements::Column::PublicKey.eq(public_key));
        }
        if let Some(cond) =
            observed_by_condition(backend, "advertisements", "advertisement", &observed_by)
        {
            filter = filter.add(cond);
        }
        if let Some(profile_id) = non_blank(adopted_by.as_deref()) {
            filter = filter.add(sql(
                backend,
                &format!(
                    "EXISTS (SELECT 1 FROM user_profile_nodes a WHERE a.node_id = {SOURCE_NODE_ID} \
                     AND a.user_profile_id = ?)"
                ),
                [profile_id],
            ));
        }
        if let Some(types) = route_types {
            filter = filter.add(route_type_in(types));
        }
        if let Some(since) = since {
            filter = filter.add(advertisements::Column::ReceivedAt.gte(datetime_bound(
                backend,
                since,
                Bound::Lower,
            )));
        }
        if let Some(until) = until {
            filter = filter.add(advertisements::Column::ReceivedAt.lte(datetime_bound(
                backend,
                until,
                Bound::Upper,
            )));
        }

        let query = advertisements::Entity::find().filter(filter);
        let total = query.clone().count(db).await.map_err(ApiError::from)?;

        let order = Order::parse(order.as_deref());
        let mut select = query.limit(limit.0 as u64).offset(offset.0 as u64);
        match sort.as_deref().map(str::trim) {
            Some("node_name") => {
                // The name people know the node by: its `name` tag, else its advertised
                // name, else the advert's name. Case-insensitive so SQLite and PostgreSQL
                // agree; adverts with no name at all come last either way.
                QueryTrait::query(&mut select).order_by_expr_with_nulls(
                    Expr::cust(format!(
                        "LOWER(COALESCE(\
                         (SELECT t.value FROM node_tags t WHERE t.node_id = {SOURCE_NODE_ID} AND t.key = 'name'), \
                         (SELECT sn.name FROM nodes sn WHERE sn.id = {SOURCE_NODE_ID}), \
                         advertisements.name))"
                    )),
                    order.sea(),
                    NullOrdering::Last,
                );
                select = select.order_by(advertisements::Column::ReceivedAt, order.sea());
            }
            Some("public_key") => {
                select = select
                    .order_by(advertisements::Column::PublicKey, order.sea())
                    .order_by(advertisements::Column::ReceivedAt, order.sea());
            }
            _ => select = select.order_by(advertisements::Column::ReceivedAt, order.sea()),
        }
        let rows = select
            .order_by(advertisements::Column::Id, order.sea())
            .all(db)
            .await
            .map_err(ApiError::from)?;
        let items = advertisement_reads(db, rows).await?;
        Ok(Json(Page {
            items,
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get an advertisement by id
    #[oai(path = "/advertisements/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> poem::Result<Json<AdvertisementRead>> {
        let advert = advertisements::Entity::find_by_id(id.0.trim().to_string())
            .one(&state.db)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("Advertisement not found"))?;
        let mut items = advertisement_reads(&state.db, vec![advert]).await?;
        items
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::NotFound("Advertisement not found").into())
    }
}

/// Attaches observer and source-node names and the observer lists to advert rows, keeping
/// their order. A fixed number of queries per page.
async fn advertisement_reads(
    db: &DatabaseConnection,
    rows: Vec<advertisements::Model>,
) -> Result<Vec<AdvertisementRead>, ApiError> {
    // Source nodes: by id where linked, else by the advert's public key.
    let linked: BTreeSet<String> = rows.iter().filter_map(|a| a.node_id.clone()).collect();
    let unlinked: BTreeSet<String> = rows
        .iter()
        .filter(|a| a.node_id.is_none())
        .map(|a| a.public_key.clone())
        .collect();
    let sources = if linked.is_empty() && unlinked.is_empty() {
        Vec::new()
    } else {
        nodes::Entity::find()
            .filter(
                Condition::any()
                    .add(nodes::Column::Id.is_in(linked))
                    .add(nodes::Column::PublicKey.is_in(unlinked)),
            )
            .all(db)
            .await?
    };
    let source_by_id: HashMap<&str, &nodes::Model> =
        sources.iter().map(|n| (n.id.as_str(), n)).collect();
    let source_by_key: HashMap<&str, &nodes::Model> =
        sources.iter().map(|n| (n.public_key.as_str(), n)).collect();
    let source_of = |advert: &advertisements::Model| -> Option<&nodes::Model> {
        match &advert.node_id {
            Some(id) => source_by_id.get(id.as_str()).copied(),
            None => source_by_key.get(advert.public_key.as_str()).copied(),
        }
    };

    let node_ids: Vec<String> = rows
        .iter()
        .filter_map(|a| a.observer_node_id.clone())
        .chain(sources.iter().map(|n| n.id.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = names_by_node_id(db, &node_ids).await?;
    let hashes: Vec<String> = rows
        .iter()
        .filter_map(|a| a.event_hash.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut observers = observers_by_event(db, "advertisement", &hashes).await?;

    let none = NodeNames::default();
    Ok(rows
        .iter()
        .map(|a| {
            let observer = a.observer_node_id.as_ref().and_then(|id| names.get(id));
            let source = source_of(a);
            let source_names = source.and_then(|n| names.get(&n.id)).unwrap_or(&none);
            AdvertisementRead {
                observed_by: observer.map(|n| n.public_key.clone()),
                observer_name: observer.and_then(|n| n.name.clone()),
                observer_tag_name: observer.and_then(|n| n.tag_name.clone()),
                public_key: a.public_key.clone(),
                name: a.name.clone(),
                node_name: source.and_then(|n| n.name.clone()),
                node_tag_name: source_names.tag_name.clone(),
                node_tag_description: source_names.tag_description.clone(),
                // An empty advert type falls back too, as MeshCore Hub's `or` does.
                adv_type: a
                    .adv_type
                    .clone()
                    .filter(|t| !t.is_empty())
                    .or_else(|| source.and_then(|n| n.adv_type.clone())),
                flags: a.flags,
                route_type: a.route_type.clone(),
                advert_timestamp: rfc3339_opt(a.advert_timestamp),
                received_at: rfc3339(a.received_at),
                created_at: rfc3339(a.created_at),
                packet_hash: a.packet_hash.clone(),
                // Two adverts never share an event hash (unique), so taking is safe.
                observers: a
                    .event_hash
                    .as_ref()
                    .and_then(|h| observers.remove(h))
                    .unwrap_or_default(),
            }
        })
        .collect())
}
