//! What every paginated list shares: sorting that always ends with a unique tie-break, and one page with the total before limit/offset (docs/contract/api.md section 0).

use super::day_counts::{WindowDays, oldest_row, select_key};
use super::past_days::PastDays;
use super::time_window::TimeWindow;
use crate::page::Page;
use crate::params::Order;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sea_orm::sea_query::{Expr, NullOrdering, SimpleExpr};
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, IntoSimpleExpr,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select,
};

/// `column` for ORDER BY: byte order on PostgreSQL (`COLLATE "C"`), as SQLite compares text.
pub fn text_order(backend: DbBackend, column: &str) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust(format!("{column} COLLATE \"C\"")),
        _ => Expr::cust(column.to_string()),
    }
}

/// Explicit NULL placement matching SQLite's default: first when ascending, last when not.
pub fn sqlite_nulls(order: Order) -> NullOrdering {
    match order {
        Order::Asc => NullOrdering::First,
        Order::Desc => NullOrdering::Last,
    }
}

/// One key of a list's sort order, before the tie-break.
#[derive(Debug, Clone)]
pub struct SortKey {
    expr: SimpleExpr,
    nulls: Option<NullOrdering>,
}

impl SortKey {
    /// Sort by `expr` (a column or an expression), NULLs where the database puts them.
    pub fn by(expr: impl IntoSimpleExpr) -> Self {
        SortKey {
            expr: expr.into_simple_expr(),
            nulls: None,
        }
    }

    /// Sort by `expr` with NULLs at `nulls` in both directions.
    pub fn with_nulls(expr: impl IntoSimpleExpr, nulls: NullOrdering) -> Self {
        SortKey {
            expr: expr.into_simple_expr(),
            nulls: Some(nulls),
        }
    }

    /// Sort by `expr` with NULLs last in both directions.
    pub fn nulls_last(expr: impl IntoSimpleExpr) -> Self {
        SortKey {
            expr: expr.into_simple_expr(),
            nulls: Some(NullOrdering::Last),
        }
    }
}

/// `limit` and `offset` of a list request, as validated by the handler's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl PageRequest {
    /// The rows a page query reads up to: `offset + limit`.
    pub fn rows(self) -> i64 {
        self.offset.max(0).saturating_add(self.limit.max(0))
    }

    /// The page of `items` out of `total` rows, echoing this request.
    pub fn page<T: ParseFromJSON + ToJSON>(self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// Counts the rows of `select`, then loads one page of them ordered by `keys` and finally by
/// `tiebreak` (a unique text column, compared bytewise on both databases so pages never
/// overlap and SQLite and PostgreSQL agree), every key in `order`.
pub async fn fetch_page<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    keys: Vec<SortKey>,
    tiebreak: E::Column,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E: EntityTrait + Default,
    E::Model: FromQueryResult + Send + Sync,
{
    fetch_page_as(db, select, |select| select, keys, tiebreak, order, page).await
}

/// [`fetch_page`] for rows of another shape: `project` picks the columns of `M` from the
/// filtered `select` (the count runs on `select` itself).
pub async fn fetch_page_as<E, M>(
    db: &DatabaseConnection,
    select: Select<E>,
    project: impl FnOnce(Select<E>) -> Select<E>,
    keys: Vec<SortKey>,
    tiebreak: E::Column,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<M>, u64), DbErr>
where
    E: EntityTrait + Default,
    E::Model: FromQueryResult + Send + Sync,
    M: FromQueryResult + Send + Sync,
{
    let count = Total::counted(select.clone());
    let (select, then) = (project(select), rows_as_read);
    fetch_counted_page(db, count, select, keys, tiebreak, order, page, then).await
}

/// The `then` of [`fetch_counted_page`] for a list whose items are its rows.
pub async fn rows_as_read<M>(rows: Vec<M>) -> Result<Vec<M>, DbErr> {
    Ok(rows)
}

/// The rows of a page query. On PostgreSQL in a transaction of its own with parallel
/// workers off: a page walks an index and stops after its rows, and when the planner
/// expects a long walk it starts workers, which on a small machine cost more than the whole
/// walk (an observer's adverts at `large`: 14 ms in parallel against 3 ms alone).
async fn page_rows<E, M>(db: &DatabaseConnection, select: Select<E>) -> Result<Vec<M>, DbErr>
where
    E: EntityTrait,
    M: FromQueryResult + Send + Sync,
{
    if db.get_database_backend() != DbBackend::Postgres {
        return select.into_model::<M>().all(db).await;
    }
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let transaction = db.begin().await?;
    transaction
        .execute_unprepared("SET LOCAL max_parallel_workers_per_gather = 0")
        .await?;
    let rows = select.into_model::<M>().all(&transaction).await?;
    transaction.commit().await?;
    Ok(rows)
}

/// How a list counts its `total`: `COUNT(*)` on every request ([`Total::counted`]), or with
/// the whole past days of its window counted once and kept ([`Total::in_window`]).
pub struct Total<'a, E: EntityTrait> {
    /// The rows, as written for a range of a day or two (the window included when `by_day`
    /// is `None`).
    select: Select<E>,
    by_day: Option<ByDay<'a, E>>,
}

/// The rows of [`Total::in_window`].
struct ByDay<'a, E: EntityTrait> {
    /// The same rows as the total's `select`, as written for counting weeks of whole days.
    long: Select<E>,
    column: E::Column,
    window: TimeWindow,
    kept: &'a PastDays<i64>,
}

impl<'a, E> Total<'a, E>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    /// `COUNT(*)` of `select` (its time window included) on every request.
    pub fn counted(select: Select<E>) -> Self {
        Total {
            select,
            by_day: None,
        }
    }

    /// The rows inside `window` by `column` of `select`, as written for a range of a day or
    /// two, and of `long`, the same rows as written for weeks. With `kept`, the window's
    /// whole past days are counted once and kept there ([`WindowDays`]): only for filters
    /// whose matches on a past day never change (columns of the row itself, the observers of
    /// its event, the caller's visible channels, and ids resolved per request from what does
    /// change: names, tags, adoptions; see [`ids_of`](super::filters::ids_of)). Without, it
    /// is `long` counted.
    pub fn in_window(
        backend: DbBackend,
        select: Select<E>,
        long: Select<E>,
        column: E::Column,
        window: TimeWindow,
        kept: Option<&'a PastDays<i64>>,
    ) -> Self {
        match kept {
            Some(kept) => Total {
                select,
                by_day: Some(ByDay {
                    long,
                    column,
                    window,
                    kept,
                }),
            },
            None => Total::counted(long.filter(window.condition(backend, column))),
        }
    }

    /// The number of rows.
    pub async fn count(self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let Total { select, by_day } = self;
        let Some(ByDay {
            long,
            column,
            window,
            kept,
        }) = by_day
        else {
            return select.count(db).await;
        };
        let backend = db.get_database_backend();
        let oldest = match window.since {
            Some(_) => None,
            None => oldest_row::<E>(db, column).await?,
        };
        let now = hub_core::time::now();
        match WindowDays::new(window, oldest, now.date()) {
            Some(days) => {
                let key = select_key(backend, &long);
                days.count(db, kept, &key, select, long, column, now).await
            }
            None => {
                select
                    .filter(window.condition(backend, column))
                    .count(db)
                    .await
            }
        }
    }
}

/// [`fetch_page_as`] with the total counted by `total` and the page read by `select`: the
/// same rows, with the conditions written so that each query gets its best plan (a count
/// reads a covering index, a page walks the sort order and stops after `limit`). The
/// page's rows become items by `then` (the look-ups of names and observers a list attaches;
/// [`rows_as_read`] for none) while the total is still being counted, each on a pooled
/// connection of its own: a request costs the slower of the count and the page with its
/// look-ups, not their sum.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_counted_page<E, M, T, Fut, Items, Error>(
    db: &DatabaseConnection,
    total: Total<'_, E>,
    select: Select<E>,
    keys: Vec<SortKey>,
    tiebreak: E::Column,
    order: Order,
    page: PageRequest,
    then: T,
) -> Result<(Items, u64), Error>
where
    E: EntityTrait + Default,
    E::Model: FromQueryResult + Send + Sync,
    M: FromQueryResult + Send + Sync,
    T: FnOnce(Vec<M>) -> Fut,
    Fut: std::future::Future<Output = Result<Items, Error>>,
    Error: From<DbErr>,
{
    let backend = db.get_database_backend();
    let mut select = select
        .limit(page.limit.max(0) as u64)
        .offset(page.offset.max(0) as u64);
    let query = QueryTrait::query(&mut select);
    for key in keys {
        match key.nulls {
            Some(nulls) => query.order_by_expr_with_nulls(key.expr, order.sea(), nulls),
            None => query.order_by_expr(key.expr, order.sea()),
        };
    }
    let tiebreak = format!("{}.{}", E::default().table_name(), tiebreak.as_str());
    query.order_by_expr(text_order(backend, &tiebreak), order.sea());
    // Pooled connections of their own: the total and the page cost the slower of the two,
    // not the sum. Boxed: both futures are large, and the page's caller may be a test
    // thread's stack.
    let count = Box::pin(async { Ok(total.count(db).await?) });
    let items = Box::pin(async { then(page_rows(db, select).await?).await });
    let (total, items) = tokio::try_join!(count, items)?;
    Ok((items, total))
}
