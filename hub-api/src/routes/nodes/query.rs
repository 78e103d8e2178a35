//! SQL of the node endpoints.

use super::NodeRead;
use crate::error::ApiError;
use crate::params::Order;
use crate::params::{contains_pattern, sql};
use crate::query::filters::hex_prefix;
use crate::query::list::{PageRequest, SortKey, fetch_page};
use crate::query::lookups::{NodeTagRead, adopters_by_node, tags_by_node};
use hub_core::entity::{node_tags, nodes, user_profile_nodes, user_profiles};
use hub_core::time::db_time;
use hub_core::time::{Timestamp, rfc3339, rfc3339_opt};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

/// The filters of the node list, already parsed (lowercased, blanks dropped).
#[derive(Debug, Default)]
pub(crate) struct NodeFilter {
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
            filter = filter.add(hex_prefix(backend, "nodes.public_key", prefix));
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
pub(crate) async fn list(
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
pub(crate) async fn by_key(
    db: &DatabaseConnection,
    public_key: &str,
) -> Result<nodes::Model, ApiError> {
    nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(public_key.trim().to_ascii_lowercase()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))
}

/// The first node by public key whose key starts with `prefix` (any case), or 404.
pub(crate) async fn by_prefix(db: &DatabaseConnection, prefix: &str) -> Result<NodeRead, ApiError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let node = nodes::Entity::find()
        .filter(hex_prefix(
            db.get_database_backend(),
            "nodes.public_key",
            &prefix,
        ))
        .order_by_asc(nodes::Column::PublicKey)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))?;
    one(db, node).await
}

/// The tags of the node with this public key, or 404 when there is no such node.
pub(crate) async fn tags(
    db: &DatabaseConnection,
    public_key: &str,
) -> Result<Vec<NodeTagRead>, ApiError> {
    let node = by_key(db, public_key).await?;
    let mut tags = tags_by_node(db, std::slice::from_ref(&node.id)).await?;
    Ok(tags.remove(&node.id).unwrap_or_default())
}

/// `node` with its tags and adopter.
pub(crate) async fn one(db: &DatabaseConnection, node: nodes::Model) -> Result<NodeRead, ApiError> {
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

/// A validated tag body: the value (`None` = null) and its declared type.
#[derive(Debug)]
pub(crate) struct TagInput {
    /// The tag's value; `None` is null.
    pub value: Option<String>,
    /// `string`, `number` or `boolean`.
    pub value_type: String,
}

/// Whether Python's `float()` accepts `text`: surrounding whitespace, a sign, digits with
/// single `_` between them, a fraction, an exponent, or `inf`/`infinity`/`nan` in any case.
fn python_float(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    if ["inf", "infinity", "nan"].contains(&t.to_ascii_lowercase().as_str()) {
        return true;
    }
    /// Length of a digit part (`1_000`) at the start of `s`, or 0.
    fn digit_part(s: &[u8]) -> usize {
        let mut i = 0;
        while i < s.len() {
            let digit = s[i].is_ascii_digit();
            // `_` only between two digits.
            let separator = s[i] == b'_' && i > 0 && s.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit || separator) {
                break;
            }
            i += 1;
        }
        i
    }
    let s = t.as_bytes();
    let mut i = digit_part(s);
    let whole = i > 0;
    let mut fraction = false;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let n = digit_part(&s[i..]);
        fraction = n > 0;
        i += n;
    }
    if !whole && !fraction {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digit_part(&s[i..]);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == s.len()
}

/// The value to store for `value` declared as `value_type`, or the 422 text.
///
/// Null and `""` are kept for any type; numbers are kept verbatim; booleans become `"true"`
/// or `"false"`.
pub(crate) fn coerce_tag_value(
    value: Option<&str>,
    value_type: &str,
) -> Result<Option<String>, ApiError> {
    let Some(text) = value.filter(|v| !v.is_empty()) else {
        return Ok(value.map(str::to_string));
    };
    match value_type {
        "number" if !python_float(text) => Err(ApiError::unprocessable(format!(
            "Invalid number value: '{text}'. Must be a valid number."
        ))),
        "boolean" => match text.trim().to_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Some("true".to_string())),
            "false" | "no" | "0" => Ok(Some("false".to_string())),
            _ => Err(ApiError::unprocessable(format!(
                "Invalid boolean value: '{text}'. Expected: true, false, yes, no, 1, or 0."
            ))),
        },
        _ => Ok(Some(text.to_string())),
    }
}

/// The node for a tag write and the access check: `admin` among the caller's roles, or a
/// profile of the caller that adopted the node (403 otherwise). Creates nothing.
async fn tag_target<C: ConnectionTrait>(
    db: &C,
    public_key: &str,
    user_id: &str,
    is_admin: bool,
) -> Result<nodes::Model, ApiError> {
    let node = nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(public_key.trim().to_ascii_lowercase()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Node not found"))?;
    if is_admin {
        return Ok(node);
    }
    let profile = user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    let adopted = match profile {
        Some(profile) => {
            user_profile_nodes::Entity::find_by_id((profile.id, node.id.clone()))
                .one(db)
                .await?
        }
        None => None,
    };
    match adopted {
        Some(_) => Ok(node),
        None => Err(ApiError::forbidden(
            "You can only edit tags on nodes you have adopted",
        )),
    }
}

async fn find_tag<C: ConnectionTrait>(
    db: &C,
    node_id: &str,
    key: &str,
) -> Result<Option<node_tags::Model>, ApiError> {
    Ok(node_tags::Entity::find()
        .filter(node_tags::Column::NodeId.eq(node_id))
        .filter(node_tags::Column::Key.eq(key))
        .one(db)
        .await?)
}

/// Adds tag `key` to a node (steps of docs/contract/api-2.md section 7.4), in one transaction.
pub(crate) async fn add_tag(
    db: &DatabaseConnection,
    public_key: &str,
    (user_id, is_admin): (&str, bool),
    key: String,
    input: TagInput,
) -> Result<NodeTagRead, ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let node = tag_target(&txn, public_key, user_id, is_admin).await?;
    if find_tag(&txn, &node.id, &key).await?.is_some() {
        return Err(ApiError::conflict("Tag already exists"));
    }
    let value = coerce_tag_value(input.value.as_deref(), &input.value_type)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = db_time(txn.get_database_backend(), Timestamp::now());
    let insert = Query::insert()
        .into_table(node_tags::Entity)
        .columns([
            node_tags::Column::Id,
            node_tags::Column::NodeId,
            node_tags::Column::Key,
            node_tags::Column::Value,
            node_tags::Column::ValueType,
            node_tags::Column::CreatedAt,
            node_tags::Column::UpdatedAt,
        ])
        .values([
            id.clone().into(),
            node.id.into(),
            key.into(),
            value.into(),
            input.value_type.into(),
            now.clone().into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute(&insert).await?;
    let tag = node_tags::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Tag not found"))?;
    txn.commit().await?;
    Ok(tag.into())
}

/// Changes tag `key` (docs/contract/api-2.md section 7.5): null fields stay; the effective value is
/// validated against the effective type, but a type-only change keeps the stored value.
pub(crate) async fn update_tag(
    db: &DatabaseConnection,
    public_key: &str,
    (user_id, is_admin): (&str, bool),
    key: &str,
    value: Option<String>,
    value_type: Option<String>,
) -> Result<NodeTagRead, ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let node = tag_target(&txn, public_key, user_id, is_admin).await?;
    let tag = find_tag(&txn, &node.id, key)
        .await?
        .ok_or(ApiError::NotFound("Tag not found"))?;
    let effective_type = value_type.clone().unwrap_or(tag.value_type.clone());
    let effective_value = value.clone().or(tag.value.clone());
    let coerced = coerce_tag_value(effective_value.as_deref(), &effective_type)?;
    let mut update = node_tags::Entity::update_many().filter(node_tags::Column::Id.eq(&tag.id));
    let mut changed = false;
    if value.is_some() && coerced != tag.value {
        update = update.col_expr(node_tags::Column::Value, Expr::value(coerced));
        changed = true;
    }
    if let Some(value_type) = value_type.filter(|t| *t != tag.value_type) {
        update = update.col_expr(node_tags::Column::ValueType, Expr::value(value_type));
        changed = true;
    }
    if changed {
        let now = db_time(txn.get_database_backend(), Timestamp::now());
        update
            .col_expr(node_tags::Column::UpdatedAt, Expr::value(now))
            .exec(&txn)
            .await?;
    }
    let tag = node_tags::Entity::find_by_id(tag.id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Tag not found"))?;
    txn.commit().await?;
    Ok(tag.into())
}

/// Deletes tag `key` of a node (docs/contract/api-2.md section 7.6).
pub(crate) async fn delete_tag(
    db: &DatabaseConnection,
    public_key: &str,
    (user_id, is_admin): (&str, bool),
    key: &str,
) -> Result<(), ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let node = tag_target(&txn, public_key, user_id, is_admin).await?;
    let tag = find_tag(&txn, &node.id, key)
        .await?
        .ok_or(ApiError::NotFound("Tag not found"))?;
    node_tags::Entity::delete_by_id(tag.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_python_float_reads_them() {
        for ok in [
            " 1_000 ",
            "-2.5e-3",
            "+.5",
            "5.",
            "INF",
            "-Infinity",
            "nan",
            "1e5",
        ] {
            assert!(python_float(ok), "{ok}");
        }
        for bad in [
            "1__0", "_1", "1_", "0x10", ".", "e5", "1e", "abc", "1.2.3", "--1",
        ] {
            assert!(!python_float(bad), "{bad}");
        }
    }

    #[test]
    fn coercion() {
        assert_eq!(
            coerce_tag_value(Some(" YES "), "boolean").unwrap(),
            Some("true".into())
        );
        assert_eq!(
            coerce_tag_value(Some(""), "number").unwrap(),
            Some("".into())
        );
        assert_eq!(coerce_tag_value(None, "boolean").unwrap(), None);
        assert_eq!(
            coerce_tag_value(Some(" 1_000 "), "number").unwrap(),
            Some(" 1_000 ".into())
        );
        assert!(coerce_tag_value(Some("maybe"), "boolean").is_err());
    }
}
