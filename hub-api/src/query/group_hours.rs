//! The kept per-hour groups of the packet-group list's total (counted by
//! `routes::packet_groups`), held in the app state beside the other kept values.

use super::past_days::PastBuckets;
use chrono::NaiveDateTime;

/// The groups of one past UTC hour, for one row filter.
#[derive(Debug, Clone, Default)]
pub struct HourGroups {
    /// Distinct packet hashes with a matching row in the hour.
    pub(crate) hashes: i64,
    /// For each of those hashes that also has a matching row before the hour (within the
    /// packet-group total's lookback; older ones never count), the time of the latest such row.
    pub(crate) earlier: Vec<NaiveDateTime>,
}

/// Kept [`HourGroups`] by (row filter, hour start), shared by every request of one server.
pub type GroupHours = PastBuckets<NaiveDateTime, HourGroups>;
