//! SQL of the adoption endpoints. Each write runs in one transaction: a failed adoption
//! leaves the caller's profile untouched (a Decision of docs/contract/api-2.md; MeshCore Hub commits the
//! profile first).

use crate::caller::Identity;
use crate::error::ApiError;
use crate::query::profiles::{AdoptedNode, ensure_profile};
use hub_core::entity::{nodes, user_profile_nodes, user_profiles};
use hub_core::time::db_time;
use hub_core::time::{Timestamp, rfc3339};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// Adopts the node with `public_key` (lowercased) for `who` (docs/contract/api-2.md section 7.7).
pub(crate) async fn adopt(
    db: &DatabaseConnection,
    user_id: &str,
    identity: &Identity,
    public_key: &str,
) -> Result<AdoptedNode, ApiError> {
    let public_key = public_key.to_lowercase();
    let txn = hub_core::db::begin_write(db).await?;
    let profile_id = ensure_profile(
        &txn,
        user_id,
        identity.user_name.as_deref(),
        identity.roles.as_deref(),
    )
    .await?
    .id;
    let node = nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(&public_key))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("Node with public_key '{public_key}' not found"))
        })?;
    let existing = user_profile_nodes::Entity::find()
        .filter(user_profile_nodes::Column::NodeId.eq(&node.id))
        .one(&txn)
        .await?;
    if let Some(link) = existing {
        return Err(ApiError::conflict(if link.user_profile_id == profile_id {
            "Node already adopted by this user"
        } else {
            "Node already adopted by another user"
        }));
    }
    let adopted_at = Timestamp::now();
    let insert = Query::insert()
        .into_table(user_profile_nodes::Entity)
        .columns([
            user_profile_nodes::Column::UserProfileId,
            user_profile_nodes::Column::NodeId,
            user_profile_nodes::Column::AdoptedAt,
        ])
        .values([
            profile_id.into(),
            node.id.clone().into(),
            db_time(txn.get_database_backend(), adopted_at).into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute(&insert).await?;
    txn.commit().await?;
    Ok(AdoptedNode {
        public_key: node.public_key,
        name: node.name,
        adv_type: node.adv_type,
        adopted_at: rfc3339(adopted_at),
        // MeshCore Hub's response never fills it (copied).
        last_seen: None,
    })
}

/// Releases the node with `public_key` (docs/contract/api-2.md section 7.8): only its adopter or an admin.
pub(crate) async fn release(
    db: &DatabaseConnection,
    user_id: &str,
    is_admin: bool,
    public_key: &str,
) -> Result<(), ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let node = nodes::Entity::find()
        .filter(nodes::Column::PublicKey.eq(public_key.to_lowercase()))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("Node with public_key '{public_key}' not found"))
        })?;
    let link = user_profile_nodes::Entity::find()
        .filter(user_profile_nodes::Column::NodeId.eq(&node.id))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("Node is not adopted"))?;
    if !is_admin {
        let adopter = user_profiles::Entity::find_by_id(link.user_profile_id.clone())
            .one(&txn)
            .await?;
        if adopter.is_none_or(|p| p.user_id != user_id) {
            return Err(ApiError::forbidden(
                "Only the adopting user or an admin can release this node",
            ));
        }
    }
    user_profile_nodes::Entity::delete_by_id((link.user_profile_id, link.node_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
