//! `messages` (channel and contact, some spam) and the event_observers rows of the observers
//! that heard them.

use super::words::{PHRASES, SPAM};
use super::{Gen, Stopped};
use crate::seed::tables::Table;
use hub_core::settings::DEFAULT_SPAM_SCORE_THRESHOLD;
use rand::Rng;
use sea_orm::Value;

impl Gen {
    /// What someone writes: a phrase, now and then two.
    pub(super) fn sentence(&mut self) -> String {
        let first = self.pick(PHRASES);
        if self.chance(0.25) {
            let second = self.pick(PHRASES);
            format!("{first} {second}")
        } else {
            first.to_string()
        }
    }

    /// Channel and contact messages, spread over the channel indices as
    /// [`Gen::channel_slots`] weighs them.
    pub(super) fn messages(&mut self, orphans: &[i32]) -> Result<(), Stopped> {
        let slots = self.channel_slots(orphans);
        for event in self.events(self.plan.messages) {
            let age = event.age;
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
            let sender_timestamp = self.sent_at(age, 20_000_000);
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let snr = self.snr();
            let row = [
                event.id.clone().into(),
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
                Value::String(event.event_hash()),
                Value::String(Some(self.hex(16))),
                Value::String(path_prefix),
                Value::String(sender_normalized),
                Value::Double(spam_score),
            ];
            self.out.push(Table::Messages, row)?;
            if let Some(heard) = event.heard {
                self.observe("message", heard, observer, age, path_len)?;
            }
        }
        self.out.flush_all()
    }
}
