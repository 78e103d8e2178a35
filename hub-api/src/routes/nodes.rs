//! `/api/v1/nodes`: the node list, single nodes and their tags.

use crate::error::ApiError;
use crate::lookups::{AdoptedBy, NodeTagRead, adopters_by_node, tags_by_node};
use crate::page::Page;
use crate::params::{
    Order, contains_pattern, lowercase, non_blank, parse_bool, prefix_pattern, sql,
};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::nodes;
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

/// A node with its tags and adopter.
#[derive(Debug, Clone, Object)]
pub struct NodeRead {
    /// 64 lowercase hex chars.
    pub public_key: String,
    /// Advertised name.
    pub name: Option<String>,
    /// Advertised type: chat, repeater, room, ...
    pub adv_type: Option<String>,
    /// Advert flags.
    pub flags: Option<i32>,
    /// First time the node was heard (RFC 3339, UTC).
    pub first_seen: String,
    /// Last time the node was heard.
    pub last_seen: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Whether the node is an observer feeding the hub.
    pub is_observer: bool,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
    /// Tags in insertion order.
    pub tags: Vec<NodeTagRead>,
    /// The profile that adopted the node, if any.
    pub adopted_by: Option<AdoptedBy>,
}

/// Node endpoints.
pub struct NodesApi;

fn default_limit() -> i64 {
    50
}

/// `EXISTS` a tag `key` on the node whose condition on `node_tags.value` is `value_sql`.
fn has_tag(backend: DbBackend, key: &str, value_sql: &str, value: String) -> SimpleExpr {
    sql(
        backend,
        &format!(
            "EXISTS (SELECT 1 FROM node_tags t WHERE t.node_id = nodes.id AND t.key = ? AND {value_sql})"
        ),
        [key.to_string(), value],
    )
}

/// The value of the node's `name` tag, as a correlated subquery.
const NAME_TAG: &str =
    "(SELECT t.value FROM node_tags t WHERE t.node_id = nodes.id AND t.key = 'name')";

/// The `adv_type` filter: families match by substring, anything else exactly.
fn adv_type_condition(backend: DbBackend, adv_type: &str) -> Condition {
    let family: &[&str] = match adv_type {
        "repeater" => &["repeater", "relay"],
        "companion" => &["companion", "observer"],
        "room" => &["room"],
        "chat" => &["chat"],
        _ => {
            return Condition::all().add(sql(
                backend,
                "LOWER(TRIM(nodes.adv_type)) = ?",
                [adv_type.to_string()],
            ));
        }
    };
    family.iter().fold(Condition::any(), |cond, word| {
        cond.add(sql(
            backend,
            "LOWER(nodes.adv_type) LIKE ? ESCAPE '\\'",
            [contains_pattern(word)],
        ))
    })
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Nodes")]
impl NodesApi {
    /// List nodes
    ///
    /// Filters combine with AND. `last_seen` sorts NULLs last in both directions; every sort
    /// ends with the node id so pages are stable.
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Case-insensitive substring of public key, name or `name` tag.
        search: Query<Option<String>>,
        /// Public key prefix (case-insensitive).
        pubkey_prefix: Query<Option<String>>,
        /// Node type: repeater, companion, room, chat (families), or any exact value.
        adv_type: Query<Option<String>>,
        /// Profile id of the adopter.
        adopted_by: Query<Option<String>>,
        /// Exact value of the node's `role` tag.
        role: Query<Option<String>>,
        /// Only observers (true) or only non-observers (false).
        observer: Query<Option<String>>,
        /// last_seen (default), name or public_key.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> poem::Result<Json<Page<NodeRead>>> {
        let observer = parse_bool("observer", observer.as_deref())?;
        let backend = state.db.get_database_backend();
        let mut filter = Condition::all();
        if let Some(search) = lowercase(search.as_deref()) {
            let pattern = contains_pattern(&search);
            filter = filter.add(
                Condition::any()
                    .add(sql(
                        backend,
                        "LOWER(nodes.public_key) LIKE ? ESCAPE '\\'",
                        [pattern.clone()],
                    ))
                    .add(sql(
                        backend,
                        "LOWER(nodes.name) LIKE ? ESCAPE '\\'",
                        [pattern.clone()],
                    ))
                    .add(has_tag(
                        backend,
                        "name",
                        "LOWER(t.value) LIKE ? ESCAPE '\\'",
                        pattern,
                    )),
            );
        }
        if let Some(prefix) = lowercase(pubkey_prefix.as_deref()) {
            filter = filter.add(sql(
                backend,
                "nodes.public_key LIKE ? ESCAPE '\\'",
                [prefix_pattern(&prefix)],
            ));
        }
        if let Some(adv_type) = lowercase(adv_type.as_deref()) {
            filter = filter.add(adv_type_condition(backend, &adv_type));
        }
        if let Some(profile_id) = non_blank(adopted_by.as_deref()) {
            filter = filter.add(sql(
                backend,
                "EXISTS (SELECT 1 FROM user_profile_nodes a WHERE a.node_id = nodes.id AND a.user_profile_id = ?)",
                [profile_id],
            ));
        }
        if let Some(role) = role.0.clone() {
            filter = filter.add(has_tag(backend, "role", "t.value = ?", role));
        }
        if let Some(observer) = observer {
            filter = filter.add(nodes::Column::IsObserver.eq(observer));
        }

        let db = &state.db;
        let query = nodes::Entity::find().filter(filter);
        let total = query.clone().count(db).await.map_err(ApiError::from)?;

        let order = Order::parse(order.as_deref());
        let mut select = query.limit(limit.0 as u64).offset(offset.0 as u64);
        match sort.as_deref().map(str::trim) {
            Some("name") => {
                select = select.order_by(
                    Expr::cust(format!(
                        "COALESCE({NAME_TAG}, nodes.name, nodes.public_key)"
                    )),
                    order.sea(),
                );
            }
            Some("public_key") => select = select.order_by(nodes::Column::PublicKey, order.sea()),
            _ => {
                QueryTrait::query(&mut select).order_by_with_nulls(
                    (nodes::Entity, nodes::Column::LastSeen),
                    order.sea(),
                    NullOrdering::Last,
                );
            }
        }
        let rows = select
            .order_by(nodes::Column::Id, order.sea())
            .all(db)
            .await
            .map_err(ApiError::from)?;
        let items = node_reads(db, rows).await?;
        Ok(Json(Page {
            items,
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get a node by public key
    #[oai(path = "/nodes/:public_key", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        public_key: Path<String>,
    ) -> poem::Result<Json<NodeRead>> {
        let node = node_by_key(&state.db, &public_key).await?;
        Ok(Json(node_reads(&state.db, vec![node]).await?.remove(0)))
    }

    /// Get the first node whose public key starts with a prefix
    #[oai(path = "/nodes/prefix/:prefix", method = "get")]
    async fn by_prefix(
        &self,
        state: Data<&AppState>,
        prefix: Path<String>,
    ) -> poem::Result<Json<NodeRead>> {
        let prefix = prefix.trim().to_ascii_lowercase();
        let backend = state.db.get_database_backend();
        let node = nodes::Entity::find()
            .filter(sql(
                backend,
                "nodes.public_key LIKE ? ESCAPE '\\'",
                [prefix_pattern(&prefix)],
            ))
            .order_by_asc(nodes::Column::PublicKey)
            .one(&state.db)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("Node not found"))?;
        Ok(Json(node_reads(&state.db, vec![node]).await?.remove(0)))
    }

    /// List a node's tags
    #[oai(path = "/nodes/:public_key/tags", method = "get")]
    async fn tags(
        &self,
        state: Data<&AppState>,
        public_key: Path<String>,
    ) -> poem::Result<Json<Vec<NodeTagRead>>> {
        let node = node_by_key(&state.db, &public_key).await?;
        let mut tags = tags_by_node(&state.db, std::slice::from_ref(&node.id))
            .await
            .map_err(ApiError::from)?;
        Ok(Json(tags.remove(&node.id).unwrap_or_default()))
    }
}

/// The node with this public key (any case), or 404 `Node not found`.
async fn node_by_key(db: &DatabaseConnection, public_key: &str) -> Result<nodes::Model, ApiError> {
    nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(public_key.trim().to_ascii_lowercase()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))
}

/// Attaches tags and adopters to node rows, keeping their order.
async fn node_reads(
    db: &DatabaseConnection,
    rows: Vec<nodes::Model>,
) -> Result<Vec<NodeRead>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|n| n.id.clone()).collect();
    let mut tags = tags_by_node(db, &ids).await?;
    let mut adopters = adopters_by_node(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|n| NodeRead {
            tags: tags.remove(&n.id).unwrap_or_default(),
            adopted_by: adopters.remove(&n.id),
            public_key: n.public_key,
            name: n.name,
            adv_type: n.adv_type,
            flags: n.flags,
            first_seen: rfc3339(n.first_seen),
            last_seen: rfc3339_opt(n.last_seen),
            lat: n.lat,
            lon: n.lon,
            is_observer: n.is_observer,
            created_at: rfc3339(n.created_at),
            updated_at: rfc3339(n.updated_at),
        })
        .collect())
}
