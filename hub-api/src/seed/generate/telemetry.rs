//! `telemetry` (Cayenne LPP bytes and what they decode to) and the event_observers rows of
//! the observers that heard it.

use super::{Gen, Stopped};
use crate::seed::tables::Table;
use rand::Rng;
use sea_orm::Value;

impl Gen {
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

    /// Telemetry of sensors and repeaters (mostly).
    pub(super) fn telemetry(&mut self) -> Result<(), Stopped> {
        for event in self.events(self.plan.telemetry) {
            let age = event.age;
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
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let row = [
                event.id.clone().into(),
                self.nodes[observer].id.clone().into(),
                Value::String(node_id),
                self.nodes[n].public_key.clone().into(),
                Value::Bytes(lpp),
                parsed,
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event.event_hash()),
            ];
            self.out.push(Table::Telemetry, row)?;
            if let Some(heard) = event.heard {
                let path_len = self.rng.random_range(0..5);
                self.observe("telemetry", heard, observer, age, path_len)?;
            }
        }
        self.out.flush_all()
    }
}
