//! The caller's profile as writes and `GET /user/profile/me` keep it (docs/contract/api-2.md section 6),
//! and the adopted-node shape that profiles and adoptions both answer with.

use hub_core::entity::user_profiles;
use hub_core::time::Timestamp;
use hub_core::time::db_time;
use poem_openapi::Object;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// A node adopted by a profile.
#[derive(Debug, Clone, Object)]
pub struct AdoptedNode {
    /// The node's public key.
    pub public_key: String,
    /// The node's advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The node's advertised type.
    #[oai(nullable)]
    pub adv_type: Option<String>,
    /// When the profile adopted it (RFC 3339, UTC).
    pub adopted_at: String,
    /// When the node was last heard.
    #[oai(nullable)]
    pub last_seen: Option<String>,
}

/// The caller's profile after [`ensure_profile`]: its id, and whether that created it or
/// changed its roles (then the profile list and the dashboard's profile counts changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredProfile {
    /// The profile's id.
    pub id: String,
    /// Whether the profile was created or its roles were rewritten.
    pub changed: bool,
}

/// The profile of `user_id`, created when missing (named `user_name`, the `X-User-Name`),
/// with its roles set to the raw `roles` (the `X-User-Roles`; NULL when absent or blank).
///
/// Runs on `db`, normally the write's own transaction, so a request that fails later leaves
/// no profile behind (a Decision of docs/contract/api-2.md; MeshCore Hub commits the profile first). An
/// existing profile keeps its name; `updated_at` moves only when the roles change.
pub async fn ensure_profile<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    user_name: Option<&str>,
    roles: Option<&str>,
) -> Result<EnsuredProfile, DbErr> {
    let roles = roles.filter(|r| !r.trim().is_empty()).map(str::to_string);
    let now = db_time(db.get_database_backend(), Timestamp::now());
    let existing = user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    if let Some(profile) = existing {
        let changed = profile.roles != roles;
        if changed {
            user_profiles::Entity::update_many()
                .filter(user_profiles::Column::Id.eq(&profile.id))
                .col_expr(user_profiles::Column::Roles, Expr::value(roles))
                .col_expr(user_profiles::Column::UpdatedAt, Expr::value(now))
                .exec(db)
                .await?;
        }
        return Ok(EnsuredProfile {
            id: profile.id,
            changed,
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let name = user_name.filter(|n| !n.is_empty()).map(str::to_string);
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
            user_id.into(),
            name.into(),
            roles.into(),
            now.clone().into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(EnsuredProfile { id, changed: true })
}

/// The raw `roles` of every profile, for counts by role. Profiles are few (one per signed-in
/// person), and exact matching of names in a comma list is clearer in Rust than in portable
/// SQL; only `roles` is read.
pub async fn role_lists<C: ConnectionTrait>(db: &C) -> Result<Vec<Option<String>>, DbErr> {
    user_profiles::Entity::find()
        .select_only()
        .column(user_profiles::Column::Roles)
        .into_tuple()
        .all(db)
        .await
}
