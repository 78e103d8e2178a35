//! `/api/v1/user/profiles` and `/api/v1/user/profile/{id}`: member profiles and the nodes
//! they adopted. `/user/profile/me` creates the caller's profile on first use and stores the
//! roles of `X-User-Roles`, as MeshCore Hub does, and so does `/user/profile/{id}` when its
//! owner asks (the owner view); other reads never write.

mod query;

use crate::body::{BodyErrors, ErrorText, Field, Fields, JsonBody};
use crate::caller::Identity;
use crate::caller::{has_role, require_user};
use crate::documented::{BodySchema, BodyValue, BoolParam};
use crate::error::ApiError;
use crate::page::Page;
use crate::params::parse_bool;
use crate::query::list::PageRequest;
pub use crate::query::profiles::AdoptedNode;
use crate::responses::{ItemErrors, ListErrors, ReadErrors, Reply, WriteErrors};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::tables::Table;
use hub_macros::{cached, cached_api, invalidates};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::MetaSchema;
use poem_openapi::{ApiResponse, Object, OpenApi, Union};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A profile in the list.
#[derive(Debug, Clone, Object)]
pub struct ProfileSummary {
    /// Profile id.
    pub id: String,
    /// Display name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Radio callsign.
    #[oai(nullable)]
    pub callsign: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// A link the member chose.
    #[oai(nullable)]
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
    #[oai(nullable)]
    pub name: Option<String>,
    /// Radio callsign.
    #[oai(nullable)]
    pub callsign: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// A link the member chose.
    #[oai(nullable)]
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
    #[oai(nullable)]
    pub name: Option<String>,
    /// Radio callsign.
    #[oai(nullable)]
    pub callsign: Option<String>,
    /// Role names, as last sent in `X-User-Roles`.
    pub roles: Vec<String>,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// A link the member chose.
    #[oai(nullable)]
    pub url: Option<String>,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
    /// The adopted nodes, oldest adoption first.
    pub nodes: Vec<AdoptedNode>,
}

/// `GET /user/profile/{id}`: the owner view for the profile's owner, the public view for
/// everyone else.
#[derive(Debug, Clone, Union)]
pub enum ProfileView {
    /// The caller's own profile.
    Owner(OwnProfileRead),
    /// Anyone else's view.
    Public(ProfileRead),
}

/// A profile as its owner edits it: the answer of `PUT /user/profile/{id}` (no nodes).
#[derive(Debug, Clone, Object)]
pub struct UserProfileRead {
    /// Profile id.
    pub id: String,
    /// The identity provider's user id.
    pub user_id: String,
    /// Display name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Radio callsign.
    #[oai(nullable)]
    pub callsign: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// A link the member chose.
    #[oai(nullable)]
    pub url: Option<String>,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
}

/// The body of `PUT /user/profile/{id}`: only the keys present are applied. `name` is
/// trimmed and `null` leaves it as it is; `null` clears the other fields. `roles` and
/// `user_id` are not fields (ignored when sent).
#[derive(Debug, Clone, Object)]
pub struct UserProfileUpdate {
    /// 1-255 characters, stored trimmed.
    #[oai(nullable, validator(min_length = 1, max_length = 255))]
    pub name: Option<String>,
    /// At most 20 characters.
    #[oai(nullable, validator(max_length = 20))]
    pub callsign: Option<String>,
    /// At most 500 characters.
    #[oai(nullable, validator(max_length = 500))]
    pub description: Option<String>,
    /// An absolute URL (any scheme), stored normalised; at most 2048 characters.
    #[oai(nullable)]
    pub url: Option<UrlText>,
}

/// An absolute URL, as the handler parses it (the `url` crate, like Pydantic's `AnyUrl`).
pub type UrlText = BodyValue<UrlSchema>;

/// The schema of [`UrlText`]: a string in the `uri` format (an absolute URI: a scheme, then
/// the rest; relative references are refused) of at most `MAX_URL_LENGTH` characters.
pub struct UrlSchema;

impl BodySchema for UrlSchema {
    fn name() -> String {
        "absolute_url".into()
    }

    fn schema() -> MetaSchema {
        MetaSchema {
            max_length: Some(MAX_URL_LENGTH),
            ..MetaSchema::new_with_format("string", "uri")
        }
    }
}

/// Responses of `PUT /user/profile/{id}`.
#[derive(ApiResponse)]
pub enum ProfileUpdated {
    /// The profile after the change.
    #[oai(status = 200)]
    Ok(Json<UserProfileRead>),
    /// `User identity required` (no `X-User-Id`), or a missing/invalid API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Access denied: cannot modify another user's profile`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Profile not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// The body is not a valid `UserProfileUpdate`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Longest stored `url`, counted after normalisation.
const MAX_URL_LENGTH: usize = 2048;

/// The changes of a profile edit: `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProfileChanges {
    /// New (trimmed) name.
    pub name: Option<String>,
    /// New callsign or cleared.
    pub callsign: Option<Option<String>>,
    /// New description or cleared.
    pub description: Option<Option<String>>,
    /// New (normalised) url or cleared.
    pub url: Option<Option<String>>,
}

/// Validates a profile edit body into the changes to apply.
fn parse_profile_update(body: &Map<String, Value>) -> Result<ProfileChanges, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.optional_str("name", 1, 255, true);
    let callsign = fields.optional_str("callsign", 0, 20, true);
    let description = fields.optional_str("description", 0, 500, true);
    // Absent: unchanged; null: cleared; invalid: recorded (the request then fails).
    let url = match body.get("url") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => normalized_url(&mut fields, value).map(Some),
    };
    fields.finish()?;
    let cleared = |field: Field<String>| match field {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(v) => Some(Some(v)),
    };
    Ok(ProfileChanges {
        name: name.value().map(|n| n.trim().to_string()),
        callsign: cleared(callsign),
        description: cleared(description),
        url,
    })
}

/// The url as stored: parsed as an absolute URL and serialised in normal form (scheme and
/// host lowercased, `/` path for web schemes, IDN hosts in punycode), as Pydantic does.
fn normalized_url(fields: &mut Fields<'_>, value: &Value) -> Option<String> {
    let Value::String(text) = value else {
        fields.error(
            "url",
            "url_type",
            "URL input should be a string or URL",
            value,
            None,
        );
        return None;
    };
    match url::Url::parse(text) {
        Ok(parsed) => {
            let normal = parsed.to_string();
            let length = normal.chars().count();
            if length > MAX_URL_LENGTH {
                fields.error(
                    "url",
                    "too_long",
                    &format!(
                        "Value should have at most {MAX_URL_LENGTH} items after validation, not {length}"
                    ),
                    value,
                    Some(json!({
                        "field_type": "Value",
                        "max_length": MAX_URL_LENGTH,
                        "actual_length": length,
                    })),
                );
                return None;
            }
            Some(normal)
        }
        Err(err) => {
            let reason = match err {
                url::ParseError::RelativeUrlWithoutBase => {
                    "relative URL without a base".to_string()
                }
                other => other.to_string(),
            };
            fields.error(
                "url",
                "url_parsing",
                &format!("Input should be a valid URL, {reason}"),
                value,
                Some(json!({ "error": reason })),
            );
            None
        }
    }
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
    #[cached(name = "profiles", reads = [user_profiles, user_profile_nodes, nodes, node_tags])]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Hide profiles holding the test role (`OIDC_ROLE_TEST`, default `test`; default true).
        exclude_test: Query<Option<BoolParam>>,
        /// Page size, 1-500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> Reply<Json<Page<ProfileSummary>>, ListErrors> {
        let exclude_test = parse_bool("exclude_test", exclude_test.as_deref())?.unwrap_or(true);
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let excluded_role = state.roles.test_role().filter(|_| exclude_test);
        let (items, total) = query::list(&state.db, excluded_role, page).await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get the caller's own profile, creating it on first use
    ///
    /// Identified by `X-User-Id` (401 without it). A new profile takes its name from
    /// `X-User-Name`; every call stores the raw `X-User-Roles` as the profile's roles (NULL
    /// when absent or empty). Needs no read key (the web server calls it at login), but with
    /// keys configured the identity headers count only beside the admin key (the read key
    /// when no admin key is set).
    ///
    /// Invalidates, when it creates the profile or changes its roles: profiles,
    /// dashboard/stats.
    #[oai(path = "/user/profile/me", method = "get")]
    async fn me(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
    ) -> Reply<Json<OwnProfileRead>, ReadErrors> {
        let user_id = identity
            .user_id
            .as_deref()
            .ok_or(ApiError::Unauthorized("User identity required"))?;
        Ok(Json(owner_view(&state, &identity, user_id).await?))
    }

    /// Edit a profile
    ///
    /// The owner (`X-User-Id` equal to the profile's user id) or an admin (`admin` in
    /// `X-User-Roles`) may edit it. Only the keys present in the body change; `updated_at`
    /// moves only when a value actually changes. Roles are not editable here.
    #[oai(path = "/user/profile/:id", method = "put")]
    #[invalidates(user_profiles)]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        id: Path<String>,
        body: JsonBody<UserProfileUpdate>,
    ) -> Reply<ProfileUpdated, WriteErrors> {
        let user_id = require_user(&identity)?;
        let changes = parse_profile_update(&body.object()?)?;
        let is_admin = has_role(&identity, "admin");
        Ok(ProfileUpdated::Ok(Json(
            query::update(&state.db, &id, user_id, is_admin, changes).await?,
        )))
    }

    /// Get a profile
    ///
    /// Anyone sees the public view. The profile's owner (an `X-User-Id` equal to the
    /// profile's user id, counted under the same rule as on `/user/profile/me`) gets the owner
    /// view instead, with `user_id`, and, as on `/user/profile/me`, the caller's
    /// `X-User-Roles` are stored as the profile's roles first. Never cached: the answer
    /// depends on who asks.
    ///
    /// Invalidates, when the owner's roles change: profiles, dashboard/stats.
    #[oai(path = "/user/profile/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        id: Path<String>,
    ) -> Reply<Json<ProfileView>, ItemErrors> {
        if let Some(user_id) = identity.user_id.as_deref()
            && query::is_owned_by(&state.db, &id, user_id).await?
        {
            let own = owner_view(&state, &identity, user_id).await?;
            return Ok(Json(ProfileView::Owner(own)));
        }
        Ok(Json(ProfileView::Public(
            query::by_id(&state.db, &id).await?,
        )))
    }
}

/// The owner view of `user_id`'s profile, synced from the identity headers (a GET that may
/// write `user_profiles`: the profile is created or its roles rewritten from `X-User-Roles`);
/// reports the change after the sync committed, when it changed something.
async fn owner_view(
    state: &AppState,
    identity: &Identity,
    user_id: &str,
) -> Result<OwnProfileRead, ApiError> {
    let (view, changed) = query::me(
        &state.db,
        user_id,
        identity.user_name.as_deref(),
        identity.roles.as_deref(),
    )
    .await?;
    if changed {
        state.cache.tables_changed(&[Table::UserProfiles]).await;
    }
    Ok(view)
}
