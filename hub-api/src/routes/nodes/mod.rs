//! `/api/v1/nodes`: the node list, single nodes and their tags.

mod query;

use crate::page::Page;
use crate::params::{Order, lowercase, non_blank, parse_bool};
use crate::query::list::PageRequest;
use crate::query::lookups::{AdoptedBy, NodeTagRead};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// A node with its tags and adopter.
#[derive(Debug, Clone, Object)]
pub struct NodeRead {
    /// 64 lowercase hex chars.
    pub public_key: String,
    /// Advertised name.
    pub name: Option<String>,
    /// Advertised type: chat, repeater, room, ...
    pub adv_type: Option<String>,
    /// Advert flags.
    pub flags: Option<i32>,
    /// First time the node was heard (RFC 3339, UTC).
    pub first_seen: String,
    /// Last time the node was heard.
    pub last_seen: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
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
    pub adopted_by: Option<AdoptedBy>,
}

/// Node endpoints.
pub struct NodesApi;

fn default_limit() -> i64 {
    50
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Nodes")]
impl NodesApi {
    /// List nodes
    ///
    /// Filters combine with AND. `last_seen` sorts NULLs last in both directions; every sort
    /// ends with the node id so pages are stable.
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
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
        observer: Query<Option<String>>,
        /// last_seen (default), name or public_key.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> poem::Result<Json<Page<NodeRead>>> {
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
        state: Data<&AppState>,
        public_key: Path<String>,
    ) -> poem::Result<Json<NodeRead>> {
        let node = query::by_key(&state.db, &public_key).await?;
        Ok(Json(query::one(&state.db, node).await?))
    }

    /// Get the first node whose public key starts with a prefix
    #[oai(path = "/nodes/prefix/:prefix", method = "get")]
    async fn by_prefix(
        &self,
        state: Data<&AppState>,
        prefix: Path<String>,
    ) -> poem::Result<Json<NodeRead>> {
        Ok(Json(query::by_prefix(&state.db, &prefix).await?))
    }

    /// List a node's tags
    #[oai(path = "/nodes/:public_key/tags", method = "get")]
    async fn tags(
        &self,
        state: Data<&AppState>,
        public_key: Path<String>,
    ) -> poem::Result<Json<Vec<NodeTagRead>>> {
        Ok(Json(query::tags(&state.db, &public_key).await?))
    }
}
