//! SQL of the profile endpoints.

use super::{
    AdoptedNode, OwnProfileRead, ProfileChanges, ProfileRead, ProfileSummary, UserProfileRead,
};
use crate::error::ApiError;
use crate::params::Order;
use crate::query::list::{PageRequest, SortKey, fetch_page};
use crate::query::profiles::ensure_profile;
use hub_core::entity::{nodes, user_profile_nodes, user_profiles};
use hub_core::roles::role_names;
use hub_core::time::db_time;
use hub_core::time::{Timestamp, rfc3339, rfc3339_opt};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use std::collections::HashMap;

/// SQL that is true when the profile's comma list of roles holds `role` exactly.
fn holds_role(role: &str) -> SimpleExpr {
    // Commas around the space-stripped list make the match exact ("tester" is not "test");
    // the role (a setting, OIDC_ROLE_TEST) is a bound value with LIKE's wildcards escaped.
    let escaped = role
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::cust("(',' || REPLACE(COALESCE(user_profiles.roles, ''), ' ', '') || ',')")
        .like(LikeExpr::new(format!("%,{escaped},%")).escape('\\'))
}

/// One page of profiles ordered by name (NULLs last), then id, and the total; profiles
/// holding `excluded_role` (the test role) are left out.
pub(crate) async fn list(
    db: &DatabaseConnection,
    excluded_role: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<ProfileSummary>, u64), ApiError> {
    let mut select = user_profiles::Entity::find();
    if let Some(role) = excluded_role {
        select = select.filter(Condition::all().add(holds_role(role)).not());
    }
    let keys = vec![SortKey::nulls_last(user_profiles::Column::Name)];
    let (profiles, total) = fetch_page(
        db,
        select,
        keys,
        user_profiles::Column::Id,
        Order::Asc,
        page,
    )
    .await?;
    let ids: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
    let mut adopted = adopted_nodes(db, &ids).await?;
    let items = profiles
        .into_iter()
        .map(|p| {
            let nodes = adopted.remove(&p.id).unwrap_or_default();
            ProfileSummary {
                roles: role_names(p.roles.as_deref()),
                id: p.id,
                name: p.name,
                callsign: p.callsign,
                description: p.description,
                url: p.url,
                node_count: nodes.len() as u64,
                adopted_nodes: nodes,
            }
        })
        .collect();
    Ok((items, total))
}

/// The profile with this id and its nodes, or 404 `Profile not found`.
pub(crate) async fn by_id(db: &DatabaseConnection, id: &str) -> Result<ProfileRead, ApiError> {
    let profile = user_profiles::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Profile not found"))?;
    let nodes = adopted_nodes(db, std::slice::from_ref(&profile.id))
        .await?
        .remove(&profile.id)
        .unwrap_or_default();
    Ok(ProfileRead {
        roles: role_names(profile.roles.as_deref()),
        id: profile.id,
        name: profile.name,
        callsign: profile.callsign,
        description: profile.description,
        url: profile.url,
        created_at: rfc3339(profile.created_at),
        updated_at: rfc3339(profile.updated_at),
        nodes,
    })
}

/// The owner view of the profile of `user_id`, created when missing (named `user_name`), with
/// its roles set to the raw `roles` header (NULL when absent or blank), in one transaction;
/// and whether that created the profile or changed its roles.
///
/// An existing profile keeps its name; `updated_at` moves only when the roles change.
pub(crate) async fn me(
    db: &DatabaseConnection,
    user_id: &str,
    user_name: Option<&str>,
    roles: Option<&str>,
) -> Result<(OwnProfileRead, bool), ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let ensured = ensure_profile(&txn, user_id, user_name, roles).await?;
    let profile = user_profiles::Entity::find_by_id(ensured.id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Profile not found"))?;
    txn.commit().await?;
    let nodes = adopted_nodes(db, std::slice::from_ref(&profile.id))
        .await?
        .remove(&profile.id)
        .unwrap_or_default();
    let view = OwnProfileRead {
        roles: role_names(profile.roles.as_deref()),
        id: profile.id,
        user_id: profile.user_id,
        name: profile.name,
        callsign: profile.callsign,
        description: profile.description,
        url: profile.url,
        created_at: rfc3339(profile.created_at),
        updated_at: rfc3339(profile.updated_at),
        nodes,
    };
    Ok((view, ensured.changed))
}

/// Whether the profile `id` belongs to `user_id` (the caller's `X-User-Id`). Only an existing
/// profile of the caller counts: a stranger's id never creates one.
pub(crate) async fn is_owned_by(
    db: &DatabaseConnection,
    id: &str,
    user_id: &str,
) -> Result<bool, ApiError> {
    let owned = user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.eq(user_id))
        .filter(user_profiles::Column::Id.eq(id))
        .one(db)
        .await?;
    Ok(owned.is_some())
}

/// Applies `changes` to the profile `id` in one transaction, for the caller `user_id`
/// (`is_admin` when `admin` is among their roles): 404 `Profile not found`, 403 unless the
/// caller owns the profile or is an admin. `updated_at` moves only when a value changes.
pub(crate) async fn update(
    db: &DatabaseConnection,
    id: &str,
    user_id: &str,
    is_admin: bool,
    changes: ProfileChanges,
) -> Result<UserProfileRead, ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let current = user_profiles::Entity::find_by_id(id.to_string())
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Profile not found"))?;
    if current.user_id != user_id && !is_admin {
        return Err(ApiError::forbidden(
            "Access denied: cannot modify another user's profile",
        ));
    }
    let mut update = user_profiles::Entity::update_many().filter(user_profiles::Column::Id.eq(id));
    let mut changed = false;
    if let Some(name) = changes.name.filter(|n| current.name.as_deref() != Some(n)) {
        update = update.col_expr(user_profiles::Column::Name, Expr::value(name));
        changed = true;
    }
    for (column, value, now) in [
        (
            user_profiles::Column::Callsign,
            changes.callsign,
            &current.callsign,
        ),
        (
            user_profiles::Column::Description,
            changes.description,
            &current.description,
        ),
        (user_profiles::Column::Url, changes.url, &current.url),
    ] {
        if let Some(value) = value.filter(|v| v != now) {
            update = update.col_expr(column, Expr::value(value));
            changed = true;
        }
    }
    if changed {
        let now = db_time(txn.get_database_backend(), Timestamp::now());
        update
            .col_expr(user_profiles::Column::UpdatedAt, Expr::value(now))
            .exec(&txn)
            .await?;
    }
    let profile = user_profiles::Entity::find_by_id(id.to_string())
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Profile not found"))?;
    txn.commit().await?;
    Ok(UserProfileRead {
        roles: role_names(profile.roles.as_deref()),
        id: profile.id,
        user_id: profile.user_id,
        name: profile.name,
        callsign: profile.callsign,
        description: profile.description,
        url: profile.url,
        created_at: rfc3339(profile.created_at),
        updated_at: rfc3339(profile.updated_at),
    })
}

/// Adopted nodes of each profile id, oldest adoption first.
async fn adopted_nodes(
    db: &DatabaseConnection,
    profile_ids: &[String],
) -> Result<HashMap<String, Vec<AdoptedNode>>, ApiError> {
    let links = user_profile_nodes::Entity::find()
        .filter(user_profile_nodes::Column::UserProfileId.is_in(profile_ids.iter().cloned()))
        .order_by_asc(user_profile_nodes::Column::AdoptedAt)
        .order_by_asc(user_profile_nodes::Column::NodeId)
        .all(db)
        .await?;
    let nodes: HashMap<String, nodes::Model> = nodes::Entity::find()
        .filter(nodes::Column::Id.is_in(links.iter().map(|l| l.node_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect();
    let mut by_profile: HashMap<String, Vec<AdoptedNode>> = HashMap::new();
    for link in links {
        if let Some(node) = nodes.get(&link.node_id) {
            by_profile
                .entry(link.user_profile_id)
                .or_default()
                .push(AdoptedNode {
                    public_key: node.public_key.clone(),
                    name: node.name.clone(),
                    adv_type: node.adv_type.clone(),
                    adopted_at: rfc3339(link.adopted_at),
                    last_seen: rfc3339_opt(node.last_seen),
                });
        }
    }
    Ok(by_profile)
}
