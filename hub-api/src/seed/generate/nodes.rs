//! `nodes` and `node_tags`, and how the other stages pick a node: alive at a time, a relay,
//! an observer.

use super::words::{AREAS, DEVICES, PEOPLE, PLACES, RELAY_KINDS, ROLE_TAGS};
use super::{DAY, Gen, HOUR, MINUTE, Stopped, WINDOW_DAYS};
use crate::seed::tables::Table;
use rand::Rng;
use sea_orm::Value;

/// A generated node, kept for the rows that reference it.
pub(super) struct Node {
    pub(super) id: String,
    pub(super) public_key: String,
    pub(super) name: Option<String>,
    /// What a person would call it: the `name` tag, else the name, else a key prefix.
    pub(super) display: String,
    pub(super) adv_type: Option<&'static str>,
    /// Age (µs before the anchor) of its first_seen / created_at.
    pub(super) created_age: i64,
    /// Age of its last_seen; the node is heard only between the two.
    last_age: i64,
    pub(super) observer: bool,
    /// The first three bytes of the public key as uppercase hex: a path hop names the node by
    /// the first 1, 2 or 3 bytes of it (2, 4 or 6 characters).
    pub(super) hash: String,
}

impl Node {
    /// The hop hash naming this node in a path of `bytes`-byte hashes.
    pub(super) fn hop_hash(&self, bytes: usize) -> &str {
        &self.hash[..2 * bytes]
    }
}

impl Gen {
    /// A name as people give their nodes of `adv_type`.
    pub(super) fn node_name(&mut self, adv_type: Option<&str>) -> String {
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

    /// The nodes, observers first drawn, then stored oldest first.
    pub(super) fn nodes(&mut self) -> Result<(), Stopped> {
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

    /// Tags of the nodes: friendly names, roles, descriptions, areas and elevations.
    pub(super) fn node_tags(&mut self) -> Result<(), Stopped> {
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

    /// A node for a path: a repeater most of the time.
    pub(super) fn relay_or_any(&mut self) -> usize {
        if self.chance(0.85) {
            let i = self.below(self.relays.len());
            self.relays[i]
        } else {
            self.below(self.nodes.len())
        }
    }

    /// A node heard at `age` (created before, last seen after), preferring ones `fit` accepts;
    /// an observer (always on) when a few draws find none.
    pub(super) fn alive_node(&mut self, age: i64, fit: fn(&Node) -> bool) -> usize {
        let known = self.nodes.partition_point(|n| n.created_age >= age).max(1);
        for _ in 0..16 {
            let i = self.below(known);
            let node = &self.nodes[i];
            if node.last_age <= age && fit(node) {
                return i;
            }
        }
        self.observer()
    }

    /// An observer, all equally likely.
    pub(super) fn observer(&mut self) -> usize {
        let o = self.below(self.observers.len());
        self.observers[o]
    }
}
