//! `user_profiles` with every role, and `user_profile_nodes` (adoptions).

use super::words::{PEOPLE, PLACES, SURNAMES};
use super::{DAY, Gen, Stopped};
use crate::seed::tables::Table;
use sea_orm::Value;

/// A generated profile, kept for its adoptions and the routes it created.
pub(super) struct Profile {
    id: String,
    pub(super) user_id: String,
    created_age: i64,
}

impl Gen {
    /// The profiles: the first ones hold every role, the rest draw theirs.
    pub(super) fn profiles(&mut self) -> Result<(), Stopped> {
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

    /// Who adopted which node: every observer and a quarter of the other nodes.
    pub(super) fn adoptions(&mut self) -> Result<(), Stopped> {
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
}
