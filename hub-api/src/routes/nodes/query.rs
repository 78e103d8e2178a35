//! SQL of the node endpoints.

use super::NodeRead;
use crate::error::ApiError;
use crate::params::Order;
use crate::params::{contains_pattern, prefix_pattern, sql};
use crate::query::list::{PageRequest, SortKey, fetch_page};
use crate::query::lookups::{NodeTagRead, adopters_by_node, tags_by_node};
use hub_core::entity::nodes;
use hub_core::time::{rfc3339, rfc3339_opt};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder,
};

/// The filters of the node list, already parsed (lowercased, blanks dropped).
#[derive(Debug, Default)]
pub struct NodeFilter {
    /// Substring of public key, name or `name` tag (lowercase).
    pub search: Option<String>,
    /// Public key prefix (lowercase).
    pub pubkey_prefix: Option<String>,
    /// Type or type family (lowercase).
    pub adv_type: Option<String>,
    /// Adopting profile id.
    pub adopted_by: Option<String>,
    /// Exact value of the `role` tag.
    pub role: Option<String>,
    /// Observers only (true) or non-observers only (false).
    pub observer: Option<bool>,
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

impl NodeFilter {
    fn condition(&self, backend: DbBackend) -> Condition {
        let mut filter = Condition::all();
        if let Some(search) = &self.search {
            let pattern = contains_pattern(search);
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
        if let Some(prefix) = &self.pubkey_prefix {
            filter = filter.add(sql(
                backend,
                "nodes.public_key LIKE ? ESCAPE '\\'",
                [prefix_pattern(prefix)],
            ));
        }
        if let Some(adv_type) = &self.adv_type {
            filter = filter.add(adv_type_condition(backend, adv_type));
        }
        if let Some(profile_id) = &self.adopted_by {
            filter = filter.add(sql(
                backend,
                "EXISTS (SELECT 1 FROM user_profile_nodes a WHERE a.node_id = nodes.id AND a.user_profile_id = ?)",
                [profile_id.clone()],
            ));
        }
        if let Some(role) = &self.role {
            filter = filter.add(has_tag(backend, "role", "t.value = ?", role.clone()));
        }
        if let Some(observer) = self.observer {
            filter = filter.add(nodes::Column::IsObserver.eq(observer));
        }
        filter
    }
}

/// The sort keys of `sort`: `name` (name tag, else name, else public key), `public_key`,
/// or `last_seen` (the default, NULLs last).
fn sort_keys(sort: Option<&str>) -> Vec<SortKey> {
    match sort.map(str::trim) {
        Some("name") => vec![SortKey::by(Expr::cust(format!(
            "COALESCE({NAME_TAG}, nodes.name, nodes.public_key)"
        )))],
        Some("public_key") => vec![SortKey::by(nodes::Column::PublicKey)],
        _ => vec![SortKey::nulls_last(nodes::Column::LastSeen)],
    }
}

/// One page of nodes matching `filter`, and the total.
pub async fn list(
    db: &DatabaseConnection,
    filter: &NodeFilter,
    sort: Option<&str>,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<NodeRead>, u64), ApiError> {
    let select = nodes::Entity::find().filter(filter.condition(db.get_database_backend()));
    let (rows, total) =
        fetch_page(db, select, sort_keys(sort), nodes::Column::Id, order, page).await?;
    Ok((node_reads(db, rows).await?, total))
}

/// The node with this public key (any case), or 404 `Node not found`.
pub async fn by_key(db: &DatabaseConnection, public_key: &str) -> Result<nodes::Model, ApiError> {
    nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(public_key.trim().to_ascii_lowercase()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))
}

/// The first node by public key whose key starts with `prefix` (any case), or 404.
pub async fn by_prefix(db: &DatabaseConnection, prefix: &str) -> Result<NodeRead, ApiError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let node = nodes::Entity::find()
        .filter(sql(
            db.get_database_backend(),
            "nodes.public_key LIKE ? ESCAPE '\\'",
            [prefix_pattern(&prefix)],
        ))
        .order_by_asc(nodes::Column::PublicKey)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))?;
    one(db, node).await
}

/// The tags of the node with this public key, or 404 when there is no such node.
pub async fn tags(db: &DatabaseConnection, public_key: &str) -> Result<Vec<NodeTagRead>, ApiError> {
    let node = by_key(db, public_key).await?;
    let mut tags = tags_by_node(db, std::slice::from_ref(&node.id)).await?;
    Ok(tags.remove(&node.id).unwrap_or_default())
}

/// `node` with its tags and adopter.
pub async fn one(db: &DatabaseConnection, node: nodes::Model) -> Result<NodeRead, ApiError> {
    node_reads(db, vec![node])
        .await?
        .pop()
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
