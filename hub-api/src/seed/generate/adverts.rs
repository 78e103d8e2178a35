//! `advertisements` and the event_observers rows of the observers that heard them.

use super::{Gen, Stopped};
use crate::seed::tables::Table;
use rand::Rng;
use sea_orm::Value;

impl Gen {
    /// Advertisements of the nodes alive at the time, a few with another name or no type.
    pub(super) fn advertisements(&mut self) -> Result<(), Stopped> {
        for event in self.events(self.plan.adverts) {
            let age = event.age;
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
            let route_type = self.route_type();
            let advert_timestamp = self.sent_at(age, 30_000_000);
            let created_age = (age - self.age_between(0, 2_000_000)).max(0);
            let flags = Value::Int(Some(self.rng.random_range(0..16)));
            let row = [
                event.id.clone().into(),
                self.nodes[observer].id.clone().into(),
                Value::String(node_id),
                public_key.into(),
                Value::String(name),
                Value::String(adv_type.map(str::to_string)),
                flags,
                self.ts(age),
                self.ts(created_age),
                self.ts(created_age),
                Value::String(event.event_hash()),
                Value::String(route_type.map(str::to_string)),
                advert_timestamp,
                Value::String(Some(self.hex(16))),
            ];
            self.out.push(Table::Advertisements, row)?;
            if let Some(heard) = event.heard {
                let path_len = self.rng.random_range(0..7);
                self.observe("advertisement", heard, observer, age, path_len)?;
            }
        }
        self.out.flush_all()
    }
}
