//! `trace_paths`: The result of a trace: the path hashes and per-hop SNR.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// The result of a trace: the hashes of the nodes it passed and the SNR at each hop.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "trace_paths")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// The tag the initiator chose to identify its trace (stored as BIGINT).
    pub initiator_tag: i64,
    /// Path length as reported in the trace response.
    pub path_len: Option<i32>,
    /// The trace's flags as reported.
    pub flags: Option<i32>,
    /// The trace's authentication code as reported.
    pub auth: Option<i32>,
    /// The hex hashes of the nodes on the path, in order (a JSON list of strings).
    pub path_hashes: Option<Json>,
    /// The SNR at each hop, in dB (a JSON list of numbers).
    pub snr_values: Option<Json>,
    /// The number of hops of the trace.
    pub hop_count: Option<i32>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// 32-character hash MeshCore Hub computes to recognise the same event heard by several
    /// observers; the key into `event_observers`.
    pub event_hash: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
