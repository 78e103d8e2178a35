//! The paginated list shape shared by the list endpoints.

use poem_openapi::Object;
use poem_openapi::types::{ParseFromJSON, ToJSON};

/// The page size of a list request that names none, as MeshCore Hub's lists default it
/// (its profile list takes 100 and says so itself).
pub(crate) fn default_limit() -> i64 {
    50
}

/// One page of a list: `{"items": [...], "total": int, "limit": int, "offset": int}`.
///
/// `total` counts every row matching the filters, before `limit` and `offset`.
#[derive(Debug, Clone, Object)]
pub struct Page<T: ParseFromJSON + ToJSON> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filters, before limit/offset.
    pub total: u64,
    /// The page size asked for.
    pub limit: i64,
    /// The offset asked for.
    pub offset: i64,
}
