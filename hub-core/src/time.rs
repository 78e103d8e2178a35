//! Datetime formats of the API.
//!
//! The database holds naive UTC (`YYYY-MM-DD HH:MM:SS[.ffffff]`); the API speaks RFC 3339 in
//! UTC. Fractions follow Python's `isoformat`: six digits when there is a fraction, none
//! otherwise, so responses match MeshCore Hub's byte for byte.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Formats a naive UTC datetime as RFC 3339 with a `Z` suffix.
///
/// ```
/// use chrono::NaiveDate;
/// let dt = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap().and_hms_micro_opt(5, 0, 0, 123456).unwrap();
/// assert_eq!(hub_core::time::rfc3339(dt), "2026-11-26T05:00:00.123456Z");
/// ```
pub fn rfc3339(dt: impl Into<NaiveDateTime>) -> String {
    let dt: NaiveDateTime = dt.into();
    // Formatted from the fields rather than with a strftime pattern: list endpoints format
    // thousands of these per response, and pattern parsing showed up in profiles.
    let (date, time) = (dt.date(), dt.time());
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        date.month(),
        date.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    // chrono encodes a leap second as nanoseconds >= 1e9; only the fraction is printed.
    let nanos = time.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        text.push_str(&format!(".{:06}", nanos / 1000));
    }
    text.push('Z');
    text
}

/// [`rfc3339`] for an optional datetime.
pub fn rfc3339_opt<T: Into<NaiveDateTime>>(dt: Option<T>) -> Option<String> {
    dt.map(rfc3339)
}

/// `at` as a value to store in, or compare with, a datetime column: on SQLite MeshCore Hub's
/// text form `YYYY-MM-DD HH:MM:SS.ffffff` with always six fraction digits (sqlx's own
/// encoding drops trailing zero groups, which would sort differently), on PostgreSQL the
/// naive datetime (converted by the session time zone, which is UTC).
///
/// ```
/// use chrono::NaiveDate;
/// use hub_core::time::{Timestamp, db_time};
/// let at = Timestamp(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap().and_hms_opt(5, 0, 0).unwrap());
/// assert_eq!(
///     db_time(sea_orm::DbBackend::Sqlite, at),
///     sea_orm::Value::from("2026-11-26 05:00:00.000000")
/// );
/// ```
pub fn db_time(backend: sea_orm::DbBackend, at: Timestamp) -> sea_orm::Value {
    match backend {
        sea_orm::DbBackend::Sqlite => {
            sea_orm::Value::from(at.0.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        }
        _ => sea_orm::Value::from(at),
    }
}

/// A datetime column as the API reads it: naive UTC on either backend.
///
/// MeshCore Hub stores naive UTC text on SQLite but `timestamp with time zone` on PostgreSQL,
/// and sqlx refuses to decode a `TIMESTAMPTZ` into a `NaiveDateTime`. Entities use this type
/// so that one model reads both: a `TIMESTAMPTZ` is converted to UTC, a `TIMESTAMP` (a
/// database that an older hub created) and SQLite text are taken as UTC already. Written
/// values are naive, so SQLite keeps MeshCore Hub's text form and PostgreSQL converts them
/// with the session time zone, which `hub_core::db` pins to UTC.
///
/// ```
/// use chrono::NaiveDate;
/// use hub_core::time::{Timestamp, rfc3339};
/// let at = Timestamp(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap().and_hms_opt(5, 0, 0).unwrap());
/// assert_eq!(rfc3339(at), "2026-11-26T05:00:00Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub NaiveDateTime);

impl Timestamp {
    /// The current time to microseconds (as MeshCore Hub stores it).
    pub fn now() -> Timestamp {
        let now = now();
        Timestamp(
            now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
                .unwrap_or(now),
        )
    }
}

impl From<Timestamp> for NaiveDateTime {
    fn from(value: Timestamp) -> Self {
        value.0
    }
}

impl From<NaiveDateTime> for Timestamp {
    fn from(value: NaiveDateTime) -> Self {
        Timestamp(value)
    }
}

impl std::ops::Deref for Timestamp {
    type Target = NaiveDateTime;
    fn deref(&self) -> &NaiveDateTime {
        &self.0
    }
}

impl From<Timestamp> for sea_orm::Value {
    fn from(value: Timestamp) -> Self {
        sea_orm::Value::ChronoDateTime(Some(value.0))
    }
}

impl sea_orm::sea_query::Nullable for Timestamp {
    fn null() -> sea_orm::Value {
        sea_orm::Value::ChronoDateTime(None)
    }
}

impl sea_orm::sea_query::ValueType for Timestamp {
    fn try_from(v: sea_orm::Value) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
        match v {
            sea_orm::Value::ChronoDateTime(Some(dt)) => Ok(Timestamp(dt)),
            sea_orm::Value::ChronoDateTimeUtc(Some(dt)) => Ok(Timestamp(dt.naive_utc())),
            sea_orm::Value::ChronoDateTimeWithTimeZone(Some(dt)) => Ok(Timestamp(dt.naive_utc())),
            _ => Err(sea_orm::sea_query::ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Timestamp".to_string()
    }

    fn array_type() -> sea_orm::sea_query::ArrayType {
        sea_orm::sea_query::ArrayType::ChronoDateTime
    }

    fn column_type() -> sea_orm::sea_query::ColumnType {
        sea_orm::sea_query::ColumnType::DateTime
    }
}

impl sea_orm::TryGetable for Timestamp {
    fn try_get_by<I: sea_orm::ColIdx>(
        res: &sea_orm::QueryResult,
        index: I,
    ) -> Result<Self, sea_orm::TryGetError> {
        match NaiveDateTime::try_get_by(res, index) {
            Ok(dt) => Ok(Timestamp(dt)),
            // A type mismatch (TIMESTAMPTZ) is worth a second try; NULL is not.
            Err(sea_orm::TryGetError::DbErr(first)) => {
                chrono::DateTime::<chrono::Utc>::try_get_by(res, index)
                    .map(|dt| Timestamp(dt.naive_utc()))
                    .map_err(|_| sea_orm::TryGetError::DbErr(first))
            }
            Err(e) => Err(e),
        }
    }
}

impl sea_orm::IntoActiveValue<Timestamp> for Timestamp {
    fn into_active_value(self) -> sea_orm::ActiveValue<Timestamp> {
        sea_orm::ActiveValue::Set(self)
    }
}

/// Parses a datetime query parameter: RFC 3339 / ISO 8601 with or without an offset
/// (converted to UTC), `T` or space separated, with or without fraction, or a bare date
/// (midnight). Returns `None` when the text is none of these.
pub fn parse_datetime_param(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(dt.naive_utc());
    }
    // RFC 3339 with a space instead of `T`, as Python's `str(datetime)` prints it.
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1)) {
        return Some(dt.naive_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Some(dt);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN))
}

/// The current time as naive UTC, as the database stores it.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_isoformat() {
        let base = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        assert_eq!(
            rfc3339(base.and_hms_opt(3, 4, 5).unwrap()),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339(base.and_hms_micro_opt(3, 4, 5, 120).unwrap()),
            "2026-01-02T03:04:05.000120Z"
        );
        assert_eq!(
            rfc3339(base.and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap()),
            "2026-01-02T23:59:59.999999Z"
        );
    }

    #[test]
    fn parses_the_usual_forms() {
        let want = NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(5, 0, 0)
            .unwrap();
        for text in [
            "2026-11-26T05:00:00Z",
            "2026-11-26T05:00:00",
            "2026-11-26 05:00:00",
            "2026-11-26T06:00:00+01:00",
            "2026-11-26 06:00:00+01:00",
            "2026-11-26T05:00",
        ] {
            assert_eq!(parse_datetime_param(text), Some(want), "{text}");
        }
        assert_eq!(
            parse_datetime_param("2026-11-26"),
            Some(want.date().and_time(NaiveTime::MIN))
        );
        assert_eq!(parse_datetime_param("yesterday"), None);
        assert_eq!(parse_datetime_param("2026-13-01"), None);
    }
}
