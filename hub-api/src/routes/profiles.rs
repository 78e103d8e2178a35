//! `/api/v1/user/profiles` and `/api/v1/user/profile/{id}`: member profiles and the nodes
//! they adopted. Reads never write (differs from MeshCore Hub, which created profiles on read).

use crate::error::ApiError;
use crate::page::Page;
use crate::params::parse_bool;
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::{nodes, user_profile_nodes, user_profiles};
use hub_core::roles::{TEST_ROLE, role_names};
use hub_core::time::{rfc3339, rfc3339_opt};
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::{Expr, NullOrdering};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use std::collections::HashMap;

/// A node adopted by a profile.
#[derive(Debug, Clone, Object)]
pub struct AdoptedNode {
    /// The node's public key.
    pub public_key: String,
    /// The node's advertised name.
    pub name: Option<String>,
    /// The node's advertised type.
    pub adv_type: Option<String>,
    /// When the profile adopted it (RFC 3339, UTC).
    pub adopted_at: String,
    /// When the node was last heard.
    pub last_seen: Option<String>,
}

/// A profile in the list.
#[derive(Debug, Clone, Object)]
pub struct ProfileSummary {
    /// Profile id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Radio callsign.
    pub callsign: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// A link the member chose.
    pub url: Option<String>,
    /// Number of adopted nodes.
    pub node_count: u64,
    /// The adopted nodes, oldest adoption first.
    pub adopted_nodes: Vec<AdoptedNode>,
}

/// One profile with its nodes.
#[derive(Debug, Clone, Object)]
pub struct ProfileRead {
    /// Profile id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Radio callsign.
    pub callsign: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// A link the member chose.
    pub url: Option<String>,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
    /// The adopted nodes, oldest adoption first.
    pub nodes: Vec<AdoptedNode>,
}

/// Profile endpoints.
pub struct ProfilesApi;

fn default_limit() -> i64 {
    100
}

/// SQL that is true when the profile's comma list of roles holds `role` exactly.
fn holds_role_sql(role: &str) -> String {
    // Commas around the space-stripped list make the match exact ("tester" is not "test").
    format!("(',' || REPLACE(COALESCE(user_profiles.roles, ''), ' ', '') || ',') LIKE '%,{role},%'")
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Profiles")]
impl ProfilesApi {
    /// List profiles
    ///
    /// Ordered by name (NULLs last), then id.
    #[oai(path = "/user/profiles", method = "get")]
    #[cached(name = "profiles")]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Hide profiles holding the `test` role (default true).
        exclude_test: Query<Option<String>>,
        /// Page size, 1-500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> poem::Result<Json<Page<ProfileSummary>>> {
        let exclude_test = parse_bool("exclude_test", exclude_test.as_deref())?.unwrap_or(true);
        let mut query = user_profiles::Entity::find();
        if exclude_test {
            query = query.filter(Expr::cust(format!("NOT {}", holds_role_sql(TEST_ROLE))));
        }
        let db = &state.db;
        let total = query.clone().count(db).await.map_err(ApiError::from)?;
        let mut select = query.limit(limit.0 as u64).offset(offset.0 as u64);
        QueryTrait::query(&mut select).order_by_with_nulls(
            (user_profiles::Entity, user_profiles::Column::Name),
            sea_orm::Order::Asc,
            NullOrdering::Last,
        );
        let profiles = select
            .order_by_asc(user_profiles::Column::Id)
            .all(db)
            .await
            .map_err(ApiError::from)?;
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
        Ok(Json(Page {
            items,
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get a profile
    #[oai(path = "/user/profile/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> poem::Result<Json<ProfileRead>> {
        let profile = user_profiles::Entity::find_by_id(id.0)
            .one(&state.db)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("Profile not found"))?;
        let nodes = adopted_nodes(&state.db, std::slice::from_ref(&profile.id))
            .await?
            .remove(&profile.id)
            .unwrap_or_default();
        Ok(Json(ProfileRead {
            roles: role_names(profile.roles.as_deref()),
            id: profile.id,
            name: profile.name,
            callsign: profile.callsign,
            description: profile.description,
            url: profile.url,
            created_at: rfc3339(profile.created_at),
            updated_at: rfc3339(profile.updated_at),
            nodes,
        }))
    }
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
