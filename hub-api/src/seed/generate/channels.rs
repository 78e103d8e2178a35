//! `channels` of every visibility level, and how messages spread over the channel indices.

use super::{DAY, Gen, Stopped, WINDOW_DAYS};
use crate::seed::tables::Table;
use rand::Rng;
use sea_orm::Value;

/// A channel index and the weight of messages on it.
pub(super) struct ChannelSlot {
    pub(super) idx: Option<i32>,
    pub(super) weight: u32,
}

impl Gen {
    /// Channels of every visibility level; returns two indices that get messages but have no
    /// channels row (hidden from everyone).
    pub(super) fn channels(&mut self) -> Result<Vec<i32>, Stopped> {
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

    /// Message weights per channel index: Public (17) busiest, then community channels,
    /// fewer on restricted ones, a few orphans and a few without an index.
    pub(super) fn channel_slots(&self, orphans: &[i32]) -> Vec<ChannelSlot> {
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
}
