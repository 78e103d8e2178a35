//! `/api/v1/telemetry`: sensor telemetry nodes reported (docs/contract/api-2.md section 3). Not
//! role-sensitive and not cached.

mod query;

use crate::documented::DateTimeParam;
use crate::error::ApiError;
use crate::page::Page;
use crate::params::{lowercase, lowercase_list};
use crate::query::heard::{
    HeardFilters, HeardTable, Hearing, read_with_hearing, reads_with_hearing,
};
use crate::query::json::json_object;
use crate::query::list::PageRequest;
use crate::query::lookups::ObserverRead;
use crate::query::time_window::TimeWindow;
use crate::responses::{ItemErrors, ListErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::time::rfc3339;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use query::{TelemetryFilters, TelemetryRow};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A telemetry record.
#[derive(Debug, Clone, Object)]
pub struct TelemetryRead {
    /// Public key of the observer that stored it (the primary observer).
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// Public key of the reporting node.
    pub node_public_key: String,
    /// The decoded sensor values, as stored (keys in stored order).
    #[oai(nullable)]
    pub parsed_data: Option<serde_json::Value>,
    /// When the primary observer heard it (RFC 3339, UTC).
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Every observer that heard it, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Telemetry endpoints.
pub struct TelemetryApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Telemetry")]
impl TelemetryApi {
    /// List telemetry
    ///
    /// Newest first (ties by id). Filters combine with AND.
    #[oai(path = "/telemetry", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Exact public key of the reporting node (case-insensitive).
        node_public_key: Query<Option<String>>,
        /// Public key of an observer that heard the record; repeat to match any of several.
        #[oai(default)]
        observed_by: Query<BTreeSet<String>>,
        /// Only records received at or after this time (RFC 3339).
        since: Query<Option<DateTimeParam>>,
        /// Only records received at or before this time (RFC 3339).
        until: Query<Option<DateTimeParam>>,
        /// Page size, 1-100.
        #[oai(
            default = "crate::page::default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> Reply<Json<Page<TelemetryRead>>, ListErrors> {
        let filters = TelemetryFilters {
            node_public_key: lowercase(node_public_key.as_deref()),
            heard: HeardFilters {
                observed_by: lowercase_list("observed_by", observed_by.iter())?,
                window: TimeWindow::parse(since.as_deref(), until.as_deref())?,
            },
        };
        let db = &state.db;
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let (rows, total) = query::list_telemetry(db, &filters, page).await?;
        let items = reads_with_hearing(db, HeardTable::Telemetry, rows, telemetry_read).await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get a telemetry record by id
    #[oai(path = "/telemetry/:telemetry_id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        telemetry_id: Path<String>,
    ) -> Reply<Json<TelemetryRead>, ItemErrors> {
        let db = &state.db;
        let row = query::telemetry_by_id(db, telemetry_id.trim()).await?;
        read_with_hearing(db, HeardTable::Telemetry, row, telemetry_read)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound("Telemetry record not found").into())
    }
}

/// A telemetry row as served.
fn telemetry_read(row: TelemetryRow, hearing: Hearing) -> TelemetryRead {
    TelemetryRead {
        observed_by: hearing.observed_by,
        parsed_data: json_object(row.parsed_data.as_deref(), "parsed_data"),
        observers: hearing.observers,
        node_public_key: row.node_public_key,
        received_at: rfc3339(row.received_at),
        created_at: rfc3339(row.created_at),
    }
}
