//! SQL of the advertisement endpoints.
//!
//! The *source node* of an advert is `advertisements.node_id`, or, when the collector did not
//! link one, the node whose public key the advert carries. Search, `adopted_by`, the
//! `node_name` sort and the `node_*` fields all use that same node.

use super::AdvertisementRead;
use crate::error::ApiError;
use crate::params::{Order, contains_pattern, lower_like, sql};
use crate::query::filters::{
    ObserverPlan, hex_equals, ids_of, is_one_of, observed_by_condition, observed_events,
    observer_ids, route_type_in, route_type_in_newest_first,
};
use crate::query::list::{PageRequest, SortKey, Total, fetch_counted_page};
use crate::query::lookups::{
    NodeNames, names_by_id_or_public_key, names_by_node_id, observers_by_event,
};
use crate::query::past_days::PastDays;
use crate::query::time_window::TimeWindow;
use hub_core::entity::{advertisements, nodes};
use hub_core::time::{rfc3339, rfc3339_opt};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter};
use std::collections::{BTreeSet, HashMap};

/// Id of the advert's source node: its `node_id`, else the node with its public key.
const SOURCE_NODE_ID: &str = "COALESCE(advertisements.node_id, \
     (SELECT sn0.id FROM nodes sn0 WHERE sn0.public_key = advertisements.public_key))";

/// The filters of the advertisement list, already parsed.
#[derive(Debug, Default)]
pub(crate) struct AdvertisementFilter {
    /// Substring of public key, advert name, source node name or `name` tag (lowercase).
    pub search: Option<String>,
    /// Exact public key (lowercase).
    pub public_key: Option<String>,
    /// Observer public keys (lowercase); empty means any.
    pub observed_by: Vec<String>,
    /// Profile id adopting the source node.
    pub adopted_by: Option<String>,
    /// Route types to keep (NULL always kept); `None` keeps every route type.
    pub route_types: Option<Vec<String>>,
    /// The received_at window.
    pub window: TimeWindow,
}

/// Which query a condition is for: the count, or the page read newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Count,
    Page,
}

impl AdvertisementFilter {
    /// Every condition but the time window.
    fn condition(
        &self,
        backend: DbBackend,
        purpose: Purpose,
        observers: ObserverPlan,
        nodes: &SourceNodes,
    ) -> Condition {
        let mut filter = Condition::all();
        if let Some(search) = &self.search {
            let pattern = contains_pattern(search);
            filter = filter.add(
                Condition::any()
                    .add(sql(
                        backend,
                        &lower_like(backend, "advertisements.public_key"),
                        [pattern.clone()],
                    ))
                    .add(sql(
                        backend,
                        &lower_like(backend, "advertisements.name"),
                        [pattern],
                    ))
                    .add(source_node_in(backend, &nodes.named)),
            );
        }
        if let Some(public_key) = &self.public_key {
            filter = filter.add(hex_equals(advertisements::Column::PublicKey, public_key));
        }
        if let Some(cond) = observed_by_condition(
            backend,
            "advertisements",
            "advertisement",
            nodes.observers.as_deref(),
            observers,
        ) {
            filter = filter.add(cond);
        }
        if self.adopted_by.is_some() {
            filter = filter.add(source_node_in(backend, &nodes.adopted));
        }
        match (&self.route_types, purpose) {
            (Some(types), Purpose::Count) => {
                filter = filter.add(route_type_in(types.iter().cloned()))
            }
            (Some(types), Purpose::Page) => {
                filter = filter.add(route_type_in_newest_first(backend, types))
            }
            (None, _) => {}
        }
        filter
    }
}

/// The nodes the filter's node conditions match now (see [`ids_of`]): names and tags change
/// and nodes are adopted after an advert was heard, so they are resolved per request and the
/// advert condition tests only the advert's source node id (and its observers' ids).
#[derive(Debug, Default)]
struct SourceNodes {
    /// Nodes whose name or `name` tag contains the search text.
    named: Vec<String>,
    /// Nodes the `adopted_by` profile adopted.
    adopted: Vec<String>,
    /// The `observed_by` observers ([`observer_ids`]).
    observers: Option<Vec<String>>,
}

impl SourceNodes {
    async fn resolve(
        db: &DatabaseConnection,
        filter: &AdvertisementFilter,
    ) -> Result<SourceNodes, ApiError> {
        let backend = db.get_database_backend();
        let mut nodes = SourceNodes::default();
        if let Some(search) = &filter.search {
            let pattern = contains_pattern(search);
            let named = format!(
                "SELECT sn.id FROM nodes sn WHERE {} OR EXISTS (SELECT 1 FROM node_tags t \
                 WHERE t.node_id = sn.id AND t.key = 'name' AND {})",
                lower_like(backend, "sn.name"),
                lower_like(backend, "t.value"),
            );
            nodes.named = ids_of(db, &named, [pattern.clone(), pattern]).await?;
        }
        if let Some(profile_id) = &filter.adopted_by {
            let adopted = "SELECT a.node_id FROM user_profile_nodes a WHERE a.user_profile_id = ?";
            nodes.adopted = ids_of(db, adopted, [profile_id.clone()]).await?;
        }
        nodes.observers = observer_ids(db, &filter.observed_by).await?;
        Ok(nodes)
    }
}

/// The advert's source node ([`SOURCE_NODE_ID`]) is one of the nodes `ids`: its `node_id`
/// is one of them, or it has none and carries the public key of one of them. The same rows
/// as `SOURCE_NODE_ID IN (ids)` (public keys are unique), without a look-up per advert: on
/// PostgreSQL a search's count of every advert took 220-280 ms that way, 90 ms this way.
fn source_node_in(backend: DbBackend, ids: &[String]) -> Condition {
    let their_keys = Query::select()
        .column((nodes::Entity, nodes::Column::PublicKey))
        .from(nodes::Entity)
        .and_where(is_one_of(backend, "nodes.id", ids))
        .to_owned();
    Condition::any()
        .add(is_one_of(backend, "advertisements.node_id", ids))
        .add(
            Condition::all()
                .add(advertisements::Column::NodeId.is_null())
                .add(advertisements::Column::PublicKey.in_subquery(their_keys)),
        )
}

/// The sort keys of `sort`: `node_name`, `public_key`, or `time` (the default); every key
/// falls back to the receive time within equal values.
fn sort_keys(sort: Option<&str>) -> Vec<SortKey> {
    let time = SortKey::by(advertisements::Column::ReceivedAt);
    match sort.map(str::trim) {
        // The name people know the node by: its `name` tag, else its advertised name, else
        // the advert's name. Case-insensitive so SQLite and PostgreSQL agree; adverts with no
        // name at all come last either way.
        Some("node_name") => vec![
            SortKey::nulls_last(Expr::cust(format!(
                "LOWER(COALESCE(\
                 (SELECT t.value FROM node_tags t WHERE t.node_id = {SOURCE_NODE_ID} AND t.key = 'name'), \
                 (SELECT sn.name FROM nodes sn WHERE sn.id = {SOURCE_NODE_ID}), \
                 advertisements.name))"
            ))),
            time,
        ],
        Some("public_key") => vec![SortKey::by(advertisements::Column::PublicKey), time],
        _ => vec![time],
    }
}

/// One page of adverts matching `filter`, and the total.
pub(crate) async fn list(
    db: &DatabaseConnection,
    kept: &PastDays<i64>,
    filter: &AdvertisementFilter,
    sort: Option<&str>,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<AdvertisementRead>, u64), ApiError> {
    let backend = db.get_database_backend();
    let column = advertisements::Column::ReceivedAt;
    let nodes = SourceNodes::resolve(db, filter).await?;
    let select = |purpose, observers| {
        advertisements::Entity::find().filter(filter.condition(backend, purpose, observers, &nodes))
    };
    let total = if filter.observed_by.is_empty() {
        let count = select(Purpose::Count, ObserverPlan::ByEvent);
        Total::in_window(
            backend,
            count.clone(),
            count,
            column,
            filter.window,
            Some(kept),
        )
    } else {
        // The observers' events narrow the rows far more than the route type, whose index
        // would have the planner walk every flood advert: the route type is tested per row
        // (the page's form); edges in time order, whole days through the events.
        let edges = select(Purpose::Page, ObserverPlan::InTimeOrder);
        let long = select(Purpose::Page, ObserverPlan::ByEvent);
        Total::in_window(backend, edges, long, column, filter.window, Some(kept))
    };
    let page_plan = match &nodes.observers {
        Some(ids) if sort_keys(sort).len() == 1 => {
            let observed = observed_events(db, "advertisement", ids);
            ObserverPlan::choose(db, "advertisements", page.rows(), observed).await?
        }
        _ => ObserverPlan::ByEvent,
    };
    fetch_counted_page(
        db,
        total,
        select(Purpose::Page, page_plan).filter(filter.window.condition(backend, column)),
        sort_keys(sort),
        advertisements::Column::Id,
        order,
        page,
        |rows| advertisement_reads(db, rows),
    )
    .await
}

/// The advert with this id, or 404 `Advertisement not found`.
pub(crate) async fn by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<AdvertisementRead, ApiError> {
    let advert = advertisements::Entity::find_by_id(id.trim().to_string())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Advertisement not found"))?;
    advertisement_reads(db, vec![advert])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("Advertisement not found"))
}

/// Attaches observer and source-node names and the observer lists to advert rows, keeping
/// their order. A fixed number of queries per page.
async fn advertisement_reads(
    db: &DatabaseConnection,
    rows: Vec<advertisements::Model>,
) -> Result<Vec<AdvertisementRead>, ApiError> {
    // Source nodes: by id where linked, else by the advert's public key. The look-ups are
    // independent, each on a pooled connection of its own.
    let linked: BTreeSet<String> = rows.iter().filter_map(|a| a.node_id.clone()).collect();
    let unlinked: BTreeSet<String> = rows
        .iter()
        .filter(|a| a.node_id.is_none())
        .map(|a| a.public_key.clone())
        .collect();
    let observer_ids: BTreeSet<String> = rows
        .iter()
        .filter_map(|a| a.observer_node_id.clone())
        .collect();
    let [linked, unlinked, observer_ids]: [Vec<String>; 3] =
        [linked, unlinked, observer_ids].map(|set| set.into_iter().collect());
    let (sources, observer_names, mut observers) = tokio::try_join!(
        names_by_id_or_public_key(db, &linked, &unlinked),
        names_by_node_id(db, &observer_ids),
        observers_by_event(db, "advertisement", rows.iter().map(|r| &r.event_hash)),
    )?;
    let source_by_key: HashMap<&str, &NodeNames> = sources
        .values()
        .map(|n| (n.public_key.as_str(), n))
        .collect();
    let source_of = |advert: &advertisements::Model| -> Option<&NodeNames> {
        match &advert.node_id {
            Some(id) => sources.get(id),
            None => source_by_key.get(advert.public_key.as_str()).copied(),
        }
    };

    Ok(rows
        .iter()
        .map(|a| {
            let observer = a
                .observer_node_id
                .as_ref()
                .and_then(|id| observer_names.get(id));
            let source = source_of(a);
            AdvertisementRead {
                observed_by: observer.map(|n| n.public_key.clone()),
                observer_name: observer.and_then(|n| n.name.clone()),
                observer_tag_name: observer.and_then(|n| n.tag_name.clone()),
                public_key: a.public_key.clone(),
                name: a.name.clone(),
                node_name: source.and_then(|n| n.name.clone()),
                node_tag_name: source.and_then(|n| n.tag_name.clone()),
                node_tag_description: source.and_then(|n| n.tag_description.clone()),
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
