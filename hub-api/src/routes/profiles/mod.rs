//! `/api/v1/user/profiles` and `/api/v1/user/profile/{id}`: member profiles and the nodes
//! they adopted. `/user/profile/me` creates the caller's profile on first use, as MeshCore Hub does;
//! other reads never write.

mod query;

use crate::caller::Identity;
use crate::error::ApiError;
use crate::page::Page;
use crate::params::parse_bool;
use crate::query::list::PageRequest;
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

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

/// The caller's own profile (the owner view): [`ProfileRead`] with the user id.
#[derive(Debug, Clone, Object)]
pub struct OwnProfileRead {
    /// Profile id.
    pub id: String,
    /// The identity provider's user id (`X-User-Id`).
    pub user_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Radio callsign.
    pub callsign: Option<String>,
    /// Role names, as last sent in `X-User-Roles`.
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
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let (items, total) = query::list(&state.db, exclude_test, page).await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get the caller's own profile, creating it on first use
    ///
    /// Identified by `X-User-Id` (401 without it). A new profile takes its name from
    /// `X-User-Name`; every call stores the raw `X-User-Roles` as the profile's roles (NULL
    /// when absent or empty). Needs no API key: the web server calls it at login.
    #[oai(path = "/user/profile/me", method = "get")]
    async fn me(
        &self,
        state: Data<&AppState>,
        identity: Identity,
    ) -> poem::Result<Json<OwnProfileRead>> {
        let user_id = identity
            .user_id
            .ok_or(ApiError::Unauthorized("User identity required"))?;
        Ok(Json(
            query::me(
                &state.db,
                &user_id,
                identity.user_name.as_deref(),
                identity.roles.as_deref(),
            )
            .await?,
        ))
    }

    /// Get a profile
    #[oai(path = "/user/profile/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> poem::Result<Json<ProfileRead>> {
        Ok(Json(query::by_id(&state.db, &id).await?))
    }
}
