//! `trace_paths` and the event_observers rows of the observers that heard them.

use super::{Gen, Stopped};
use crate::seed::tables::Table;
use rand::Rng;
use sea_orm::Value;

impl Gen {
    /// Trace paths over random hops, with the SNR of each.
    pub(super) fn trace_paths(&mut self) -> Result<(), Stopped> {
        for event in self.events(self.plan.trace_paths) {
            let age = event.age;
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
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let row = [
                event.id.clone().into(),
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
                Value::String(event.event_hash()),
            ];
            self.out.push(Table::TracePaths, row)?;
            if let Some(heard) = event.heard {
                let path_len = hop_count.unwrap_or(0);
                self.observe("trace", heard, observer, age, path_len)?;
            }
        }
        self.out.flush_all()
    }
}
