//! SQL of the adoption endpoints. Each write runs in one transaction: a failed adoption
//! leaves the caller's profile untouched (a Decision of API-2.md; MeshCore Hub commits the
//! profile first).

use crate::body::db_time;
use crate::error::ApiError;
use crate::routes::profiles::AdoptedNode;
use hub_core::entity::{nodes, user_profile_nodes, user_profiles};
use hub_core::time::{Timestamp, rfc3339};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};

/// Who adopts: `X-User-Id`, `X-User-Name` and the raw `X-User-Roles`.
pub struct Adopter<'a> {
    /// The identity provider's user id.
    pub user_id: &'a str,
    /// The name a new profile gets.
    pub user_name: Option<&'a str>,
    /// The roles stored on the profile (NULL when absent or blank).
    pub roles: Option<&'a str>,
}

/// The profile id of `who`, created when missing, with its roles set from the header
/// (as `GET /user/profile/me` does).
async fn profile_of<C: ConnectionTrait>(db: &C, who: &Adopter<'_>) -> Result<String, ApiError> {
    let roles = who
        .roles
        .filter(|r| !r.trim().is_empty())
        .map(str::to_string);
    let now = db_time(db.get_database_backend(), Timestamp::now());
    let existing = user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.eq(who.user_id))
        .one(db)
        .await?;
    if let Some(profile) = existing {
        if profile.roles != roles {
            user_profiles::Entity::update_many()
                .filter(user_profiles::Column::Id.eq(&profile.id))
                .col_expr(user_profiles::Column::Roles, Expr::value(roles))
                .col_expr(user_profiles::Column::UpdatedAt, Expr::value(now))
                .exec(db)
                .await?;
        }
        return Ok(profile.id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let name = who.user_name.filter(|n| !n.is_empty()).map(str::to_string);
    let insert = Query::insert()
        .into_table(user_profiles::Entity)
        .columns([
            user_profiles::Column::Id,
            user_profiles::Column::UserId,
            user_profiles::Column::Name,
            user_profiles::Column::Roles,
            user_profiles::Column::CreatedAt,
            user_profiles::Column::UpdatedAt,
        ])
        .values([
            id.clone().into(),
            who.user_id.into(),
            name.into(),
            roles.into(),
            now.clone().into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(id)
}

/// Adopts the node with `public_key` (lowercased) for `who` (API-2.md section 7.7).
pub async fn adopt(
    db: &DatabaseConnection,
    who: Adopter<'_>,
    public_key: &str,
) -> Result<AdoptedNode, ApiError> {
    let public_key = public_key.to_lowercase();
    let txn = db.begin().await?;
    let profile_id = profile_of(&txn, &who).await?;
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

/// Releases the node with `public_key` (API-2.md section 7.8): only its adopter or an admin.
pub async fn release(
    db: &DatabaseConnection,
    user_id: &str,
    is_admin: bool,
    public_key: &str,
) -> Result<(), ApiError> {
    let txn = db.begin().await?;
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
