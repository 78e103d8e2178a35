//! Values as the database stores them, which differs between SQLite and PostgreSQL.

use super::Gen;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use sea_orm::{DbBackend, Value};

impl Gen {
    /// The time `age` microseconds before the anchor.
    pub(super) fn at(&self, age: i64) -> NaiveDateTime {
        self.anchor - Duration::microseconds(age.max(0))
    }

    /// A datetime as the database stores it: naive UTC text with six fraction digits on
    /// SQLite (what MeshCore Hub writes), a timestamp on PostgreSQL.
    pub(super) fn ts(&self, age: i64) -> Value {
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
    pub(super) fn null_ts(&self) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(None),
            _ => Value::ChronoDateTime(None),
        }
    }

    /// A date: text on SQLite, a date on PostgreSQL.
    pub(super) fn date(&self, date: NaiveDate) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(Some(date.format("%Y-%m-%d").to_string())),
            _ => Value::ChronoDate(Some(date)),
        }
    }

    /// A JSON column: text as Python's `json.dumps` writes it on SQLite (what MeshCore Hub
    /// stores), JSON on PostgreSQL.
    pub(super) fn json(&self, json: serde_json::Value) -> Value {
        match self.backend {
            DbBackend::Sqlite => Value::String(Some(crate::seed::pyjson::dumps(&json))),
            _ => Value::Json(Some(Box::new(json))),
        }
    }
}
