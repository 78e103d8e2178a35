//! `GET /api/v1/dashboard/stats`.

use super::series::{flood_advert_days, packet_days, visible_message_days};
use super::{flood_only, visible_messages};
use crate::error::ApiError;
use crate::params::sql;
use crate::query::day_counts::{WindowDays, count_rows, day_sql, oldest_row, parse_day};
use crate::query::lookups::visible_channels;
use crate::query::past_days::DashboardDays;
use crate::query::time_window::TimeWindow;
use chrono::{NaiveDate, NaiveDateTime};
use hub_core::entity::{advertisements, messages, nodes, raw_packets};
use hub_core::roles::Role;
use hub_core::roles::role_names;
use hub_core::settings::RoleNameSettings;
use poem_openapi::Object;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic, QueryFilter,
    QuerySelect, Select,
};
use std::collections::{BTreeMap, HashMap};

/// Dashboard statistics. All counts are integers.
#[derive(Debug, Clone, Object)]
pub struct DashboardStats {
    /// Nodes in the database.
    pub total_nodes: i64,
    /// Nodes heard in the last 24 hours (`last_seen`).
    pub active_nodes: i64,
    /// Messages the caller may read.
    pub total_messages: i64,
    /// Messages the caller may read, received since UTC midnight.
    pub messages_today: i64,
    /// Messages the caller may read, received in the last 7 days.
    pub messages_7d: i64,
    /// Flood-only advertisements in the database.
    pub total_advertisements: i64,
    /// Flood-only advertisements received in the last 24 hours.
    pub advertisements_24h: i64,
    /// Flood-only advertisements received in the last 7 days.
    pub advertisements_7d: i64,
    /// Messages per channel index, over the channels the caller may read (string keys).
    pub channel_message_counts: BTreeMap<i32, i64>,
    /// Profiles holding the operator role (`OIDC_ROLE_OPERATOR`), test accounts excluded.
    pub total_operators: i64,
    /// Profiles holding the member role (`OIDC_ROLE_MEMBER`), test accounts excluded.
    pub total_members: i64,
    /// Raw packets in the database.
    pub total_packets: i64,
    /// Raw packets received in the last 7 days.
    pub packets_7d: i64,
}

/// Computes the statistics `role` may see.
pub(super) async fn stats(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    names: &RoleNameSettings,
    role: Role,
) -> Result<DashboardStats, ApiError> {
    let now = hub_core::time::now();
    let day_ago = now - chrono::Duration::hours(24);
    let week_ago = now - chrono::Duration::days(7);
    let today = now.date();
    let today_start = super::midnight(today);
    let visible = visible_channels(db, role).await?;

    // Separate COUNTs, each bounded by an indexed range, rather than one pass with CASE
    // sums: the windowed counts then read only the window's index entries. The four groups
    // below share nothing, so they run at once on pooled connections (SQLite reads in
    // parallel: 33.5 -> 29 ms at `large` at 16:00 UTC, today's rows being most of what is read).
    let nodes = async {
        let total_nodes = count_rows(db, nodes::Entity::find()).await?;
        let active_nodes = count_rows(
            db,
            nodes::Entity::find().filter(nodes::Column::LastSeen.gte(day_ago)),
        )
        .await?;
        let role_lists = crate::query::profiles::role_lists(db).await?;
        let (total_operators, total_members) =
            count_profile_roles(names, role_lists.iter().flatten());
        Ok::<_, ApiError>((total_nodes, active_nodes, total_operators, total_members))
    };
    let week = Cut::since(week_ago, today);

    // Like the flood-only advert counts, the "visible messages only" rule covers all three
    // message counts: a caller learns nothing about channels it may not read. Every all-time
    // and 7-day count below is kept per past day (see `Cut`), so a request reads only
    // the first day and today.
    let messages = async {
        let column = messages::Column::ReceivedAt;
        let all_time = Cut::all_time::<messages::Entity>(db, column, today).await?;
        let channel_message_counts: BTreeMap<i32, i64> = messages_per_channel(db, kept, &all_time)
            .await?
            .into_iter()
            .filter(|(idx, _)| visible.contains(idx))
            .collect();
        let visible_rows = || messages::Entity::find().filter(visible_messages(&visible));
        let message_days = visible_message_days(db, kept, &visible, all_time.whole_days()).await?;
        let total_messages = all_time
            .count(db, visible_rows(), column, &message_days)
            .await?;
        let messages_today = count_rows(db, visible_rows().filter(column.gte(today_start))).await?;
        // The 7-day counts take the whole days of the week from the dashboard's kept per-day
        // counts (the same rows message-activity, activity and packet-activity count) and
        // read only the partial first day and today.
        let message_days = visible_message_days(db, kept, &visible, week.whole_days()).await?;
        let messages_7d = week
            .count(db, visible_rows(), column, &message_days)
            .await?;
        Ok::<_, ApiError>((
            total_messages,
            messages_today,
            messages_7d,
            channel_message_counts,
        ))
    };

    let adverts = async {
        let adverts = || advertisements::Entity::find().filter(flood_only());
        let column = advertisements::Column::ReceivedAt;
        let all_time = Cut::all_time::<advertisements::Entity>(db, column, today).await?;
        let advert_days = flood_advert_days(db, kept, all_time.whole_days()).await?;
        let total_advertisements = all_time.count(db, adverts(), column, &advert_days).await?;
        let advertisements_24h = count_rows(db, adverts().filter(column.gte(day_ago))).await?;
        let advert_days = flood_advert_days(db, kept, week.whole_days()).await?;
        let advertisements_7d = week.count(db, adverts(), column, &advert_days).await?;
        Ok::<_, ApiError>((total_advertisements, advertisements_24h, advertisements_7d))
    };

    let packets = async {
        let column = raw_packets::Column::ReceivedAt;
        let packets = || raw_packets::Entity::find();
        let all_time = Cut::all_time::<raw_packets::Entity>(db, column, today).await?;
        let packet_counts = packet_days(db, kept, all_time.whole_days()).await?;
        let total_packets = all_time
            .count(db, packets(), column, &packet_counts)
            .await?;
        let packet_counts = packet_days(db, kept, week.whole_days()).await?;
        let packets_7d = week.count(db, packets(), column, &packet_counts).await?;
        Ok::<_, ApiError>((total_packets, packets_7d))
    };

    let (
        (total_nodes, active_nodes, total_operators, total_members),
        (total_messages, messages_today, messages_7d, channel_message_counts),
        (total_advertisements, advertisements_24h, advertisements_7d),
        (total_packets, packets_7d),
    ) = tokio::try_join!(
        Box::pin(nodes),
        Box::pin(messages),
        Box::pin(adverts),
        Box::pin(packets)
    )?;

    Ok(DashboardStats {
        total_nodes,
        active_nodes,
        total_messages,
        messages_today,
        messages_7d,
        total_advertisements,
        advertisements_24h,
        advertisements_7d,
        channel_message_counts,
        total_operators,
        total_members,
        total_packets,
        packets_7d,
    })
}

/// A window of `stats` cut at midnights ([`WindowDays`]), or, when it holds no whole past
/// day, the window itself.
struct Cut {
    window: TimeWindow,
    days: Option<WindowDays>,
}

impl Cut {
    /// From `since` on.
    fn since(since: NaiveDateTime, today: NaiveDate) -> Cut {
        let window = TimeWindow {
            since: Some(since),
            until: None,
        };
        let days = WindowDays::new(window, None, today);
        Cut { window, days }
    }

    /// Every row of `E`'s table, from its oldest by `column` on.
    async fn all_time<E: EntityTrait>(
        db: &DatabaseConnection,
        column: E::Column,
        today: NaiveDate,
    ) -> Result<Cut, DbErr> {
        let window = TimeWindow::default();
        let oldest = oldest_row::<E>(db, column).await?;
        let days = WindowDays::new(window, oldest, today);
        Ok(Cut { window, days })
    }

    /// The whole past days, kept per day by the dashboard.
    fn whole_days(&self) -> &[NaiveDate] {
        self.days.as_ref().map_or(&[], WindowDays::whole_days)
    }

    /// `select` restricted to what is read on each request: the edges of the whole days, or
    /// the window itself.
    fn edges<E: EntityTrait>(
        &self,
        backend: DbBackend,
        select: Select<E>,
        column: E::Column,
    ) -> Vec<Select<E>> {
        match &self.days {
            Some(days) => days.edges(backend, select, column),
            None => vec![select.filter(self.window.condition(backend, column))],
        }
    }

    /// The rows of `select` in the window: whole days from `per_day`, the edges read.
    async fn count<E: EntityTrait>(
        &self,
        db: &DatabaseConnection,
        select: Select<E>,
        column: E::Column,
        per_day: &HashMap<NaiveDate, i64>,
    ) -> Result<i64, DbErr> {
        match &self.days {
            Some(days) => days.count_with_days(db, select, column, per_day).await,
            None => {
                let backend = db.get_database_backend();
                count_rows(db, select.filter(self.window.condition(backend, column))).await
            }
        }
    }
}

/// Channel messages (with an index) per channel index, over the days of `split`: the whole
/// days kept per day, the edges read.
async fn messages_per_channel(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    split: &Cut,
) -> Result<BTreeMap<i32, i64>, DbErr> {
    // Every query here reads a received_at range. On SQLite the unary `+` (in WHERE and
    // GROUP BY) keeps the planner on that range; otherwise it walks every channel message
    // through (message_type, channel_idx) in group order and looks each one up for its time
    // (1.2 s at `large`).
    let backend = db.get_database_backend();
    let (channel_rows, channel_key) = if backend == DbBackend::Postgres {
        let rows = messages::Entity::find()
            .filter(messages::Column::MessageType.eq("channel"))
            .filter(messages::Column::ChannelIdx.is_not_null());
        (rows, Expr::cust("messages.channel_idx"))
    } else {
        let rows = messages::Entity::find().filter(sql(
            backend,
            "+messages.message_type = ? AND +messages.channel_idx IS NOT NULL",
            ["channel"],
        ));
        (rows, Expr::cust("+messages.channel_idx"))
    };
    let column = messages::Column::ReceivedAt;
    let (reader, day_rows, day_key) = (db.clone(), channel_rows.clone(), channel_key.clone());
    let per_day = kept
        .channel_messages
        .get_or_fetch(
            "channel messages",
            crate::query::day_counts::counted_tables::<messages::Entity>(),
            split.whole_days(),
            Vec::new(),
            move |first, last| async move {
                let day = day_sql("messages", column.as_str());
                let rows: Vec<(Option<String>, i32, i64)> = day_rows
                    .filter(column.gte(super::midnight(first)))
                    .filter(column.lt(super::midnight(last + chrono::Duration::days(1))))
                    .select_only()
                    .column_as(Expr::cust(day.clone()), "day")
                    .column(messages::Column::ChannelIdx)
                    .column_as(Expr::cust("COUNT(*)"), "n")
                    .group_by(Expr::cust(day))
                    .group_by(day_key)
                    .into_tuple()
                    .all(&reader)
                    .await?;
                let mut by_day: HashMap<NaiveDate, Vec<(i32, i64)>> = HashMap::new();
                for (day, idx, n) in rows {
                    if let Some(day) = day.as_deref().and_then(parse_day) {
                        by_day.entry(day).or_default().push((idx, n));
                    }
                }
                Ok::<_, DbErr>(by_day)
            },
        )
        .await?;
    let mut counts: BTreeMap<i32, i64> = BTreeMap::new();
    for (idx, n) in per_day.into_values().flatten() {
        *counts.entry(idx).or_default() += n;
    }
    for edge in split.edges(backend, channel_rows.clone(), column) {
        let rows: Vec<(i32, i64)> = edge
            .select_only()
            .column(messages::Column::ChannelIdx)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .group_by(channel_key.clone())
            .into_tuple()
            .all(db)
            .await?;
        for (idx, n) in rows {
            *counts.entry(idx).or_default() += n;
        }
    }
    Ok(counts)
}

/// `(operators, members)` among profiles with these `roles` comma lists, by the role names
/// of `names` (OIDC_ROLE_OPERATOR, OIDC_ROLE_MEMBER).
///
/// Names match exactly after trimming (differs from MeshCore Hub, which matched substrings
/// so that e.g. `operators` counted as an operator); profiles holding the test role
/// (OIDC_ROLE_TEST, unless empty) count for neither.
fn count_profile_roles<'a>(
    names: &RoleNameSettings,
    role_lists: impl IntoIterator<Item = &'a String>,
) -> (i64, i64) {
    let mut operators = 0;
    let mut members = 0;
    for list in role_lists {
        let held = role_names(Some(list));
        let has = |wanted: &str| held.iter().any(|name| name == wanted);
        if names.test_role().is_some_and(has) {
            continue;
        }
        operators += i64::from(has(&names.oidc_role_operator));
        members += i64::from(has(&names.oidc_role_member));
    }
    (operators, members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_match_exactly_and_test_accounts_are_skipped() {
        let lists: Vec<String> = [
            "operator,member",
            " member , admin",
            "operators",
            "Operator",
            "member,test",
            "test",
            "",
            "xmember,operator",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names = RoleNameSettings::default();
        assert_eq!(count_profile_roles(&names, &lists), (2, 2));
        // Renamed roles; an empty test role makes no account a test account.
        let renamed = RoleNameSettings {
            oidc_role_operator: "Operator".into(),
            oidc_role_member: "xmember".into(),
            oidc_role_test: String::new(),
        };
        assert_eq!(count_profile_roles(&renamed, &lists), (1, 1));
    }
}
