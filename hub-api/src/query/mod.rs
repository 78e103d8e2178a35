//! SQL that several route groups share, in one place.
//!
//! Route modules never import each other: what two groups both need (the flood-only advert
//! filter, message visibility, observer look-ups, the list machinery) lives here.
//!
//! - [`day_counts`]: counts by UTC day, and list totals with past whole days kept.
//! - [`filters`]: WHERE conditions shared by lists and dashboards.
//! - [`list`]: the time window, sorting with a unique tie-break, and one page with its total.
//! - [`heard`]: telemetry and trace paths: their `observed_by` filter and each row's observers.
//! - [`lookups`]: batched look-ups attached to a page of rows (names, tags, observers, ...).
//! - [`profiles`]: the caller's profile kept by writes, and adopted nodes.
//! - [`json`]: JSON columns read as text and checked for shape.
//! - [`past_days`]: per-day dashboard aggregates of past days, kept in process.
//! - [`raw_packets`]: raw packet rows and the redaction rule of packets and packet groups.
//! - [`route_history`]: a route's latest evaluation and daily history.

pub mod day_counts;
pub mod filters;
pub mod group_hours;
pub mod heard;
pub mod json;
pub mod list;
pub mod lookups;
pub mod past_days;
pub mod profiles;
pub mod raw_packets;
pub mod route_history;
pub mod time_window;
