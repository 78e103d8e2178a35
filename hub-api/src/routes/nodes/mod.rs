//! `/api/v1/nodes`: the node list, single nodes and their tags, and the tag writes of
//! operators and admins (docs/contract/api-2.md sections 7.4-7.6).

mod query;

use crate::body::{BodyErrors, ErrorText, Field, Fields, JsonBody};
use crate::caller::Identity;
use crate::caller::{has_role, require_operator_or_admin};
use crate::documented::BoolParam;
use crate::error::ApiError;
use crate::responses::{DeleteErrors, ItemErrors, ListErrors, Reply, WriteErrors};
use poem_openapi::ApiResponse;
use serde_json::{Map, Value};
use std::sync::Arc;

use crate::page::Page;
use crate::params::{Order, lowercase, non_blank, parse_bool};
use crate::query::list::PageRequest;
use crate::query::lookups::{AdoptedBy, NodeTagRead};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached, cached_api, invalidates};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Union};

/// A node with its tags and adopter.
#[derive(Debug, Clone, Object)]
pub struct NodeRead {
    /// 64 lowercase hex chars.
    pub public_key: String,
    /// Advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Advertised type: chat, repeater, room, ...
    #[oai(nullable)]
    pub adv_type: Option<String>,
    /// Advert flags.
    #[oai(nullable)]
    pub flags: Option<i32>,
    /// First time the node was heard (RFC 3339, UTC).
    pub first_seen: String,
    /// Last time the node was heard.
    #[oai(nullable)]
    pub last_seen: Option<String>,
    /// Latitude.
    #[oai(nullable)]
    pub lat: Option<f64>,
    /// Longitude.
    #[oai(nullable)]
    pub lon: Option<f64>,
    /// Whether the node is an observer feeding the hub.
    pub is_observer: bool,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
    /// Tags in insertion order.
    pub tags: Vec<NodeTagRead>,
    /// The profile that adopted the node, if any.
    #[oai(nullable)]
    pub adopted_by: Option<AdoptedBy>,
}

/// The declared types a tag value may have.
const VALUE_TYPES: [&str; 3] = ["string", "number", "boolean"];

/// Body of `POST /nodes/{public_key}/tags`.
#[derive(Debug, Clone, Object)]
pub struct NodeTagCreate {
    /// Tag name, 1-100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub key: String,
    /// The value (a JSON string) or null (default).
    #[oai(nullable)]
    pub value: Option<String>,
    /// string (default), number or boolean. Numbers are stored as sent; booleans become
    /// `true`/`false` (from true/yes/1 and false/no/0).
    #[oai(validator(pattern = "^(string|number|boolean)$"))]
    pub value_type: Option<String>,
}

/// Body of `PUT /nodes/{public_key}/tags/{key}`: null or absent leaves a field unchanged.
#[derive(Debug, Clone, Object)]
pub struct NodeTagUpdate {
    /// The new value.
    #[oai(nullable)]
    pub value: Option<String>,
    /// string, number or boolean.
    #[oai(nullable)]
    #[oai(validator(pattern = "^(string|number|boolean)$"))]
    pub value_type: Option<String>,
}

/// The 422 of a tag write: Pydantic's list for an invalid body, or `{"detail": text}` when
/// the value does not fit its type (docs/contract/api-2.md section 0.3).
#[derive(Debug, Clone, Union)]
pub enum TagInvalid {
    /// An invalid body.
    Body(BodyErrors),
    /// A value that does not fit its type.
    Text(ErrorText),
}

/// Responses of `POST /nodes/{public_key}/tags`.
#[derive(ApiResponse)]
pub enum TagCreated {
    /// The new tag.
    #[oai(status = 201)]
    Created(Json<NodeTagRead>),
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`, or `You can only edit tags on nodes you have adopted`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Node not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// `Tag already exists`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is invalid (a list), or the value does not fit its type (a string detail).
    #[oai(status = 422)]
    Invalid(Json<TagInvalid>),
}

/// Responses of `PUT /nodes/{public_key}/tags/{key}`.
#[derive(ApiResponse)]
pub enum TagUpdated {
    /// The tag after the change.
    #[oai(status = 200)]
    Ok(Json<NodeTagRead>),
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`, or `You can only edit tags on nodes you have adopted`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Node not found` or `Tag not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// The body is invalid (a list), or the value does not fit its type (a string detail).
    #[oai(status = 422)]
    Invalid(Json<TagInvalid>),
}

/// Responses of `DELETE /nodes/{public_key}/tags/{key}`.
#[derive(ApiResponse)]
pub enum TagDeleted {
    /// Deleted: no body.
    #[oai(status = 204)]
    NoContent,
    /// `User identity required`, or a missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Operator or admin role required`, or `You can only edit tags on nodes you have adopted`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Node not found` or `Tag not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
}

fn parse_tag_create(body: &Map<String, Value>) -> Result<(String, query::TagInput), ApiError> {
    let mut fields = Fields::new(body);
    let key = fields.required_str("key", 1, 100);
    let value = fields.optional_str("value", 0, usize::MAX, true);
    let value_type = fields.literal("value_type", &VALUE_TYPES, Some("string"), false);
    fields.finish()?;
    match (key, value_type) {
        (Some(key), Field::Value(value_type)) => Ok((
            key,
            query::TagInput {
                value: value.value(),
                value_type,
            },
        )),
        // Every invalid field recorded an error, so finish() returned it above.
        _ => Err(ApiError::unprocessable("Invalid tag")),
    }
}

/// The caller of a tag write: the user id (after the RequireOperatorOrAdmin checks) and
/// whether `admin` is among the roles.
fn tag_writer(identity: &Identity) -> Result<(&str, bool), ApiError> {
    let user_id = require_operator_or_admin(identity)?;
    Ok((user_id, has_role(identity, "admin")))
}

/// Node endpoints.
pub struct NodesApi;

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Nodes")]
impl NodesApi {
    /// List nodes
    ///
    /// Filters combine with AND. `last_seen` sorts NULLs last in both directions; every sort
    /// ends with the node id so pages are stable.
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes", reads = [nodes, node_tags, user_profiles, user_profile_nodes])]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Case-insensitive substring of public key, name or `name` tag.
        search: Query<Option<String>>,
        /// Public key prefix (case-insensitive).
        pubkey_prefix: Query<Option<String>>,
        /// Node type: repeater, companion, room, chat (families), or any exact value.
        adv_type: Query<Option<String>>,
        /// Profile id of the adopter.
        adopted_by: Query<Option<String>>,
        /// Exact value of the node's `role` tag.
        role: Query<Option<String>>,
        /// Only observers (true) or only non-observers (false).
        observer: Query<Option<BoolParam>>,
        /// last_seen (default), name or public_key.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-500.
        #[oai(
            default = "crate::page::default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> Reply<Json<Page<NodeRead>>, ListErrors> {
        let filter = query::NodeFilter {
            search: lowercase(search.as_deref()),
            pubkey_prefix: lowercase(pubkey_prefix.as_deref()),
            adv_type: lowercase(adv_type.as_deref()),
            adopted_by: non_blank(adopted_by.as_deref()),
            role: role.0.clone(),
            observer: parse_bool("observer", observer.as_deref())?,
        };
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let order = Order::parse(order.as_deref());
        let (items, total) = query::list(&state.db, &filter, sort.as_deref(), order, page).await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get a node by public key
    #[oai(path = "/nodes/:public_key", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        public_key: Path<String>,
    ) -> Reply<Json<NodeRead>, ItemErrors> {
        let node = query::by_key(&state.db, &public_key).await?;
        Ok(Json(query::one(&state.db, node).await?))
    }

    /// Get the first node whose public key starts with a prefix
    #[oai(path = "/nodes/prefix/:prefix", method = "get")]
    async fn by_prefix(
        &self,
        state: Data<&Arc<AppState>>,
        prefix: Path<String>,
    ) -> Reply<Json<NodeRead>, ItemErrors> {
        Ok(Json(query::by_prefix(&state.db, &prefix).await?))
    }

    /// List a node's tags
    #[oai(path = "/nodes/:public_key/tags", method = "get")]
    async fn tags(
        &self,
        state: Data<&Arc<AppState>>,
        public_key: Path<String>,
    ) -> Reply<Json<Vec<NodeTagRead>>, ItemErrors> {
        Ok(Json(query::tags(&state.db, &public_key).await?))
    }

    /// Add a tag to a node
    ///
    /// Operator or admin (`X-User-Roles`); an operator only on a node their profile
    /// adopted. The value is checked against `value_type`.
    #[oai(path = "/nodes/:public_key/tags", method = "post")]
    #[invalidates(node_tags)]
    async fn add_tag(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        public_key: Path<String>,
        body: JsonBody<NodeTagCreate>,
    ) -> Reply<TagCreated, WriteErrors> {
        let writer = tag_writer(&identity)?;
        let (key, input) = parse_tag_create(&body.object()?)?;
        Ok(TagCreated::Created(Json(
            query::add_tag(&state.db, &public_key, writer, key, input).await?,
        )))
    }

    /// Change a node's tag
    ///
    /// Same access as adding. Null fields stay unchanged; the resulting value must fit the
    /// resulting type, but changing only the type keeps the stored value as it is.
    #[oai(path = "/nodes/:public_key/tags/:key", method = "put")]
    #[invalidates(node_tags)]
    async fn update_tag(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        public_key: Path<String>,
        key: Path<String>,
        body: JsonBody<NodeTagUpdate>,
    ) -> Reply<TagUpdated, WriteErrors> {
        let writer = tag_writer(&identity)?;
        let body = body.object()?;
        let mut fields = Fields::new(&body);
        let value = fields.optional_str("value", 0, usize::MAX, true);
        let value_type = fields.literal("value_type", &VALUE_TYPES, None, true);
        fields.finish()?;
        let tag = query::update_tag(
            &state.db,
            &public_key,
            writer,
            &key,
            value.value(),
            value_type.value(),
        )
        .await?;
        Ok(TagUpdated::Ok(Json(tag)))
    }

    /// Delete a node's tag
    ///
    /// Same access as adding.
    #[oai(path = "/nodes/:public_key/tags/:key", method = "delete")]
    #[invalidates(node_tags)]
    async fn delete_tag(
        &self,
        state: Data<&Arc<AppState>>,
        identity: Identity,
        public_key: Path<String>,
        key: Path<String>,
    ) -> Reply<TagDeleted, DeleteErrors> {
        let writer = tag_writer(&identity)?;
        query::delete_tag(&state.db, &public_key, writer, &key).await?;
        Ok(TagDeleted::NoContent)
    }
}
