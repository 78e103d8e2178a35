//! The synthetic mesh network: every row comes from one seeded RNG, drawn in a fixed order.
//!
//! Runs on a blocking thread and hands full chunks to the async writer through a bounded
//! channel, so generating and inserting overlap (2 cores: one generates, one runs SQLite).
//! All times are offsets back from an anchor ("now" unless given), so the same seed and
//! anchor give byte-identical databases.

use super::Plan;
use super::tables::{Chunk, Table};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use hub_core::settings::DEFAULT_SPAM_SCORE_THRESHOLD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{DbBackend, Value};
use tokio::sync::mpsc::Sender;

/// Microseconds per minute, hour and day.
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
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

/// Generates the whole network into `tx`, in [`Table::ALL`] dependency order.
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

/// Buffers rows per table and sends each chunk once it is full.
struct Out {
    tx: Sender<Chunk>,
    buffers: Vec<Vec<Value>>,
    rows: Vec<usize>,
    /// Full chunks of a child table (see [`Table::parent`]) waiting for their parent rows,
    /// still buffered, to be sent first. Holding them keeps every chunk full (one prepared
    /// statement per table) where flushing the parent early would not.
    held: Vec<Chunk>,
}

impl Out {
    fn new(tx: Sender<Chunk>) -> Self {
        Self {
            tx,
            buffers: Table::ALL.iter().map(|_| Vec::new()).collect(),
            rows: vec![0; Table::ALL.len()],
            held: Vec::new(),
        }
    }

    fn push<const N: usize>(&mut self, table: Table, row: [Value; N]) -> Result<(), Stopped> {
        debug_assert_eq!(N, table.columns().len(), "{}", table.name());
        let i = table.index();
        if self.buffers[i].is_empty() {
            self.buffers[i].reserve_exact(table.chunk_rows() * N);
        }
        self.buffers[i].extend(row);
        self.rows[i] += 1;
        if self.rows[i] == table.chunk_rows() {
            self.flush(table)?;
        }
        Ok(())
    }

    fn flush(&mut self, table: Table) -> Result<(), Stopped> {
        let i = table.index();
        if self.rows[i] == 0 {
            return Ok(());
        }
        let chunk = Chunk {
            table,
            rows: std::mem::take(&mut self.rows[i]),
            values: std::mem::take(&mut self.buffers[i]),
        };
        if let Some(parent) = table.parent()
            && self.rows[parent.index()] > 0
        {
            self.held.push(chunk);
            return Ok(());
        }
        self.tx.blocking_send(chunk).map_err(|_| Stopped)?;
        // Held chunks only wait for a parent with buffered rows: it has just been sent.
        if self
            .held
            .first()
            .is_some_and(|h| h.table.parent() == Some(table))
        {
            for held in std::mem::take(&mut self.held) {
                self.tx.blocking_send(held).map_err(|_| Stopped)?;
            }
        }
        Ok(())
    }

    /// Sends every partial chunk; called between stages so parents reach the database before
    /// the rows that reference them.
    fn flush_all(&mut self) -> Result<(), Stopped> {
        for table in Table::ALL {
            self.flush(table)?;
        }
        Ok(())
    }
}

/// A generated node, kept for the rows that reference it.
struct Node {
    id: String,
    public_key: String,
    name: Option<String>,
    /// What a person would call it: the `name` tag, else the name, else a key prefix.
    display: String,
    adv_type: Option<&'static str>,
    /// Age (µs before the anchor) of its first_seen / created_at.
    created_age: i64,
    /// Age of its last_seen; the node is heard only between the two.
    last_age: i64,
    observer: bool,
    /// The first three bytes of the public key as uppercase hex: a path hop names the node by
    /// the first 1, 2 or 3 bytes of it (2, 4 or 6 characters).
    hash: String,
}

impl Node {
    /// The hop hash naming this node in a path of `bytes`-byte hashes.
    fn hop_hash(&self, bytes: usize) -> &str {
        &self.hash[..2 * bytes]
    }
}

struct Profile {
    id: String,
    user_id: String,
    created_age: i64,
}

/// A channel index and the weight of messages on it.
struct ChannelSlot {
    idx: Option<i32>,
    weight: u32,
}

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
    profiles: Vec<Profile>,
    /// (hash index, visibility) of the seeded channels.
    channels: Vec<(i32, &'static str)>,
    /// Indices into `nodes` of the repeaters: most path hops name one.
    relays: Vec<usize>,
    /// An observer that heard no raw packets in the last [`SILENT_DAYS`]: routes watched only
    /// by it have no coverage.
    silent_observer: Option<usize>,
    routes: Vec<RoutePlan>,
    /// Expected hashes that only the packets generated for their route may contain: the
    /// second path node of each route planned to be marginal or failing. Random traffic
    /// crossing it by chance would make the live evaluation disagree with the stored result.
    reserved: Vec<String>,
    /// Per node: [`Gen::is_reserved`], computed once the routes are known.
    blocked: Vec<bool>,
}

/// How a seeded route is meant to look when evaluated: its packets are generated to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// healthy / clear: at least the clear bar of matching packets.
    Clear,
    /// healthy / marginal (the Routes page's "degraded"): above the threshold, below clear.
    Marginal,
    /// unhealthy / failing: fewer matches than the threshold, plus partial matches.
    Failing,
    /// no_coverage / unknown ("down"): its observers heard nothing in the window.
    NoCoverage,
}

impl Target {
    const ALL: [Target; 4] = [
        Target::Clear,
        Target::Marginal,
        Target::Failing,
        Target::NoCoverage,
    ];

    fn state(self) -> &'static str {
        match self {
            Target::Clear | Target::Marginal => "healthy",
            Target::Failing => "unhealthy",
            Target::NoCoverage => "no_coverage",
        }
    }

    fn quality(self) -> &'static str {
        match self {
            Target::Clear => "clear",
            Target::Marginal => "marginal",
            Target::Failing => "failing",
            Target::NoCoverage => "unknown",
        }
    }
}

/// A generated route, kept so that the raw packets can carry its hops.
struct RoutePlan {
    id: String,
    /// Expected hashes of the path nodes in order (uppercase, `2 * match_width` characters).
    expected: Vec<String>,
    /// Indices into `nodes` of the path nodes.
    path: Vec<usize>,
    window_hours: i64,
    reversible: bool,
    max_hop_span: Option<i32>,
    max_path_length: Option<i32>,
    /// Indices into `nodes` of the route's observers (empty: all observers).
    observers: Vec<usize>,
    /// Packets in the window whose hops contain the whole path in order.
    full_matches: usize,
    /// Packets in the window whose hops contain only the first path node.
    partial_matches: usize,
    /// Whether a route_results row (and so persisted recent matches) exists.
    has_result: bool,
    evaluated_age: i64,
    /// (age, raw packet id, first position, last position) of the full matches generated.
    matches: Vec<(i64, String, i32, i32)>,
}

const PLACES: &[&str] = &[
    "Harbor",
    "Ridge",
    "Summit",
    "Valley",
    "Oakwood",
    "Riverside",
    "Hilltop",
    "Lakeside",
    "Northgate",
    "Southend",
    "Westfield",
    "Eastbrook",
    "Cedar",
    "Pine",
    "Maple",
    "Granite",
    "Beacon",
    "Foxhill",
    "Kingsway",
    "Meadow",
    "Stonebridge",
    "Ashford",
    "Bramble",
    "Copper",
    "Larkspur",
    "Millbrook",
    "Orchard",
    "Quarry",
    "Redcliff",
    "Willow",
    "Zürichsee",
    "Ørsted",
];
const PEOPLE: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yara", "Zoë",
    "Ágnes", "Jürgen", "Søren",
];
const SURNAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Walker", "Wright",
    "Robinson", "Hughes", "Green", "Novak", "Müller", "García",
];
const DEVICES: &[&str] = &[
    "T-Deck", "Heltec", "RAK", "T-Beam", "Xiao", "Station", "Mobile", "Handheld",
];
const RELAY_KINDS: &[&str] = &["Repeater", "Relay", "Tower", "Mast", "Node"];
const AREAS: &[&str] = &["North", "South", "East", "West", "Central"];
const ROLE_TAGS: &[&str] = &["infrastructure", "client", "gateway", "backbone", "sensor"];
const PHRASES: &[&str] = &[
    "anyone on frequency tonight?",
    "good signal from the ridge today",
    "testing the new antenna, please ack",
    "the repeater at the harbor is back up",
    "heading out on the trail, will check in later",
    "weather is turning, stay safe out there",
    "can someone relay to the valley?",
    "battery at 40%, switching to solar",
    "copy that, loud and clear",
    "meetup at the library on saturday",
    "who moved the hilltop node?",
    "path looks shorter since the new relay went in",
    "nice! 5 hops and still got through",
    "firmware update went fine here",
    "gm mesh ☀️",
    "73 from the orchard 📡",
    "anyone seeing packet loss in the east?",
    "will the ops channel be on tonight?",
    "just passed the quarry, no coverage there",
    "thanks for the relay, much appreciated",
];
const SPAM: &[&str] = &[
    "WIN FREE CRYPTO NOW!!! visit http://spam.example/win",
    "cheap followers, dm me for prices $$$",
    "CLICK HERE http://spam.example/offer limited time",
    "you have been selected for a prize, reply with your key",
];
/// Raw packet event types with their weight, and a plausible packet/payload type. `None`
/// stands for packets the collector could not attribute (NULL event_type).
const EVENT_TYPES: &[(Option<&str>, u32, i32, i32)] = &[
    (Some("advertisement"), 30, 5, 4),
    (Some("channel_msg_recv"), 25, 5, 5),
    (Some("contact_msg_recv"), 10, 2, 2),
    (Some("trace_data"), 8, 9, 9),
    (Some("path_updated"), 6, 8, 8),
    (Some("telemetry_response"), 5, 1, 1),
    (Some("status_response"), 4, 1, 1),
    (Some("ack"), 4, 3, 3),
    (Some("login_success"), 2, 1, 1),
    (None, 6, 0, 15),
];
/// Route types with weights; NULL is what older collectors stored.
const ROUTE_TYPES: &[(Option<&str>, u32)] = &[
    (Some("flood"), 55),
    (Some("transport_flood"), 15),
    (Some("direct"), 20),
    (None, 10),
];

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

    // ---- random helpers ------------------------------------------------------------

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: impl IntoIterator<Item = u32> + Clone) -> usize {
        let total: u32 = weights.clone().into_iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (i, w) in weights.into_iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!("weights sum to total")
    }

    fn age_between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            low
        } else {
            self.rng.random_range(low..high)
        }
    }

    /// A version 4 UUID built from RNG bytes (so runs repeat), as lowercase hyphenated text.
    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// `n` UUIDs as [`Gen::uuid`] makes them, in ascending order. Handed out in insertion
    /// order they keep the primary-key index append-only: random keys cost a descent into a
    /// different page per row, about a third of the large seed's time.
    fn sorted_uuids(&mut self, n: usize) -> std::vec::IntoIter<String> {
        let mut ids: Vec<String> = (0..n).map(|_| self.uuid()).collect();
        ids.sort_unstable();
        ids.into_iter()
    }

    /// `n` random hex strings of `bytes` bytes, ascending (see [`Gen::sorted_uuids`]; event
    /// hashes carry unique indexes).
    fn sorted_hex(&mut self, n: usize, bytes: usize) -> std::vec::IntoIter<String> {
        let mut out: Vec<String> = (0..n).map(|_| self.hex(bytes)).collect();
        out.sort_unstable();
        out.into_iter()
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf[..]);
        hex::encode(buf)
    }

    fn snr(&mut self) -> f64 {
        (self.rng.random_range(-18.0..14.0_f64) * 4.0).round() / 4.0
    }

    /// Age of an event: uniform over the window, with a share from the last week.
    fn event_age(&mut self) -> i64 {
        let days = if self.chance(RECENT_SHARE) {
            7
        } else {
            WINDOW_DAYS
        };
        self.rng.random_range(0..days * DAY)
    }

    /// `n` event ages, oldest first: rows are inserted in arrival order, as a collector
    /// would, which also keeps the time indexes append-only.
    fn event_ages(&mut self, n: usize) -> Vec<i64> {
        let mut ages: Vec<i64> = (0..n).map(|_| self.event_age()).collect();
        ages.sort_unstable_by(|a, b| b.cmp(a));
        ages
    }

    // ---- value helpers ------------------------------------------------------------

    fn at(&self, age: i64) -> NaiveDateTime {
        self.anchor - Duration::microseconds(age.max(0))
    }

    /// A datetime as the database stores it: naive UTC text with six fraction digits on
    /// SQLite (what MeshCore Hub writes), a timestamp on PostgreSQL.
    fn ts(&self, age: i64) -> Value {
        let t = self.at(age);
        match self.backend {
            DbBackend::Sqlite => Value::String(Some(format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.nanosecond() / 1000
            ))),
            _ => Value::ChronoDateTime(Some(t)),
        }
    }

    /// A NULL datetime, typed as the column is: PostgreSQL refuses a text NULL for a
    /// timestamptz column.
    fn null_ts(&self) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(None),
            _ => Value::ChronoDateTime(None),
        }
    }

    fn date(&self, date: NaiveDate) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(Some(date.format("%Y-%m-%d").to_string())),
            _ => Value::ChronoDate(Some(date)),
        }
    }

    fn json(&self, json: serde_json::Value) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(Some(super::pyjson::dumps(&json))),
            _ => Value::Json(Some(Box::new(json))),
        }
    }

    // ---- stages --------------------------------------------------------------------

    fn node_name(&mut self, adv_type: Option<&str>) -> String {
        let place = self.pick(PLACES);
        let n = self.below(40) + 1;
        match adv_type {
            Some("repeater") => {
                let kind = self.pick(RELAY_KINDS);
                if self.chance(0.05) {
                    format!("📡 {place} {kind}")
                } else {
                    format!("{place} {kind} {n:02}")
                }
            }
            Some("room") => format!("{place} Room"),
            Some("sensor") => format!("{place} Sensor {n}"),
            _ => {
                let person = self.pick(PEOPLE);
                let device = self.pick(DEVICES);
                format!("{person}'s {device}")
            }
        }
    }

    fn nodes(&mut self) -> Result<(), Stopped> {
        let plan = self.plan.clone();
        let mut nodes = Vec::with_capacity(plan.nodes);
        for i in 0..plan.nodes {
            let observer = i < plan.observers;
            let adv_type = if observer {
                Some(if self.chance(0.5) {
                    "repeater"
                } else {
                    "companion"
                })
            } else {
                [
                    Some("repeater"),
                    Some("chat"),
                    Some("companion"),
                    Some("room"),
                    Some("sensor"),
                    None,
                ][self.weighted([30, 40, 12, 8, 5, 5])]
            };
            // A third of the network predates the window, so the cumulative node count starts
            // above zero; the rest joins day by day. Observers are long-lived infrastructure.
            let created_age = if observer || self.chance(0.3) {
                self.age_between(WINDOW_DAYS * DAY + HOUR, 180 * DAY)
            } else {
                self.age_between(HOUR, WINDOW_DAYS * DAY)
            };
            let last_age = if observer {
                self.age_between(0, 10 * MINUTE)
            } else if self.chance(0.4) {
                // active: heard in the last 24 h
                self.age_between(0, DAY.min(created_age))
            } else {
                self.age_between(0, created_age)
            };
            let public_key = self.hex(32);
            let name = if observer || self.chance(0.95) {
                Some(self.node_name(adv_type))
            } else {
                None
            };
            let display = name.clone().unwrap_or_else(|| public_key[..8].to_string());
            let hash = public_key[..6].to_uppercase();
            nodes.push(Node {
                hash,
                id: self.uuid(),
                public_key,
                name,
                display,
                adv_type,
                created_age,
                last_age,
                observer,
            });
        }
        nodes.sort_by_key(|n| std::cmp::Reverse(n.created_age));
        for (i, node) in nodes.iter().enumerate() {
            let flags = if self.chance(0.8) {
                Value::Int(Some(self.rng.random_range(0..16)))
            } else {
                Value::Int(None)
            };
            let (lat, lon) = if node.observer || self.chance(0.85) {
                let lat = 52.0 + self.rng.random_range(-1.5..1.5_f64);
                let lon = -1.5 + self.rng.random_range(-2.0..2.0_f64);
                (
                    Some((lat * 1e5).round() / 1e5),
                    Some((lon * 1e5).round() / 1e5),
                )
            } else {
                (None, None)
            };
            // A few nodes were only ever named by tag, never heard: no last_seen.
            let last_seen = if !node.observer && i % 50 == 49 {
                self.null_ts()
            } else {
                self.ts(node.last_age)
            };
            let row = [
                node.id.clone().into(),
                node.public_key.clone().into(),
                Value::String(node.name.clone()),
                Value::String(node.adv_type.map(str::to_string)),
                flags,
                self.ts(node.created_age),
                last_seen,
                self.ts(node.created_age),
                self.ts(node.last_age),
                Value::Double(lat),
                Value::Double(lon),
                Value::Bool(Some(node.observer)),
            ];
            self.out.push(Table::Nodes, row)?;
        }
        self.observers = (0..nodes.len()).filter(|&i| nodes[i].observer).collect();
        self.relays = (0..nodes.len())
            .filter(|&i| nodes[i].adv_type == Some("repeater"))
            .collect();
        if self.relays.is_empty() {
            self.relays = (0..nodes.len()).collect();
        }
        // With a single observer there is no one left to hear the recent packets.
        self.silent_observer = (self.observers.len() > 1).then(|| self.observers[0]);
        self.nodes = nodes;
        self.out.flush_all()
    }

    fn node_tags(&mut self) -> Result<(), Stopped> {
        for i in 0..self.nodes.len() {
            let mut tags: Vec<(&'static str, String, &'static str)> = Vec::new();
            let observer = self.nodes[i].observer;
            if observer || self.chance(0.75) {
                let tag_name = if observer {
                    let area = self.pick(AREAS);
                    format!("{area} Observer {}", self.below(9) + 1)
                } else if self.chance(0.5) {
                    // the friendly name differs from the radio name
                    let person = self.pick(PEOPLE);
                    let place = self.pick(PLACES);
                    format!("{person} @ {place}")
                } else {
                    self.nodes[i].display.clone()
                };
                self.nodes[i].display = tag_name.clone();
                tags.push(("name", tag_name, "string"));
            }
            if observer || self.chance(0.4) {
                let role = if observer {
                    "gateway"
                } else {
                    self.pick(ROLE_TAGS)
                };
                tags.push(("role", role.to_string(), "string"));
            }
            if self.chance(0.3) {
                let place = self.pick(PLACES);
                let description = format!(
                    "{} near {place}, {} m above sea level",
                    self.nodes[i].adv_type.unwrap_or("device"),
                    self.below(400) + 5
                );
                tags.push(("description", description, "string"));
            }
            if observer {
                let area = self.pick(AREAS);
                tags.push(("area", area.to_string(), "string"));
            }
            if self.chance(0.1) {
                let elevation = (self.below(400) + 5).to_string();
                tags.push(("elevation", elevation, "number"));
            }
            let created_age = self.nodes[i].created_age;
            for (k, (key, value, value_type)) in tags.into_iter().enumerate() {
                // one second apart, in this order: clients list tags in insertion order
                let age = (created_age - k as i64 * 1_000_000).max(0);
                let row = [
                    self.uuid().into(),
                    self.nodes[i].id.clone().into(),
                    key.into(),
                    value.into(),
                    value_type.into(),
                    self.ts(age),
                    self.ts(age),
                ];
                self.out.push(Table::NodeTags, row)?;
            }
        }
        self.out.flush_all()
    }

    /// Channels of every visibility level; returns two indices that get messages but have no
    /// channels row (hidden from everyone).
    fn channels(&mut self) -> Result<Vec<i32>, Stopped> {
        const CHANNELS: &[(&str, &str, bool, usize)] = &[
            // name, visibility, enabled, key length in bytes
            ("Community General", "community", true, 16),
            ("Local Chat", "community", true, 16),
            ("Emergency", "community", false, 32),
            ("Members Lounge", "member", true, 16),
            ("Member Events", "member", true, 16),
            ("Operators", "operator", true, 32),
            ("Network Ops", "operator", true, 16),
            ("Admins", "admin", true, 16),
        ];
        let mut used = vec![hub_core::roles::PUBLIC_CHANNEL_IDX];
        for &(name, visibility, enabled, key_len) in CHANNELS {
            // Distinct hashes, none equal to the Public channel's index.
            let (key_hex, idx) = loop {
                let key_hex = self.hex(key_len);
                let key = hex::decode(&key_hex).expect("hex");
                let hash = hub_core::roles::channel_hash(&key);
                let idx = i32::from_str_radix(&hash, 16).expect("hex hash");
                if !used.contains(&idx) {
                    break (key_hex, idx);
                }
            };
            used.push(idx);
            self.channels.push((idx, visibility));
            let age = self.age_between(WINDOW_DAYS * DAY, 120 * DAY);
            let row = [
                self.uuid().into(),
                name.into(),
                key_hex.into(),
                format!("{idx:02X}").into(),
                visibility.into(),
                Value::Bool(Some(enabled)),
                self.ts(age),
                self.ts(age / 2),
            ];
            self.out.push(Table::Channels, row)?;
        }
        let mut orphans = Vec::new();
        while orphans.len() < 2 {
            let idx = self.rng.random_range(0..256);
            if !used.contains(&idx) {
                used.push(idx);
                orphans.push(idx);
            }
        }
        self.out.flush_all()?;
        Ok(orphans)
    }

    fn profiles(&mut self) -> Result<(), Stopped> {
        // The first few guarantee every role (and the test role on both counted roles); the
        // rest are drawn. `operator-trainee` must not count as an operator (exact names).
        const FIXED: &[Option<&str>] = &[
            Some("admin,member"),
            Some("operator,member"),
            Some("operator"),
            Some("member"),
            Some("member,test"),
            Some("operator,test"),
        ];
        const DRAWN: &[(Option<&str>, u32)] = &[
            (Some("member"), 50),
            (Some("operator,member"), 12),
            (Some("operator"), 5),
            (Some("admin"), 2),
            (None, 10),
            (Some(""), 5),
            (Some("test"), 4),
            (Some("member,test"), 6),
            (Some("operator,test"), 3),
            (Some("member, operator"), 3),
            (Some("operator-trainee"), 2),
        ];
        for i in 0..self.plan.profiles {
            let roles = match FIXED.get(i) {
                Some(roles) => *roles,
                None => DRAWN[self.weighted(DRAWN.iter().map(|d| d.1))].0,
            };
            let person = self.pick(PEOPLE);
            let surname = self.pick(SURNAMES);
            let name = if self.chance(0.92) {
                Some(format!("{person} {surname}"))
            } else {
                None
            };
            let callsign = if self.chance(0.7) {
                let mut call = String::from(self.pick(&["M0", "M7", "2E0", "G4", "DL1", "K1"]));
                for _ in 0..3 {
                    call.push(char::from(b'A' + self.below(26) as u8));
                }
                Some(call)
            } else {
                None
            };
            let description = if self.chance(0.4) {
                let place = self.pick(PLACES);
                Some(format!("Runs nodes around {place}"))
            } else {
                None
            };
            let user_id = self.uuid();
            let url = if self.chance(0.2) {
                Some(format!("https://example.org/~{}", &user_id[..8]))
            } else {
                None
            };
            let created_age = self.age_between(DAY, 120 * DAY);
            let id = self.uuid();
            let row = [
                id.clone().into(),
                user_id.clone().into(),
                Value::String(name),
                Value::String(callsign),
                Value::String(roles.map(str::to_string)),
                Value::String(description),
                Value::String(url),
                self.ts(created_age),
                self.ts(created_age / 3),
            ];
            self.out.push(Table::UserProfiles, row)?;
            self.profiles.push(Profile {
                id,
                user_id,
                created_age,
            });
        }
        self.out.flush_all()
    }

    fn adoptions(&mut self) -> Result<(), Stopped> {
        for i in 0..self.nodes.len() {
            // every observer has an owner; a quarter of the other nodes too
            if !(self.nodes[i].observer || self.chance(0.25)) || self.profiles.is_empty() {
                continue;
            }
            let p = self.below(self.profiles.len());
            let newest = self.nodes[i].created_age.min(self.profiles[p].created_age);
            let age = self.age_between(0, newest);
            let row = [
                self.profiles[p].id.clone().into(),
                self.nodes[i].id.clone().into(),
                self.ts(age),
            ];
            self.out.push(Table::UserProfileNodes, row)?;
        }
        self.out.flush_all()
    }

    /// Routes with path nodes, observers, today's result and a daily history. Each route gets
    /// a [`Target`]; [`Gen::raw_packets`] then generates packets whose hops match it that
    /// well, so a live evaluation agrees with the stored result.
    fn routes(&mut self) -> Result<(), Stopped> {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let anchor_date = self.anchor.date();
        for r in 0..self.plan.routes {
            let (from, to) = loop {
                let from = self.below(PLACES.len());
                let to = self.below(PLACES.len());
                if from != to && !pairs.contains(&(from, to)) {
                    break (from, to);
                }
            };
            pairs.push((from, to));
            // The first routes pin down each case the routes pages distinguish.
            let (visibility, enabled, has_result, target) = match r {
                0 => ("community", true, true, Target::Clear),
                1 => ("community", false, true, Target::Clear),
                2 => ("community", true, false, Target::NoCoverage),
                3 => ("operator", true, true, Target::Failing),
                4 => ("member", true, true, Target::Clear),
                5 => ("admin", true, true, Target::Marginal),
                6 => ("community", true, true, Target::Failing),
                7 => ("community", true, true, Target::Marginal),
                8 => ("community", true, true, Target::NoCoverage),
                _ => {
                    let visibility = ["community", "member", "operator", "admin"]
                        [self.weighted([60, 15, 15, 10])];
                    let target = Target::ALL[self.weighted([45, 20, 20, 15])];
                    (visibility, self.chance(0.85), self.chance(0.9), target)
                }
            };
            let id = self.uuid();
            let match_width = self.rng.random_range(1..4usize);
            let window_hours = self.pick(&[24i64, 48, 72]);
            let threshold = self.rng.random_range(2..7);
            let clear = if self.chance(0.7) {
                Some(threshold * 2)
            } else {
                None
            };
            let effective_clear = clear.unwrap_or(3 * threshold);
            let max_hop_span = if self.chance(0.6) { Some(8) } else { None };
            let max_path_length = if self.chance(0.3) { Some(10) } else { None };
            let reversible = self.chance(0.7);
            let created_age = self.age_between(WINDOW_DAYS * DAY + DAY, 150 * DAY);
            let description = if self.chance(0.6) {
                Some(format!("Link between {} and {}", PLACES[from], PLACES[to]))
            } else {
                None
            };
            let created_by = if self.chance(0.7) {
                let p = self.below(self.profiles.len().max(1));
                self.profiles.get(p).map(|p| p.user_id.clone())
            } else {
                None
            };
            let row = [
                id.clone().into(),
                format!("{} Site", PLACES[from]).into(),
                format!("{} Site", PLACES[to]).into(),
                Value::String(description),
                visibility.into(),
                Value::Int(Some(match_width as i32)),
                Value::Int(Some(window_hours as i32)),
                Value::Int(Some(threshold)),
                Value::Int(clear),
                Value::Int(max_hop_span),
                Value::Bool(Some(enabled)),
                Value::Bool(Some(reversible)),
                Value::Int(max_path_length),
                Value::String(created_by),
                self.ts(created_age),
                self.ts(created_age / 2),
            ];
            self.out.push(Table::Routes, row)?;
            self.out.flush(Table::Routes)?;

            let reserve = matches!(target, Target::Marginal | Target::Failing);
            let path = self.route_path(match_width, reserve);
            let expected: Vec<String> = path
                .iter()
                .map(|&n| self.nodes[n].hop_hash(match_width).to_string())
                .collect();
            for (position, (&n, hash)) in path.iter().zip(&expected).enumerate() {
                let row = [
                    self.uuid().into(),
                    self.ts(created_age),
                    self.ts(created_age),
                    id.clone().into(),
                    self.nodes[n].id.clone().into(),
                    Value::Int(Some(position as i32)),
                    hash.clone().into(),
                ];
                self.out.push(Table::RouteNodes, row)?;
            }
            // A route without coverage is watched only by the observer that heard nothing
            // lately; a third of the others by one or two of the rest.
            let observers = match self.silent_observer {
                Some(silent) if target == Target::NoCoverage => vec![silent],
                silent if self.rng.random_bool(0.35) => {
                    let mut chosen = Vec::new();
                    for _ in 0..self.rng.random_range(1..3) {
                        let o = self.observer();
                        if Some(o) != silent && !chosen.contains(&o) {
                            chosen.push(o);
                        }
                    }
                    chosen
                }
                _ => Vec::new(),
            };
            for &o in &observers {
                let row = [
                    self.uuid().into(),
                    self.ts(created_age),
                    self.ts(created_age),
                    id.clone().into(),
                    self.nodes[o].id.clone().into(),
                ];
                self.out.push(Table::RouteObservers, row)?;
            }

            // Daily history for the whole window and today, a few days missing.
            let today_matched = self.matched_count(target, threshold, effective_clear);
            let mut evaluated_today = 0;
            for d in (0..=WINDOW_DAYS).rev() {
                if d > 0 && self.chance(0.08) {
                    continue;
                }
                let (day_target, matched) = if d == 0 {
                    (target, today_matched)
                } else {
                    let day_target = if self.chance(0.75) {
                        target
                    } else {
                        self.pick(&Target::ALL)
                    };
                    let matched = self.matched_count(day_target, threshold, effective_clear);
                    (day_target, matched)
                };
                let date = anchor_date - Duration::days(d);
                // evaluated late on past days, a few minutes ago today
                let evaluated_age = if d == 0 {
                    self.age_between(0, 10 * MINUTE)
                } else {
                    let midnight_age = (self.anchor - date.and_hms_opt(0, 0, 0).expect("time"))
                        .num_microseconds()
                        .expect("µs");
                    midnight_age - (23 * HOUR + self.age_between(0, 59 * MINUTE))
                };
                if d == 0 {
                    evaluated_today = evaluated_age;
                }
                let row = [
                    self.uuid().into(),
                    id.clone().into(),
                    self.date(date),
                    day_target.quality().into(),
                    day_target.state().into(),
                    Value::Int(Some(matched as i32)),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                ];
                self.out.push(Table::RouteResultHistory, row)?;
            }
            if has_result {
                let quality = target.quality();
                let quality_avg = if self.chance(0.7) {
                    Some(quality.to_string())
                } else {
                    None
                };
                let row = [
                    self.uuid().into(),
                    id.clone().into(),
                    target.state().into(),
                    quality.into(),
                    Value::Int(Some(today_matched as i32)),
                    Value::Int(Some(threshold)),
                    Value::Int(Some(effective_clear)),
                    self.ts(evaluated_today),
                    Value::String(quality_avg),
                    self.ts(created_age),
                    self.ts(evaluated_today),
                ];
                self.out.push(Table::RouteResults, row)?;
            }
            let (full_matches, partial_matches) = match target {
                // a few beyond the bar: the evaluator stops counting there
                Target::Clear => (effective_clear as usize + 2, 0),
                Target::Marginal => (today_matched, 1),
                Target::Failing => (today_matched, 3),
                Target::NoCoverage => (0, 0),
            };
            self.routes.push(RoutePlan {
                id,
                expected,
                path,
                window_hours,
                reversible,
                max_hop_span,
                max_path_length,
                observers,
                full_matches,
                partial_matches,
                has_result,
                evaluated_age: evaluated_today,
                matches: Vec::new(),
            });
        }
        self.out.flush_all()
    }

    /// A node for a path: a repeater most of the time.
    fn relay_or_any(&mut self) -> usize {
        if self.chance(0.85) {
            let i = self.below(self.relays.len());
            self.relays[i]
        } else {
            self.below(self.nodes.len())
        }
    }

    /// Whether a hop naming node `n` could stand for a reserved expected hash.
    fn is_reserved(&self, n: usize) -> bool {
        self.reserved
            .iter()
            .any(|e| self.nodes[n].hash.starts_with(e.as_str()))
    }

    /// 2 to 4 distinct path nodes, mostly repeaters, with distinct expected hashes at `width`.
    ///
    /// With `reserve`, the second node's expected hash is kept out of every other path and
    /// of random hops (see `Gen::reserved`), so only the packets generated for this route
    /// match it and its evaluation comes out as planned.
    fn route_path(&mut self, width: usize, reserve: bool) -> Vec<usize> {
        let len = [2, 3, 4][self.weighted([50, 35, 15])];
        let mut path: Vec<usize> = Vec::with_capacity(len);
        let mut attempts = 0;
        while path.len() < len && attempts < 10_000 {
            attempts += 1;
            let n = self.relay_or_any();
            if self.is_reserved(n) {
                continue;
            }
            let hash = self.nodes[n].hop_hash(width);
            if path.iter().any(|&p| self.nodes[p].hop_hash(width) == hash) {
                continue;
            }
            let used_elsewhere = || {
                self.routes
                    .iter()
                    .flat_map(|r| &r.path)
                    .any(|&m| self.nodes[m].hash.starts_with(hash))
            };
            if reserve && path.len() == 1 && used_elsewhere() {
                continue;
            }
            path.push(n);
        }
        if reserve && let Some(&second) = path.get(1) {
            let hash = self.nodes[second].hop_hash(width).to_string();
            self.reserved.push(hash);
        }
        path
    }

    /// The matched packet count a result of `target` reports.
    fn matched_count(&mut self, target: Target, threshold: i32, effective_clear: i32) -> usize {
        let n = match target {
            Target::Clear => effective_clear,
            Target::Marginal => self.rng.random_range(threshold..effective_clear),
            Target::Failing => self.rng.random_range(0..threshold),
            Target::NoCoverage => 0,
        };
        n as usize
    }

    /// A node heard at `age` (created before, last seen after), preferring ones `fit` accepts;
    /// an observer (always on) when a few draws find none.
    fn alive_node(&mut self, age: i64, fit: fn(&Node) -> bool) -> usize {
        let known = self.nodes.partition_point(|n| n.created_age >= age).max(1);
        for _ in 0..16 {
            let i = self.below(known);
            let node = &self.nodes[i];
            if node.last_age <= age && fit(node) {
                return i;
            }
        }
        let o = self.below(self.observers.len());
        self.observers[o]
    }

    fn observer(&mut self) -> usize {
        let o = self.below(self.observers.len());
        self.observers[o]
    }

    /// How events are observed, drawn for all events up front so that their ids and hashes
    /// can be drawn sorted: `None` for an event without event hash (2%), else the number of
    /// observers besides the primary one (up to three).
    fn observations(&mut self, events: usize) -> Vec<Option<usize>> {
        let most = self.observers.len() - 1;
        (0..events)
            .map(|_| {
                self.chance(0.98)
                    .then(|| [0, 1, 2, 3][self.weighted([50, 30, 15, 5])].min(most))
            })
            .collect()
    }

    /// event_observers rows for one event: the primary observer first, then `extra` others
    /// hearing it a little later over longer paths.
    #[allow(clippy::too_many_arguments)] // one call per event kind; a struct would only rename them
    fn observe(
        &mut self,
        event_type: &'static str,
        event_hash: &str,
        primary: usize,
        age: i64,
        path_len: i32,
        extra: usize,
        ids: &mut std::vec::IntoIter<String>,
    ) -> Result<(), Stopped> {
        let mut seen = vec![primary];
        let mut observed_age = age;
        for k in 0..=extra {
            let o = if k == 0 {
                primary
            } else {
                loop {
                    let o = self.observer();
                    if !seen.contains(&o) {
                        seen.push(o);
                        break o;
                    }
                }
            };
            if k > 0 {
                observed_age = (observed_age - self.age_between(100_000, 3_000_000)).max(0);
            }
            let snr = self.snr();
            let row = [
                ids.next().expect("an id per observation").into(),
                event_type.into(),
                event_hash.into(),
                self.nodes[o].id.clone().into(),
                Value::Double(Some(snr)),
                Value::Int(Some(path_len + k as i32)),
                self.ts(observed_age),
                self.ts(observed_age),
                self.ts(observed_age),
            ];
            self.out.push(Table::EventObservers, row)?;
        }
        Ok(())
    }

    fn route_type(&mut self) -> Option<&'static str> {
        ROUTE_TYPES[self.weighted(ROUTE_TYPES.iter().map(|r| r.1))].0
    }

    fn advertisements(&mut self) -> Result<(), Stopped> {
        let ages = self.event_ages(self.plan.adverts);
        let observations = self.observations(ages.len());
        let mut ids = self.sorted_uuids(ages.len());
        let mut hashes = self.sorted_hex(observations.iter().flatten().count(), 16);
        let mut observer_ids =
            self.sorted_uuids(observations.iter().flatten().map(|e| e + 1).sum());
        for (age, observed) in ages.into_iter().zip(observations) {
            let n = self.alive_node(age, |_| true);
            let observer = self.observer();
            // 1% come from nodes the hub never stored (node_id NULL)
            let (node_id, public_key) = if self.chance(0.01) {
                (None, self.hex(32))
            } else {
                (
                    Some(self.nodes[n].id.clone()),
                    self.nodes[n].public_key.clone(),
                )
            };
            let name = if self.chance(0.03) {
                Some(self.node_name(self.nodes[n].adv_type))
            } else {
                self.nodes[n].name.clone()
            };
            let adv_type = if self.chance(0.05) {
                None
            } else {
                self.nodes[n].adv_type
            };
            let event_hash = observed.map(|_| hashes.next().expect("a hash per event"));
            let route_type = self.route_type();
            let advert_timestamp = if self.chance(0.9) {
                {
                    let earlier = age + self.age_between(0, 30_000_000);
                    self.ts(earlier)
                }
            } else {
                self.null_ts()
            };
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let flags = Value::Int(Some(self.rng.random_range(0..16)));
            let row = [
                ids.next().expect("an id per advert").into(),
                self.nodes[observer].id.clone().into(),
                Value::String(node_id),
                public_key.into(),
                Value::String(name),
                Value::String(adv_type.map(str::to_string)),
                flags,
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event_hash.clone()),
                Value::String(route_type.map(str::to_string)),
                advert_timestamp,
                Value::String(Some(self.hex(16))),
            ];
            self.out.push(Table::Advertisements, row)?;
            if let (Some(hash), Some(extra)) = (event_hash, observed) {
                let path_len = self.rng.random_range(0..7);
                self.observe(
                    "advertisement",
                    &hash,
                    observer,
                    age,
                    path_len,
                    extra,
                    &mut observer_ids,
                )?;
            }
        }
        self.out.flush_all()
    }

    /// Message weights per channel index: Public (17) busiest, then community channels,
    /// fewer on restricted ones, a few orphans and a few without an index.
    fn channel_slots(&self, orphans: &[i32]) -> Vec<ChannelSlot> {
        let mut slots = vec![ChannelSlot {
            idx: Some(hub_core::roles::PUBLIC_CHANNEL_IDX),
            weight: 350,
        }];
        for &(idx, visibility) in &self.channels {
            let weight = match visibility {
                "community" => 100,
                "member" => 60,
                "operator" => 45,
                _ => 60,
            };
            slots.push(ChannelSlot {
                idx: Some(idx),
                weight,
            });
        }
        for &idx in orphans {
            slots.push(ChannelSlot {
                idx: Some(idx),
                weight: 20,
            });
        }
        slots.push(ChannelSlot {
            idx: None,
            weight: 10,
        });
        slots
    }

    fn sentence(&mut self) -> String {
        let first = self.pick(PHRASES);
        if self.chance(0.25) {
            let second = self.pick(PHRASES);
            format!("{first} {second}")
        } else {
            first.to_string()
        }
    }

    fn messages(&mut self, orphans: &[i32]) -> Result<(), Stopped> {
        let slots = self.channel_slots(orphans);
        let ages = self.event_ages(self.plan.messages);
        let observations = self.observations(ages.len());
        let mut ids = self.sorted_uuids(ages.len());
        let mut hashes = self.sorted_hex(observations.iter().flatten().count(), 16);
        let mut observer_ids =
            self.sorted_uuids(observations.iter().flatten().map(|e| e + 1).sum());
        for (age, observed) in ages.into_iter().zip(observations) {
            // Repeaters and sensors do not chat.
            let sender = self.alive_node(age, |n| {
                !matches!(n.adv_type, Some("repeater") | Some("sensor"))
            });
            let observer = self.observer();
            let channel = self.chance(0.75);
            let spam = self.chance(0.04);
            let body = if spam {
                self.pick(SPAM).to_string()
            } else {
                self.sentence()
            };
            let (message_type, channel_idx, text, prefix, sender_normalized) = if channel {
                let slot = &slots[self.weighted(slots.iter().map(|s| s.weight))];
                let idx = slot.idx;
                let display = self.nodes[sender].display.clone();
                let prefix = self
                    .chance(0.5)
                    .then(|| self.nodes[sender].public_key[..12].to_string());
                (
                    "channel",
                    idx,
                    format!("{display}: {body}"),
                    prefix,
                    Some(display.to_lowercase()),
                )
            } else {
                (
                    "contact",
                    None,
                    body,
                    // As a LetsMesh collector stores a sender prefix: 12 uppercase hex
                    // characters (channel messages keep the lowercase of a native one).
                    Some(self.nodes[sender].public_key[..12].to_ascii_uppercase()),
                    None,
                )
            };
            let spam_score = if spam {
                Some(self.rng.random_range(DEFAULT_SPAM_SCORE_THRESHOLD..0.99))
            } else if self.chance(0.6) {
                Some((self.rng.random_range(0.0..0.4_f64) * 1000.0).round() / 1000.0)
            } else {
                None
            };
            let path_len = self.rng.random_range(0..7);
            let path_prefix = if path_len > 0 && self.chance(0.8) {
                Some(self.hex(path_len as usize))
            } else {
                None
            };
            let txt_type = [Some(0), Some(1), None][self.weighted([85, 5, 10])];
            let signature = if message_type == "contact" && self.chance(0.3) {
                Some(self.hex(4))
            } else {
                None
            };
            let sender_timestamp = if self.chance(0.9) {
                {
                    let earlier = age + self.age_between(0, 20_000_000);
                    self.ts(earlier)
                }
            } else {
                self.null_ts()
            };
            let event_hash = observed.map(|_| hashes.next().expect("a hash per event"));
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let snr = self.snr();
            let row = [
                ids.next().expect("an id per message").into(),
                self.nodes[observer].id.clone().into(),
                message_type.into(),
                Value::String(prefix),
                Value::Int(channel_idx),
                text.into(),
                Value::Int(Some(path_len)),
                Value::Int(txt_type),
                Value::String(signature),
                Value::Double(Some(snr)),
                sender_timestamp,
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event_hash.clone()),
                Value::String(Some(self.hex(16))),
                Value::String(path_prefix),
                Value::String(sender_normalized),
                Value::Double(spam_score),
            ];
            self.out.push(Table::Messages, row)?;
            if let (Some(hash), Some(extra)) = (event_hash, observed) {
                self.observe(
                    "message",
                    &hash,
                    observer,
                    age,
                    path_len,
                    extra,
                    &mut observer_ids,
                )?;
            }
        }
        self.out.flush_all()
    }

    /// An observer that may have heard a packet `age` ago (the silent one heard nothing in
    /// the last [`SILENT_DAYS`]).
    fn recent_observer(&mut self, age: i64) -> usize {
        loop {
            let o = self.observer();
            if Some(o) != self.silent_observer || age >= SILENT_DAYS * DAY {
                return o;
            }
        }
    }

    /// A random path hop of `bytes`-byte hashes, naming a repeater most of the time and never
    /// a reserved expected hash.
    fn random_hop(&mut self, bytes: usize) -> String {
        let n = loop {
            let n = self.relay_or_any();
            if !self.blocked[n] {
                break n;
            }
        };
        self.nodes[n].hop_hash(bytes).to_string()
    }

    /// One packet heard by up to four observers (the first one given or drawn), each over a
    /// path of its own, a little later each.
    fn transmission(
        &mut self,
        age: i64,
        path_hash_bytes: Option<i32>,
        room: usize,
        first: Option<usize>,
    ) -> Transmission {
        let event = self.weighted(EVENT_TYPES.iter().map(|e| e.1));
        let most = self.observers.len().saturating_sub(1).max(1);
        let count = [1, 2, 3, 4][self.weighted([45, 30, 15, 10])]
            .min(room)
            .min(most);
        let mut receptions: Vec<Reception> = Vec::with_capacity(count);
        let mut heard_age = age;
        for k in 0..count {
            if k > 0 {
                heard_age = (heard_age - self.age_between(100_000, 3_000_000)).max(0);
            }
            let observer = match first {
                Some(o) if k == 0 => o,
                _ => loop {
                    let o = self.recent_observer(heard_age);
                    if !receptions.iter().any(|r| r.observer == o) && Some(o) != first {
                        break o;
                    }
                },
            };
            let path_len = [0, 1, 2, 3, 4, 5, 6][self.weighted([15, 25, 25, 15, 10, 6, 4])];
            receptions.push(Reception {
                observer,
                age: heard_age,
                path_len,
                route_hops: None,
            });
        }
        Transmission {
            age,
            event,
            path_hash_bytes,
            receptions,
            route: None,
        }
    }

    /// Hops of a packet crossing route `r`: its whole path in order (reversed now and then
    /// when the route is reversible) with a few other relays around and between, or for a
    /// partial match only its first node.
    fn route_hops(&mut self, r: usize, bytes: usize, full: bool) -> Vec<String> {
        let mut path = self.routes[r].path.clone();
        if !full {
            path.truncate(1);
        } else if self.routes[r].reversible && self.chance(0.3) {
            path.reverse();
        }
        let mut hops = Vec::with_capacity(path.len() + 3);
        if self.chance(0.4) {
            hops.push(self.random_hop(bytes));
        }
        for (i, &n) in path.iter().enumerate() {
            if i > 0 && self.chance(0.25) {
                hops.push(self.random_hop(bytes));
            }
            hops.push(self.nodes[n].hop_hash(bytes).to_string());
        }
        if !full || self.chance(0.3) {
            hops.push(self.random_hop(bytes));
        }
        hops
    }

    /// Every packet to generate, oldest first: the ones crossing the routes (within each
    /// route's window, heard by one of its observers), then random traffic up to the planned
    /// number of rows.
    fn transmissions(&mut self) -> Vec<Transmission> {
        let total = self.plan.raw_packets;
        let mut out = Vec::new();
        let mut rows = 0;
        for r in 0..self.routes.len() {
            let (full, partial) = (self.routes[r].full_matches, self.routes[r].partial_matches);
            for k in 0..full + partial {
                if rows >= total {
                    break;
                }
                let is_full = k < full;
                let window = self.routes[r].window_hours * HOUR;
                let age = self.age_between(10 * MINUTE, window - 30 * MINUTE);
                let width = self.routes[r].expected[0].len() / 2;
                let bytes = self.rng.random_range(width..=3);
                let hops = self.route_hops(r, bytes, is_full);
                let first = if self.routes[r].observers.is_empty() {
                    self.recent_observer(age)
                } else {
                    let scope = &self.routes[r].observers;
                    scope[self.rng.random_range(0..scope.len())]
                };
                let mut t = self.transmission(age, Some(bytes as i32), total - rows, Some(first));
                t.receptions[0].path_len = hops.len();
                t.receptions[0].route_hops = Some(hops);
                t.route = Some((r, is_full));
                rows += t.receptions.len();
                out.push(t);
            }
        }
        while rows < total {
            let age = self.event_age();
            let bytes = [Some(1), Some(2), Some(3), None][self.weighted([70, 20, 8, 2])];
            let t = self.transmission(age, bytes, total - rows, None);
            rows += t.receptions.len();
            out.push(t);
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.age));
        out
    }

    /// `decoded` as the collector stores it: the JSON text `null` when decoding failed, SQL
    /// NULL for older rows, else an object; channel and direct messages carry `"decrypted"`,
    /// an object when the hub holds the channel's key, `null` otherwise.
    fn decoded(
        &mut self,
        event: usize,
        route_type: Option<&str>,
        packet_hash: &str,
        channel_idx: Option<i32>,
        source: Option<usize>,
        age: i64,
    ) -> Value {
        let (event_type, _, _, payload_type) = EVENT_TYPES[event];
        let roll = self.below(100);
        if roll < 7 {
            return Value::Json(None);
        }
        if roll < 10 {
            return self.json(serde_json::Value::Null);
        }
        let mut object = serde_json::Map::new();
        object.insert("packet_hash".into(), packet_hash.into());
        object.insert("payload_type".into(), payload_type.into());
        object.insert(
            "route_type".into(),
            route_type.map_or(serde_json::Value::Null, Into::into),
        );
        let sent_age = age + self.age_between(0, 20_000_000);
        let sent = self.at(sent_age).and_utc().timestamp();
        match event_type {
            Some("channel_msg_recv") => {
                object.insert(
                    "channel_hash".into(),
                    channel_idx.map_or(serde_json::Value::Null, |i| format!("{i:02X}").into()),
                );
                let known = channel_idx.is_some_and(|idx| {
                    idx == hub_core::roles::PUBLIC_CHANNEL_IDX
                        || self.channels.iter().any(|c| c.0 == idx)
                });
                let decrypted = if known {
                    let n = source.unwrap_or_else(|| self.below(self.nodes.len()));
                    let sender = self.nodes[n].display.clone();
                    let text = self.sentence();
                    serde_json::json!({
                        "channel_idx": channel_idx,
                        "sender": sender,
                        "text": format!("{sender}: {text}"),
                        "timestamp": sent,
                    })
                } else {
                    serde_json::Value::Null
                };
                object.insert("decrypted".into(), decrypted);
            }
            Some("contact_msg_recv") => {
                object.insert("decrypted".into(), serde_json::Value::Null);
            }
            Some("advertisement") => {
                if let Some(n) = source {
                    let node = &self.nodes[n];
                    object.insert(
                        "advert".into(),
                        serde_json::json!({
                            "public_key": node.public_key,
                            "name": node.name,
                            "adv_type": node.adv_type,
                            "timestamp": sent,
                        }),
                    );
                }
            }
            _ => {}
        }
        self.json(serde_json::Value::Object(object))
    }

    fn raw_packets(&mut self, orphans: &[i32]) -> Result<(), Stopped> {
        let slots = self.channel_slots(orphans);
        self.blocked = (0..self.nodes.len()).map(|n| self.is_reserved(n)).collect();
        let transmissions = self.transmissions();
        let rows = transmissions.iter().map(|t| t.receptions.len()).sum();
        let hop_age = self.plan.hop_days.map_or(i64::MAX, |days| days * DAY);
        let hop_rows = transmissions
            .iter()
            .filter(|t| t.path_hash_bytes.is_some())
            .flat_map(|t| &t.receptions)
            .filter(|r| r.age < hop_age)
            .map(|r| r.path_len)
            .sum();
        let mut ids = self.sorted_uuids(rows);
        let mut hop_ids = self.sorted_uuids(hop_rows);
        for t in transmissions {
            let (event_type, _, packet_type, payload_type) = EVENT_TYPES[t.event];
            let channel_idx = if event_type == Some("channel_msg_recv") {
                slots[self.weighted(slots.iter().map(|s| s.weight))].idx
            } else {
                None
            };
            let source_node = if matches!(
                event_type,
                Some("advertisement") | Some("contact_msg_recv") | Some("telemetry_response")
            ) {
                Some(self.alive_node(t.age, |_| true))
            } else {
                None
            };
            // The collector stores a packet's sender prefix as 12 uppercase hex characters.
            let source = source_node.map(|n| self.nodes[n].public_key[..12].to_ascii_uppercase());
            let route_type = self.route_type();
            let raw_len = self.rng.random_range(8..25);
            let raw_hex = self.hex(raw_len);
            let packet_hash = self.hex(16);
            let event_hash = if event_type.is_some() && self.chance(0.6) {
                Some(self.hex(16))
            } else {
                None
            };
            let decoded = self.decoded(
                t.event,
                route_type,
                &packet_hash,
                channel_idx,
                source_node,
                t.age,
            );
            for (k, reception) in t.receptions.into_iter().enumerate() {
                let id = ids.next().expect("an id per packet");
                let at = self.ts(reception.age);
                let hops = match (t.path_hash_bytes, reception.route_hops) {
                    _ if reception.age >= hop_age => Vec::new(),
                    (Some(_), Some(hops)) => hops,
                    (Some(bytes), None) => (0..reception.path_len)
                        .map(|_| self.random_hop(bytes as usize))
                        .collect(),
                    (None, _) => Vec::new(),
                };
                let snr = self.snr();
                let observer_id = self.nodes[reception.observer].id.clone();
                let row = [
                    id.clone().into(),
                    observer_id.clone().into(),
                    packet_hash.clone().into(),
                    raw_hex.clone().into(),
                    Value::Int(Some(packet_type)),
                    Value::Int(Some(payload_type)),
                    Value::String(event_type.map(str::to_string)),
                    Value::Int(channel_idx),
                    Value::String(source.clone()),
                    Value::String(route_type.map(str::to_string)),
                    Value::Int(Some(reception.path_len as i32)),
                    Value::Double(Some(snr)),
                    decoded.clone(),
                    at.clone(),
                    at.clone(),
                    at.clone(),
                    Value::Int(t.path_hash_bytes),
                    Value::String(event_hash.clone()),
                ];
                self.out.push(Table::RawPackets, row)?;
                if let Some((r, true)) = t.route
                    && k == 0
                {
                    let route = &self.routes[r];
                    let span = match_span(
                        &hops,
                        &route.expected,
                        route.reversible,
                        route.max_hop_span,
                        route.max_path_length,
                    );
                    if let Some((first, last)) = span {
                        self.routes[r].matches.push((
                            reception.age,
                            id.clone(),
                            first as i32,
                            last as i32,
                        ));
                    }
                }
                for (position, hash) in hops.into_iter().enumerate() {
                    let row = [
                        hop_ids.next().expect("an id per hop").into(),
                        at.clone(),
                        at.clone(),
                        id.clone().into(),
                        Value::Int(Some(position as i32)),
                        hash.into(),
                        packet_hash.clone().into(),
                        Value::String(event_hash.clone()),
                        at.clone(),
                        observer_id.clone().into(),
                    ];
                    self.out.push(Table::PacketPathHops, row)?;
                }
            }
        }
        self.out.flush_all()
    }

    /// Up to three matches per route with a result, newest first, as the evaluator persists
    /// them.
    fn recent_matches(&mut self) -> Result<(), Stopped> {
        for r in 0..self.routes.len() {
            if !self.routes[r].has_result {
                continue;
            }
            let mut matches = std::mem::take(&mut self.routes[r].matches);
            matches.sort_by_key(|m| m.0);
            let evaluated_age = self.routes[r].evaluated_age;
            for (_, raw_packet_id, first, last) in matches.into_iter().take(3) {
                let row = [
                    self.uuid().into(),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                    self.routes[r].id.clone().into(),
                    raw_packet_id.into(),
                    Value::Int(Some(first)),
                    Value::Int(Some(last)),
                ];
                self.out.push(Table::RouteRecentMatches, row)?;
            }
        }
        self.out.flush_all()
    }

    /// What a node's telemetry decodes to: environment readings for sensors, power for the
    /// rest; with the Cayenne LPP bytes they came from.
    fn telemetry_data(&mut self, node: usize) -> (serde_json::Value, Vec<u8>) {
        let battery = (self.rng.random_range(3.3..4.2_f64) * 100.0).round() / 100.0;
        let mut lpp = Vec::new();
        let mut data = serde_json::Map::new();
        if self.nodes[node].adv_type == Some("sensor") || self.chance(0.2) {
            let temperature = (self.rng.random_range(-5.0..32.0_f64) * 10.0).round() / 10.0;
            let humidity = (self.rng.random_range(20.0..95.0_f64) * 2.0).round() / 2.0;
            lpp.extend([1, 0x67]);
            lpp.extend(((temperature * 10.0) as i16).to_be_bytes());
            lpp.extend([2, 0x68, (humidity * 2.0) as u8]);
            data.insert("temperature".into(), temperature.into());
            data.insert("humidity".into(), humidity.into());
            if self.chance(0.5) {
                let pressure = (self.rng.random_range(980.0..1040.0_f64) * 10.0).round() / 10.0;
                lpp.extend([3, 0x73]);
                lpp.extend(((pressure * 10.0) as u16).to_be_bytes());
                data.insert("pressure".into(), pressure.into());
            }
        }
        lpp.extend([4, 0x02]);
        lpp.extend(((battery * 100.0) as i16).to_be_bytes());
        data.insert("battery".into(), battery.into());
        if self.chance(0.3) {
            let uptime = self.rng.random_range(60..3_000_000_i64);
            data.insert("uptime".into(), uptime.into());
        }
        (serde_json::Value::Object(data), lpp)
    }

    fn telemetry(&mut self) -> Result<(), Stopped> {
        let ages = self.event_ages(self.plan.telemetry);
        let observations = self.observations(ages.len());
        let mut ids = self.sorted_uuids(ages.len());
        let mut hashes = self.sorted_hex(observations.iter().flatten().count(), 16);
        let mut observer_ids =
            self.sorted_uuids(observations.iter().flatten().map(|e| e + 1).sum());
        for (age, observed) in ages.into_iter().zip(observations) {
            let n = self.alive_node(age, |n| {
                matches!(n.adv_type, Some("sensor") | Some("repeater"))
            });
            let observer = self.observer();
            // 3% from nodes the hub has not stored (node_id NULL)
            let node_id = self.chance(0.97).then(|| self.nodes[n].id.clone());
            let (data, lpp) = self.telemetry_data(n);
            let parsed = if self.chance(0.96) {
                self.json(data)
            } else {
                Value::Json(None)
            };
            let lpp = self.chance(0.8).then_some(lpp);
            let event_hash = observed.map(|_| hashes.next().expect("a hash per event"));
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let row = [
                ids.next().expect("an id per record").into(),
                self.nodes[observer].id.clone().into(),
                Value::String(node_id),
                self.nodes[n].public_key.clone().into(),
                Value::Bytes(lpp),
                parsed,
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event_hash.clone()),
            ];
            self.out.push(Table::Telemetry, row)?;
            if let (Some(hash), Some(extra)) = (event_hash, observed) {
                let path_len = self.rng.random_range(0..5);
                self.observe(
                    "telemetry",
                    &hash,
                    observer,
                    age,
                    path_len,
                    extra,
                    &mut observer_ids,
                )?;
            }
        }
        self.out.flush_all()
    }

    fn trace_paths(&mut self) -> Result<(), Stopped> {
        let ages = self.event_ages(self.plan.trace_paths);
        let observations = self.observations(ages.len());
        let mut ids = self.sorted_uuids(ages.len());
        let mut hashes = self.sorted_hex(observations.iter().flatten().count(), 16);
        let mut observer_ids =
            self.sorted_uuids(observations.iter().flatten().map(|e| e + 1).sum());
        for (age, observed) in ages.into_iter().zip(observations) {
            let observer = self.observer();
            // Tags are 32-bit on the radio; a few collectors stored them widened.
            let initiator_tag = if self.chance(0.05) {
                (1_i64 << 32) + self.rng.random_range(0..1_000_i64)
            } else {
                self.rng.random_range(0..=i64::from(u32::MAX))
            };
            let bytes = [1, 2, 3][self.weighted([75, 18, 7])];
            let hop_count = [1, 2, 3, 4, 5, 6][self.weighted([15, 25, 25, 15, 12, 8])];
            let hops: Vec<String> = (0..hop_count).map(|_| self.random_hop(bytes)).collect();
            // Some collectors stored whole SNRs as integers: served as floats all the same.
            let whole = self.chance(0.1);
            let snrs: Vec<serde_json::Value> = (0..hop_count)
                .map(|_| {
                    let snr = self.snr();
                    if whole {
                        (snr.round() as i64).into()
                    } else {
                        snr.into()
                    }
                })
                .collect();
            let known = self.chance(0.95);
            let (path_hashes, snr_values, hop_count) = if known {
                (
                    self.json(serde_json::Value::from(hops)),
                    self.json(serde_json::Value::Array(snrs)),
                    Some(hop_count),
                )
            } else {
                (Value::Json(None), Value::Json(None), None)
            };
            let event_hash = observed.map(|_| hashes.next().expect("a hash per event"));
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let row = [
                ids.next().expect("an id per trace").into(),
                self.nodes[observer].id.clone().into(),
                Value::BigInt(Some(initiator_tag)),
                Value::Int(hop_count.map(|h| h * bytes as i32)),
                Value::Int(Some(bytes as i32 - 1)),
                Value::Int(Some(self.rng.random_range(0..65_536))),
                path_hashes,
                snr_values,
                Value::Int(hop_count),
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event_hash.clone()),
            ];
            self.out.push(Table::TracePaths, row)?;
            if let (Some(hash), Some(extra)) = (event_hash, observed) {
                let path_len = hop_count.unwrap_or(0);
                self.observe(
                    "trace",
                    &hash,
                    observer,
                    age,
                    path_len,
                    extra,
                    &mut observer_ids,
                )?;
            }
        }
        self.out.flush_all()
    }
}

/// Where the route matcher (docs/contract/api-2.md §5.8) finds `expected` in `hops`: the greedy leftmost
/// subsequence, forwards, else backwards for a reversible route; `(first, last)` hop indices.
fn match_span(
    hops: &[String],
    expected: &[String],
    reversible: bool,
    max_hop_span: Option<i32>,
    max_path_length: Option<i32>,
) -> Option<(usize, usize)> {
    if max_path_length.is_some_and(|max| hops.len() > max.max(0) as usize) {
        return None;
    }
    let subsequence = |order: &mut dyn Iterator<Item = &String>| {
        let (mut at, mut first, mut last) = (0, None, 0);
        for e in order {
            let found = (at..hops.len()).find(|&i| hops[i].starts_with(e.as_str()))?;
            first.get_or_insert(found);
            last = found;
            at = found + 1;
        }
        let first = first?;
        if max_hop_span.is_some_and(|span| (last - first) as i64 > i64::from(span)) {
            return None;
        }
        Some((first, last))
    };
    subsequence(&mut expected.iter()).or_else(|| {
        (reversible && expected.len() > 1)
            .then(|| subsequence(&mut expected.iter().rev()))
            .flatten()
    })
}

/// One packet as sent, heard by one or more observers.
struct Transmission {
    age: i64,
    /// Index into [`EVENT_TYPES`].
    event: usize,
    path_hash_bytes: Option<i32>,
    receptions: Vec<Reception>,
    /// The route it was generated for, and whether it carries the whole route.
    route: Option<(usize, bool)>,
}

/// One observer's raw packet row of a transmission.
struct Reception {
    observer: usize,
    age: i64,
    /// Hops in its path (rows in packet_path_hops when the hash width is known).
    path_len: usize,
    /// The hops, when they were chosen to cross a route.
    route_hops: Option<Vec<String>>,
}
