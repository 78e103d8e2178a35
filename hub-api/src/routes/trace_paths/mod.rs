//! `/api/v1/trace-paths`: trace results with their path hashes and per-hop SNR (docs/contract/api-2.md
//! section 4). Not role-sensitive and not cached.

mod query;

use crate::documented::DateTimeParam;
use crate::error::ApiError;
use crate::page::Page;
use crate::params::lowercase_list;
use crate::query::heard::{
    HeardFilters, HeardTable, Hearing, read_with_hearing, reads_with_hearing,
};
use crate::query::json::{json_number_list, json_string_list};
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
use query::TracePathRow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A trace result.
#[derive(Debug, Clone, Object)]
pub struct TracePathRead {
    /// Public key of the observer that stored it (the primary observer).
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// The trace's tag chosen by its initiator (up to 32 bits, unsigned).
    pub initiator_tag: i64,
    /// Path length.
    #[oai(nullable)]
    pub path_len: Option<i32>,
    /// Trace flags.
    #[oai(nullable)]
    pub flags: Option<i32>,
    /// Trace auth code.
    #[oai(nullable)]
    pub auth: Option<i32>,
    /// Node hashes along the path, as hex.
    #[oai(nullable)]
    pub path_hashes: Option<Vec<String>>,
    /// SNR at each hop; a non-finite stored value is null.
    #[oai(nullable)]
    pub snr_values: Option<Vec<Option<f64>>>,
    /// Hops traced.
    #[oai(nullable)]
    pub hop_count: Option<i32>,
    /// When the primary observer heard it (RFC 3339, UTC).
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Every observer that heard it, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Trace path endpoints.
pub struct TracePathsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::TracePaths")]
impl TracePathsApi {
    /// List trace paths
    ///
    /// Newest first (ties by id). Filters combine with AND.
    #[oai(path = "/trace-paths", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Public key of an observer that heard the trace; repeat to match any of several.
        #[oai(default)]
        observed_by: Query<BTreeSet<String>>,
        /// Only traces received at or after this time (RFC 3339).
        since: Query<Option<DateTimeParam>>,
        /// Only traces received at or before this time (RFC 3339).
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
    ) -> Reply<Json<Page<TracePathRead>>, ListErrors> {
        let filters = HeardFilters {
            observed_by: lowercase_list("observed_by", observed_by.iter())?,
            window: TimeWindow::parse(since.as_deref(), until.as_deref())?,
        };
        let db = &state.db;
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let (rows, total) = query::list_trace_paths(db, &filters, page).await?;
        let items = reads_with_hearing(db, HeardTable::TracePaths, rows, trace_path_read).await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get a trace path by id
    #[oai(path = "/trace-paths/:trace_path_id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        trace_path_id: Path<String>,
    ) -> Reply<Json<TracePathRead>, ItemErrors> {
        let db = &state.db;
        let row = query::trace_path_by_id(db, trace_path_id.trim()).await?;
        read_with_hearing(db, HeardTable::TracePaths, row, trace_path_read)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound("Trace path not found").into())
    }
}

/// A trace path row as served.
fn trace_path_read(row: TracePathRow, hearing: Hearing) -> TracePathRead {
    TracePathRead {
        observed_by: hearing.observed_by,
        initiator_tag: row.initiator_tag,
        path_len: row.path_len,
        flags: row.flags,
        auth: row.auth,
        path_hashes: json_string_list(row.path_hashes.as_deref(), "path_hashes"),
        snr_values: json_number_list(row.snr_values.as_deref(), "snr_values"),
        hop_count: row.hop_count,
        observers: hearing.observers,
        received_at: rfc3339(row.received_at),
        created_at: rfc3339(row.created_at),
    }
}
