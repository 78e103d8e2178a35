//! A page of the group list sorted by time (`sort=time`, the default) without grouping the
//! whole window: walk the window's rows from the end the page starts at, then group only
//! the packet hashes met on the way.
//!
//! Invariant (`order=desc`; `asc` is the mirror image). The walk reads the first `n` rows
//! of the window in `received_at` descending order, with exactly the list's row condition;
//! let `T` be the time of the last row read. Every row later than `T` has been read, so every
//! group whose first matching reception (its sort key, `MIN(received_at)`) is later than `T`
//! has been met, and every group not met, or met but with an earlier first reception, has a
//! key of at most `T`. The met groups are grouped by the list's own query restricted to
//! their hashes (same rows, same HAVING, same ORDER BY), so each gets its exact aggregates
//! and they come back in the list's exact order. Those with a key later than `T` therefore
//! rank, in that order, before every other group: once there are at least `offset + limit`
//! of them, the page is a slice of them. Otherwise the walk reads twice as many rows; once it
//! has read every row of the window, every group has been met. Keys are compared strictly
//! with `T`, so rows sharing `T` (read or not) need no care. When the walk would have to
//! group more than one `IN` list of hashes, the caller falls back to grouping the window.
//!
//! With `path_hash_bytes = w` and `order=desc`, the walk reads only the rows at least `w`
//! wide: a group of the list has such a row, and its key is at most that row's time, so a
//! group the walk did not meet has a key of at most `T` as above, and groups of narrower rows
//! are not met at all (a rare width would otherwise meet too many of them). Ascending, a
//! group's narrow rows may come before `T` and its wide ones after, so every row is walked.
//!
//! SQLite stores times as text and orders them so; for the text forms written (fixed-width
//! date and time, then an optional fraction) that is time order, except between two texts of
//! one instant, which the strict comparison with `T` (as instants) never has to separate.

use super::query::{CHUNK, GroupAggregate, GroupFilters, GroupSort, groups_among, row_condition};
use crate::error::ApiError;
use crate::params::Order;
use hub_core::entity::raw_packets;
use hub_core::time::Timestamp;
use sea_orm::{DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashSet;

/// Pages ending further than this many groups into the list are left to the grouped query,
/// which costs the same at any depth.
const MAX_WALKED_GROUPS: u64 = 200;

/// Walks longer than this many rows (groups with very many receptions) are left to the
/// grouped query too.
const MAX_WALKED_ROWS: u64 = 1 << 16;

/// One page of the list sorted by time, or `None` when the walk would meet too many groups
/// (deep pages, or a rare `path_hash_bytes`): then the caller groups the whole window.
pub(super) async fn time_page(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    order: Order,
    limit: u64,
    offset: u64,
) -> Result<Option<Vec<GroupAggregate>>, ApiError> {
    let wanted = offset.saturating_add(limit);
    if wanted > MAX_WALKED_GROUPS {
        return Ok(None);
    }
    let backend = db.get_database_backend();
    let walked_rows = match (filters.path_hash_bytes, order) {
        (Some(width), Order::Desc) => row_condition(
            backend,
            &GroupFilters {
                rows_at_least_bytes: Some(width),
                ..filters.clone()
            },
        ),
        _ => row_condition(backend, filters),
    };
    // Groups have about two receptions each in the window: this usually ends in one walk.
    let mut rows = 4 * wanted + 32;
    loop {
        let walked: Vec<(String, Timestamp)> = raw_packets::Entity::find()
            .filter(walked_rows.clone())
            .select_only()
            .column(raw_packets::Column::PacketHash)
            .column(raw_packets::Column::ReceivedAt)
            .order_by(raw_packets::Column::ReceivedAt, order.sea())
            .limit(rows)
            .into_tuple()
            .all(db)
            .await?;
        let read_all = (walked.len() as u64) < rows;
        let boundary = walked.last().map(|(_, at)| *at);
        let mut seen = HashSet::new();
        let met: Vec<String> = walked
            .into_iter()
            .filter_map(|(hash, _)| seen.insert(hash.clone()).then_some(hash))
            .collect();
        if met.len() > CHUNK {
            return Ok(None);
        }
        let groups = if met.is_empty() {
            Vec::new()
        } else {
            groups_among(db, filters, GroupSort::Time, order, &met).await?
        };
        let settled: Vec<GroupAggregate> = groups
            .into_iter()
            .filter(|group| read_all || before_boundary(group.first_seen, boundary, order))
            .collect();
        if read_all || settled.len() as u64 >= wanted {
            return Ok(Some(
                settled
                    .into_iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .collect(),
            ));
        }
        rows *= 2;
        if rows > MAX_WALKED_ROWS {
            return Ok(None);
        }
    }
}

/// Whether a group first received at `first_seen` ranks before every group not met by a walk
/// that stopped at `boundary`: strictly beyond it in the walk's direction.
fn before_boundary(first_seen: Timestamp, boundary: Option<Timestamp>, order: Order) -> bool {
    match (boundary, order) {
        (None, _) => true,
        (Some(t), Order::Desc) => first_seen > t,
        (Some(t), Order::Asc) => first_seen < t,
    }
}
