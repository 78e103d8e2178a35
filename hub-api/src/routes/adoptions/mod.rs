//! `/api/v1/adoptions`: operators and admins adopt nodes for their profile and release
//! them (docs/contract/api-2.md sections 7.7-7.8).

mod query;

use crate::body::{BodyErrors, ErrorText, Fields, JsonBody};
use crate::caller::Identity;
use crate::caller::{has_role, require_operator_or_admin};
use crate::query::profiles::AdoptedNode;
use crate::responses::{DeleteErrors, Reply, WriteErrors};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached_api, invalidates};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;

/// Body of `POST /adoptions`.
#[derive(Debug, Clone, Object)]
pub struct NodeAdoptRequest {
    /// The node's public key, at most 64 characters (any case).
    #[oai(validator(max_length = 64))]
    pub public_key: String,
}

/// Responses of `POST /adoptions`.
#[derive(ApiResponse)]
pub enum Adopted {
    /// The adopted node; `last_seen` is always null here.
    #[oai(status = 201)]
    Created(Json<AdoptedNode>),
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Node with public_key '<key>' not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// `Node already adopted by this user` or `Node already adopted by another user`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is not a valid `NodeAdoptRequest`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Responses of `DELETE /adoptions/{public_key}`.
#[derive(ApiResponse)]
pub enum Released {
    /// Released: no body.
    #[oai(status = 204)]
    NoContent,
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`, or
    /// `Only the adopting user or an admin can release this node`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Node with public_key '<key>' not found` or `Node is not adopted`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
}

/// Adoption endpoints.
pub struct AdoptionsApi;

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Profiles")]
impl AdoptionsApi {
    /// Adopt a node
    ///
    /// Operator or admin. Creates the caller's profile when missing and stores the
    /// `X-User-Roles` on it, in the same transaction: a failed adoption changes nothing.
    #[oai(path = "/adoptions", method = "post")]
    #[invalidates(user_profile_nodes, user_profiles)]
    async fn adopt(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        body: JsonBody<NodeAdoptRequest>,
    ) -> Reply<Adopted, WriteErrors> {
        let user_id = require_operator_or_admin(&identity)?;
        let body = body.object()?;
        let mut fields = Fields::new(&body);
        let public_key = fields.required_str("public_key", 0, 64);
        fields.finish()?;
        let node = query::adopt(
            &state.db,
            user_id,
            &identity,
            &public_key.unwrap_or_default(),
        )
        .await?;
        Ok(Adopted::Created(Json(node)))
    }

    /// Release an adopted node
    ///
    /// Operator or admin; a non-admin only their own adoption. Does not touch the caller's
    /// profile.
    #[oai(path = "/adoptions/:public_key", method = "delete")]
    #[invalidates(user_profile_nodes, user_profiles)]
    async fn release(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        public_key: Path<String>,
    ) -> Reply<Released, DeleteErrors> {
        let user_id = require_operator_or_admin(&identity)?;
        let is_admin = has_role(&identity, "admin");
        query::release(&state.db, user_id, is_admin, &public_key).await?;
        Ok(Released::NoContent)
    }
}
