//! `/api/v1/advertisements`: adverts heard by observers, with their source and observers.

mod query;

use crate::documented::DateTimeParam;
use crate::error::ApiError;
use crate::page::Page;
use crate::params::{Order, lowercase, lowercase_list, non_blank};
use crate::query::filters::FLOOD_ROUTE_TYPES;
use crate::query::list::PageRequest;
use crate::query::lookups::ObserverRead;
use crate::query::time_window::TimeWindow;
use crate::responses::{ItemErrors, ListErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::BTreeSet;
use std::sync::Arc;

/// An advertisement with its observers and the names of its source and primary observer.
#[derive(Debug, Clone, Object)]
pub struct AdvertisementRead {
    /// Public key of the observer that stored the advert (the primary observer).
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// The primary observer's advertised name.
    #[oai(nullable)]
    pub observer_name: Option<String>,
    /// The primary observer's `name` tag.
    #[oai(nullable)]
    pub observer_tag_name: Option<String>,
    /// Public key the advert announces.
    pub public_key: String,
    /// Name carried by the advert itself.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The source node's name (`nodes.name`).
    #[oai(nullable)]
    pub node_name: Option<String>,
    /// The source node's `name` tag.
    #[oai(nullable)]
    pub node_tag_name: Option<String>,
    /// The source node's `description` tag.
    #[oai(nullable)]
    pub node_tag_description: Option<String>,
    /// The advert's type, else the source node's.
    #[oai(nullable)]
    pub adv_type: Option<String>,
    /// Advert flags.
    #[oai(nullable)]
    pub flags: Option<i32>,
    /// How the packet travelled: flood, transport_flood, direct, ...
    #[oai(nullable)]
    pub route_type: Option<String>,
    /// The sender's own clock at sending (RFC 3339, UTC).
    #[oai(nullable)]
    pub advert_timestamp: Option<String>,
    /// When the primary observer heard it.
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Hash of the raw packet.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// Every observer that heard this advert, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Advertisement endpoints.
pub struct AdvertisementsApi;

/// The `route_type` filter: `None` when disabled (`all`, `none` or nothing but blanks),
/// else the lowercased set to keep (rows with a NULL route type are kept too).
fn route_types(param: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(param) = param else {
        return Ok(Some(
            FLOOD_ROUTE_TYPES.iter().map(|t| t.to_string()).collect(),
        ));
    };
    let list = lowercase_list("route_type", param.split(','))?;
    if list.is_empty() || list.iter().any(|t| t == "all" || t == "none") {
        return Ok(None);
    }
    Ok(Some(list))
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Advertisements")]
impl AdvertisementsApi {
    /// List advertisements
    ///
    /// Filters combine with AND. By default only flooded adverts (route type `flood`,
    /// `transport_flood` or unknown) are listed; `route_type=all` lists every advert. Every
    /// sort ends with the advert id so pages are stable.
    #[oai(path = "/advertisements", method = "get")]
    #[cached(name = "advertisements", reads = [advertisements, nodes, node_tags, event_observers, user_profiles, user_profile_nodes])]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Case-insensitive substring of the advert's public key or name, or of the source
        /// node's name or `name` tag.
        search: Query<Option<String>>,
        /// Exact public key (case-insensitive).
        public_key: Query<Option<String>>,
        /// Observer public key; repeat the parameter to match any of several observers.
        #[oai(default)]
        observed_by: Query<BTreeSet<String>>,
        /// Profile id adopting the source node.
        adopted_by: Query<Option<String>>,
        /// Comma list of route types to keep (NULL route types always kept); default
        /// `flood,transport_flood`; `all`, `none` or empty keeps every route type.
        route_type: Query<Option<String>>,
        /// Only adverts received at or after this time (RFC 3339).
        since: Query<Option<DateTimeParam>>,
        /// Only adverts received at or before this time (RFC 3339).
        until: Query<Option<DateTimeParam>>,
        /// time (default, received_at), node_name or public_key.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-100.
        #[oai(
            default = "crate::page::default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> Reply<Json<Page<AdvertisementRead>>, ListErrors> {
        let filter = query::AdvertisementFilter {
            search: lowercase(search.as_deref()),
            public_key: lowercase(public_key.as_deref()),
            observed_by: lowercase_list("observed_by", observed_by.iter())?,
            adopted_by: non_blank(adopted_by.as_deref()),
            route_types: route_types(route_type.as_deref())?,
            window: TimeWindow::parse(since.as_deref(), until.as_deref())?,
        };
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let order = Order::parse(order.as_deref());
        let (items, total) = query::list(
            &state.db,
            &state.list_days,
            &filter,
            sort.as_deref(),
            order,
            page,
        )
        .await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get an advertisement by id
    #[oai(path = "/advertisements/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<String>,
    ) -> Reply<Json<AdvertisementRead>, ItemErrors> {
        Ok(Json(query::by_id(&state.db, &id).await?))
    }
}
