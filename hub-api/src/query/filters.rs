//! WHERE conditions shared by the list endpoints and the dashboard.
//!
//! Each one is the single definition of a rule of the contract: which adverts count as
//! flooded, which messages a role may read, which rows an observer heard, what is spam.

use crate::params::{placeholders as backend_placeholders, sql};
use hub_core::entity::{advertisements, messages};
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
};
use std::collections::BTreeSet;

/// `+column IN (values)`: the same rows as `column IN (values)`, for SQLite only. The unary
/// `+` keeps SQLite's planner (which has no statistics on MeshCore Hub's tables) from reading
/// `column` through an index, or planning around it, when the query is a page read in time
/// order or a range of a day or two, and the values are a large share of the table: walking
/// `received_at` then stops after the page or the range.
pub fn unindexed_in<V: Into<sea_orm::Value>>(
    backend: DbBackend,
    column: &str,
    values: impl ExactSizeIterator<Item = V>,
) -> SimpleExpr {
    let list = vec!["?"; values.len()].join(", ");
    sql(backend, &format!("+{column} IN ({list})"), values)
}

/// Route types that count as flood, kept when `route_type` is absent and counted by the
/// dashboard: adverts of other route types (`direct`) were only heard by a direct neighbour.
/// A NULL route type (rows from before the column existed) counts as flood too.
pub const FLOOD_ROUTE_TYPES: [&str; 2] = ["flood", "transport_flood"];

/// Adverts whose route type is one of `types` or unknown (NULL).
///
/// Stored route types are lowercase; comparing the bare column (not `LOWER()`) lets the
/// `(route_type, received_at)` index serve the filter.
pub fn route_type_in<V: Into<sea_orm::Value>>(types: impl IntoIterator<Item = V>) -> Condition {
    Condition::any()
        .add(advertisements::Column::RouteType.is_in(types))
        .add(advertisements::Column::RouteType.is_null())
}

/// Flood-only adverts (see [`FLOOD_ROUTE_TYPES`]).
pub fn flood_only() -> Condition {
    route_type_in(FLOOD_ROUTE_TYPES)
}

/// [`route_type_in`] for a query that reads adverts newest first and stops after a few (a
/// page, the recent list). On SQLite the unary `+` keeps the planner off the
/// `(route_type, received_at)` index: through it, it loads and sorts every matching advert
/// (160,000 at `large`, 0.5 s) instead of walking `(received_at, id)` and stopping after the
/// page. PostgreSQL chooses from its statistics and gets the plain condition.
pub fn route_type_in_newest_first(backend: DbBackend, types: &[String]) -> Condition {
    if backend == DbBackend::Postgres {
        return route_type_in(types.iter().cloned());
    }
    let placeholders = vec!["?"; types.len()].join(", ");
    let any_of = if types.is_empty() {
        String::new()
    } else {
        format!("+advertisements.route_type IN ({placeholders}) OR ")
    };
    Condition::all().add(sql(
        backend,
        &format!("({any_of}+advertisements.route_type IS NULL)"),
        types.iter().cloned(),
    ))
}

/// [`flood_only`] for a query that reads adverts newest first (see
/// [`route_type_in_newest_first`]).
pub fn flood_only_newest_first(backend: DbBackend) -> Condition {
    let flood: Vec<String> = FLOOD_ROUTE_TYPES.iter().map(|t| t.to_string()).collect();
    route_type_in_newest_first(backend, &flood)
}

/// The spellings of a hex value as MeshCore Hub's collector may have stored it: lowercase
/// and uppercase, lowercase first; one when they agree (digits only).
///
/// The collector writes each hex column in one case, but not all in the same one (see
/// docs/contract/api-notes.md, "Hex columns"): LetsMesh sender prefixes and path hashes are
/// uppercase, node keys lowercase, and what it copies from a payload keeps that payload's
/// case. Built from the value in either case, the list (and so a condition's SQL and values,
/// which key the kept per-day counts) is the same whatever case the caller used.
///
/// ```
/// use hub_api::query::filters::hex_spellings;
/// assert_eq!(hex_spellings("aBc1"), ["abc1", "ABC1"]);
/// assert_eq!(hex_spellings("0123"), ["0123"]);
/// ```
pub fn hex_spellings(value: &str) -> Vec<String> {
    let lower = value.to_ascii_lowercase();
    let upper = value.to_ascii_uppercase();
    if lower == upper {
        vec![lower]
    } else {
        vec![lower, upper]
    }
}

/// `column` holds the hex `value` in lowercase or in uppercase ([`hex_spellings`]).
///
/// Written `column IN (lower, upper)`: two probes of the column's index on SQLite and
/// PostgreSQL alike, where `LOWER(column) = ?` would read every row. A stored value in mixed
/// case does not match; no writer of MeshCore Hub's schema stores one.
pub fn hex_equals(column: impl ColumnTrait, value: &str) -> SimpleExpr {
    column.is_in(hex_spellings(value))
}

/// The least string above every string that starts with `prefix` (non-empty ASCII hex):
/// `prefix` with its last character raised by one in the prefix's case, `9` becoming `a`
/// (`A`) and `f` becoming `g` (`G`). Only hex characters and `g` appear, so the bound holds
/// in byte order and in the linguistic collations PostgreSQL databases use (which ignore
/// punctuation such as the `:` that follows `9`).
fn hex_prefix_end(prefix: &str) -> String {
    let (head, last) = prefix.split_at(prefix.len() - 1);
    let next = match last.as_bytes()[0] {
        b'9' => b'a',
        b'0'..=b'8' | b'a'..=b'f' | b'A'..=b'F' => last.as_bytes()[0] + 1,
        other => other,
    };
    let next = if prefix.bytes().any(|b| b.is_ascii_uppercase()) {
        next.to_ascii_uppercase()
    } else {
        next
    };
    format!("{head}{}", next as char)
}

/// `column` (SQL) starts with the hex `prefix` in either case, read as two ranges of the
/// column's index (`column >= 'ab' AND column < 'ac'`, and the same in uppercase) where a
/// `LIKE` reads every row (SQLite's case-insensitive LIKE cannot use a case-sensitive index;
/// PostgreSQL's LIKE needs a C collation). A case-insensitive LIKE on the rows of those
/// ranges keeps the meaning exact whatever the collation. A `prefix` that is blank or not
/// hex is matched by that LIKE alone.
///
/// For `a9`: `((column >= 'a9' AND column < 'aa') OR (column >= 'A9' AND column < 'AA'))
/// AND column LIKE 'a9%'` (`LOWER(column) LIKE` on PostgreSQL).
pub fn hex_prefix(backend: DbBackend, column: &str, prefix: &str) -> SimpleExpr {
    let lower = prefix.to_ascii_lowercase();
    let like = crate::params::lower_like(backend, column);
    let pattern = crate::params::prefix_pattern(&lower);
    if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return sql(backend, &like, [pattern]);
    }
    let upper = prefix.to_ascii_uppercase();
    let range = format!("({column} >= ? AND {column} < ?)");
    sql(
        backend,
        &format!("({range} OR {range}) AND {like}"),
        [
            lower.clone(),
            hex_prefix_end(&lower),
            upper.clone(),
            hex_prefix_end(&upper),
            pattern,
        ],
    )
}

/// Messages a caller who may read the channel indices `visible` may see: every non-channel
/// message, channel messages without an index, and channel messages on a visible index.
///
/// `visible` comes from [`visible_channels`](super::lookups::visible_channels) and always
/// holds the Public channel (17), so the `IN` list is never empty.
pub fn visible_messages(visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(messages::Column::MessageType.ne("channel"))
        .add(messages::Column::ChannelIdx.is_null())
        .add(messages::Column::ChannelIdx.is_in(visible.iter().copied()))
}

/// Messages that are not spam at `threshold`: unscored ones, or scored below it.
pub fn not_spam(threshold: f64) -> Condition {
    Condition::any()
        .add(messages::Column::SpamScore.is_null())
        .add(messages::Column::SpamScore.lt(threshold))
}

/// How SQLite reads an `observed_by` filter (PostgreSQL plans from its statistics).
///
/// SQLite has no statistics on a MeshCore Hub database, so it always looks up each event the
/// observers heard and sorts what it found: right for a rare observer, but for one that heard
/// 11,000 of 500,000 messages a page costs 11,000 look-ups where walking the rows newest first
/// and keeping the observer's stops after about 2,300.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObserverPlan {
    /// Look up each of the observers' events (SQLite's own choice).
    ByEvent,
    /// Read rows in the query's own order (by time) and test each for the observers.
    InTimeOrder,
}

impl ObserverPlan {
    /// The plan for a page of `rows` (offset + limit) rows out of about `table_rows`, when
    /// the observers heard `observed` of them: walking reads about `rows * table_rows /
    /// observed` rows, looking up reads `observed` (each a little dearer, hence the 4).
    ///
    /// ```
    /// use hub_api::query::filters::ObserverPlan;
    /// assert_eq!(ObserverPlan::for_page(50, 500_000, 11_000), ObserverPlan::InTimeOrder);
    /// assert_eq!(ObserverPlan::for_page(50, 500_000, 300), ObserverPlan::ByEvent);
    /// ```
    pub fn for_page(rows: i64, table_rows: i64, observed: i64) -> ObserverPlan {
        let walked = rows.max(1).saturating_mul(table_rows.max(0));
        if observed.saturating_mul(observed) > walked.saturating_mul(4) {
            ObserverPlan::InTimeOrder
        } else {
            ObserverPlan::ByEvent
        }
    }

    /// `column` as the left side of the filter's `IN`: on SQLite a unary `+` for
    /// [`InTimeOrder`](ObserverPlan::InTimeOrder), which keeps the planner off its index.
    pub fn column(self, backend: DbBackend, column: &str) -> String {
        match (self, backend) {
            (ObserverPlan::InTimeOrder, DbBackend::Sqlite) => format!("+{column}"),
            _ => column.to_string(),
        }
    }

    /// The plan for a page of `table` (`offset + limit` = `rows`) filtered to rows heard by
    /// `observed` of its events: on SQLite, from the table's size (its largest rowid, one
    /// index step, at least the number of rows); elsewhere [`ByEvent`](ObserverPlan::ByEvent),
    /// the condition as written.
    pub async fn choose(
        db: &DatabaseConnection,
        table: &str,
        rows: i64,
        observed: impl Future<Output = Result<i64, DbErr>>,
    ) -> Result<ObserverPlan, DbErr> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(ObserverPlan::ByEvent);
        }
        let largest = format!("SELECT MAX(rowid) FROM {table}");
        let largest = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, largest));
        let (largest, observed) = tokio::try_join!(largest, observed)?;
        let table_rows = match largest {
            Some(row) => row.try_get_by_index::<Option<i64>>(0)?.unwrap_or(0),
            None => 0,
        };
        Ok(ObserverPlan::for_page(rows, table_rows, observed))
    }
}

/// The node ids of the observers named by `observed_by`'s `public_keys`; `None` when the list
/// is empty (no filter).
///
/// Resolved before the list's queries rather than joined in them: PostgreSQL then plans from
/// the statistics of the observer itself (for a join through `nodes` it assumes the average
/// node, 40 times too few events, and looks each one up: 105 ms a page instead of 3), and the
/// kept per-day counts are keyed by ids that do not change.
pub async fn observer_ids(
    db: &DatabaseConnection,
    public_keys: &[String],
) -> Result<Option<Vec<String>>, DbErr> {
    if public_keys.is_empty() {
        return Ok(None);
    }
    let placeholders = vec!["?"; public_keys.len()].join(", ");
    let select = format!("SELECT id FROM nodes WHERE public_key IN ({placeholders})");
    ids_of(db, &select, public_keys.to_vec()).await.map(Some)
}

/// The `event_observers` rows of `event_type` from the observers `ids`: how many of a
/// table's events an `observed_by` filter keeps, at most.
pub async fn observed_events(
    db: &DatabaseConnection,
    event_type: &str,
    ids: &[String],
) -> Result<i64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let mut values = vec![event_type.to_string()];
    values.extend(ids.iter().cloned());
    let count = format!(
        "SELECT COUNT(*) FROM event_observers eo \
         WHERE eo.event_type = ? AND eo.observer_node_id IN ({placeholders})"
    );
    let backend = db.get_database_backend();
    let values = values
        .into_iter()
        .map(Into::into)
        .collect::<Vec<sea_orm::Value>>();
    let statement =
        Statement::from_sql_and_values(backend, backend_placeholders(backend, &count), values);
    match db.query_one_raw(statement).await? {
        Some(row) => row.try_get_by_index::<i64>(0),
        None => Ok(0),
    }
}

/// Rows of `table` whose `event_hash` has an `event_observers` row of `event_type` from one
/// of the observers `ids` (see [`observer_ids`]), read as `plan` says. `None` without the
/// filter; no ids (no node has those keys) matches nothing.
///
/// Adverts, messages, telemetry and trace paths all record their extra observers this way.
pub fn observed_by_condition(
    backend: DbBackend,
    table: &str,
    event_type: &str,
    ids: Option<&[String]>,
    plan: ObserverPlan,
) -> Option<SimpleExpr> {
    let ids = ids?;
    if ids.is_empty() {
        return Some(nothing(backend));
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let mut values = vec![event_type.to_string()];
    values.extend(ids.iter().cloned());
    let event_hash = plan.column(backend, &format!("{table}.event_hash"));
    Some(sql(
        backend,
        &format!(
            // IN (subquery) rather than a correlated EXISTS: the observers' events are found
            // once through their index and joined on the unique event_hash, instead of one
            // probe per candidate row (2x faster on the `large` seed).
            "{event_hash} IN (SELECT eo.event_hash FROM event_observers eo \
             WHERE eo.event_type = ? AND eo.observer_node_id IN ({placeholders}))"
        ),
        values,
    ))
}

/// The text values of the first column of `select_sql` (with `?` placeholders bound to
/// `values`), in order.
///
/// Lists resolve a condition on another table (nodes named like a search, nodes a profile
/// adopted) to the ids it matches now, and test each row against those with [`is_one_of`]:
/// the row condition then reads the row alone, so per-day counts keyed by it stay true
/// (a rename or a new adoption resolves to other ids and so to another key).
pub async fn ids_of(
    db: &DatabaseConnection,
    select_sql: &str,
    values: impl IntoIterator<Item = impl Into<sea_orm::Value>>,
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let values = values.into_iter().map(Into::into).collect::<Vec<_>>();
    let text = backend_placeholders(backend, select_sql);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, text, values))
        .await?;
    rows.iter()
        .map(|row| row.try_get_by_index::<Option<String>>(0))
        .filter_map(Result::transpose)
        .collect()
}

/// A condition no row meets.
fn nothing(backend: DbBackend) -> SimpleExpr {
    sql(backend, "1 = 0", Vec::<String>::new())
}

/// Most ids bound one by one in [`is_one_of`]; more go as one JSON array.
const MAX_LISTED_IDS: usize = 500;

/// `expr IN (ids)`, bound; false for no ids.
///
/// A search may match thousands of nodes, more than a statement may bind (32,766 on SQLite,
/// 65,535 on PostgreSQL): past `MAX_LISTED_IDS` the ids are bound as one JSON array and
/// expanded by the database.
pub fn is_one_of(backend: DbBackend, expr: &str, ids: &[String]) -> SimpleExpr {
    if ids.is_empty() {
        return nothing(backend);
    }
    if ids.len() > MAX_LISTED_IDS {
        let array = serde_json::Value::from(ids.to_vec()).to_string();
        let expand = match backend {
            DbBackend::Postgres => "SELECT jsonb_array_elements_text(CAST(? AS jsonb))",
            _ => "SELECT value FROM json_each(?)",
        };
        return sql(backend, &format!("{expr} IN ({expand})"), [array]);
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    sql(
        backend,
        &format!("{expr} IN ({placeholders})"),
        ids.to_vec(),
    )
}
