//! `raw_packets` and their `packet_path_hops`: random traffic, and the packets that cross
//! each route as well as its planned result says.

use super::{DAY, Gen, HOUR, MINUTE, SILENT_DAYS, Stopped};
use crate::seed::tables::Table;
use hub_core::route_matching::{self, Hop};
use rand::Rng;
use sea_orm::Value;

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

impl Gen {
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
    pub(super) fn random_hop(&mut self, bytes: usize) -> String {
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
        } else if self.routes[r].rules.reversible && self.chance(0.3) {
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

    /// Raw packets, one row per observer that heard one, and the hops of their paths.
    pub(super) fn raw_packets(&mut self, orphans: &[i32]) -> Result<(), Stopped> {
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
                    // Where the evaluator finds the route in this packet (the fields it does not
                    // look at are left empty).
                    let path: Vec<Hop> = (0..)
                        .zip(&hops)
                        .map(|(position, hash)| Hop {
                            position,
                            node_hash: hash.clone(),
                            packet_hash: None,
                            event_hash: None,
                            received_at: self.at(reception.age),
                            observer_node_id: None,
                        })
                        .collect();
                    let route = &self.routes[r];
                    let span =
                        route_matching::match_with_reverse(&route.expected, &path, &route.rules);
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
