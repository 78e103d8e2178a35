//! The synthetic mesh network: every row comes from one seeded RNG, drawn in a fixed order.
//!
//! Runs on a blocking thread and hands full chunks to the async writer through a bounded
//! channel, so generating and inserting overlap (2 cores: one generates, one runs SQLite).
//! All times are offsets back from an anchor ("now" unless given), so the same seed and
//! anchor give byte-identical databases.
//!
//! [`generate`] runs the stages, parents before children. Each group of tables has its own
//! file, a part of the one generator `Gen` whose RNG they all draw from: `nodes.rs` (nodes
//! and their tags), `channels.rs`, `profiles.rs` (profiles and adoptions), `routes.rs` (routes
//! with their nodes, observers, results, history and recent matches), `adverts.rs`,
//! `messages.rs`, `packets.rs` (raw packets and their path hops), `telemetry.rs` and
//! `trace_paths.rs`; `events.rs` holds what the event tables share (their ids and hashes,
//! event_observers rows), `random.rs` and `values.rs` the draws and the database values.
//! Moving a draw from one place to another changes every row after it.

mod adverts;
mod channels;
mod events;
mod messages;
mod nodes;
mod out;
mod packets;
mod profiles;
mod random;
mod routes;
mod telemetry;
mod trace_paths;
mod values;
mod words;

use super::Plan;
use super::tables::Chunk;
use chrono::NaiveDateTime;
use nodes::Node;
use out::Out;
use profiles::Profile;
use rand::SeedableRng;
use rand::rngs::StdRng;
use routes::RoutePlan;
use sea_orm::DbBackend;
use tokio::sync::mpsc::Sender;

/// Microseconds per minute.
const MINUTE: i64 = 60_000_000;
/// Microseconds per hour.
const HOUR: i64 = 60 * MINUTE;
/// Microseconds per day.
const DAY: i64 = 24 * HOUR;
/// Events (adverts, messages, packets) fall within this many days before the anchor.
pub const WINDOW_DAYS: i64 = 60;
/// Share of events drawn from the last week only, so recent days are busier (as on a real
/// mesh that keeps growing) and 24 h / 7 d counters are clearly non-zero.
const RECENT_SHARE: f64 = 0.3;
/// The silent observer (see `Gen::silent_observer`) heard no raw packets this many days back.
const SILENT_DAYS: i64 = 4;

/// The writer went away (it failed); the generator stops quietly.
#[derive(Debug)]
pub struct Stopped;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Row counts.
    pub plan: Plan,
    /// RNG seed.
    pub seed: u64,
    /// "Now" of the generated network, naive UTC with whole microseconds.
    pub anchor: NaiveDateTime,
    /// Decides how datetimes and JSON are bound.
    pub backend: DbBackend,
}

/// Which rows went to the special cases, so callers and tests can check them.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Channel indices that have messages but no `channels` row.
    pub orphan_channel_indices: Vec<i32>,
}

/// Generates the whole network into `tx`, in the dependency order of
/// [`Table::ALL`](super::tables::Table::ALL).
pub fn generate(config: Config, tx: Sender<Chunk>) -> Result<Facts, Stopped> {
    let mut g = Gen::new(config, tx);
    g.nodes()?;
    g.node_tags()?;
    let orphans = g.channels()?;
    g.profiles()?;
    g.adoptions()?;
    g.routes()?;
    g.advertisements()?;
    g.messages(&orphans)?;
    g.raw_packets(&orphans)?;
    g.recent_matches()?;
    g.telemetry()?;
    g.trace_paths()?;
    g.out.flush_all()?;
    Ok(Facts {
        orphan_channel_indices: orphans,
    })
}

/// The generator: the RNG every row is drawn from, the rows on their way out, and what
/// the later stages need of the earlier ones.
struct Gen {
    rng: StdRng,
    backend: DbBackend,
    anchor: NaiveDateTime,
    plan: Plan,
    out: Out,
    /// Sorted oldest first (largest `created_age` first): the nodes alive at an age are then
    /// within a prefix, found by binary search.
    nodes: Vec<Node>,
    /// Indices into `nodes`.
    observers: Vec<usize>,
    /// The generated profiles, for adoptions and route authors.
    profiles: Vec<Profile>,
    /// (hash index, visibility) of the seeded channels.
    channels: Vec<(i32, &'static str)>,
    /// Indices into `nodes` of the repeaters: most path hops name one.
    relays: Vec<usize>,
    /// An observer that heard no raw packets in the last [`SILENT_DAYS`]: routes watched only
    /// by it have no coverage.
    silent_observer: Option<usize>,
    /// The generated routes, for the packets that cross them and their recent matches.
    routes: Vec<RoutePlan>,
    /// Expected hashes that only the packets generated for their route may contain: the
    /// second path node of each route planned to be marginal or failing. Random traffic
    /// crossing it by chance would make the live evaluation disagree with the stored result.
    reserved: Vec<String>,
    /// Per node: [`Gen::is_reserved`], computed once the routes are known.
    blocked: Vec<bool>,
}

impl Gen {
    fn new(config: Config, tx: Sender<Chunk>) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            backend: config.backend,
            anchor: config.anchor,
            plan: config.plan,
            out: Out::new(tx),
            nodes: Vec::new(),
            observers: Vec::new(),
            profiles: Vec::new(),
            channels: Vec::new(),
            relays: Vec::new(),
            silent_observer: None,
            routes: Vec::new(),
            reserved: Vec::new(),
            blocked: Vec::new(),
        }
    }
}
