//! What every paginated list shares: a received-time window, sorting that always ends with a
//! unique tie-break, and one page with the total before limit/offset (docs/contract/api.md section 0).

use crate::error::ApiError;
use crate::page::Page;
use crate::params::{Bound, Order, datetime_bound, parse_datetime};
use chrono::NaiveDateTime;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sea_orm::sea_query::{Expr, NullOrdering, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult,
    IdenStatic, IntoSimpleExpr, PaginatorTrait, QuerySelect, QueryTrait, Select,
};

/// The inclusive `since` / `until` window of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// Rows at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Rows at or before this time.
    pub until: Option<NaiveDateTime>,
}

impl TimeWindow {
    /// Parses the `since` and `until` parameters; a malformed one is a 422 naming it.
    ///
    /// ```
    /// use hub_api::query::list::TimeWindow;
    /// let window = TimeWindow::parse(Some("2026-11-26T05:00:00Z"), None).unwrap();
    /// assert!(window.since.is_some() && window.until.is_none());
    /// assert!(TimeWindow::parse(None, Some("yesterday")).is_err());
    /// ```
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, ApiError> {
        Ok(TimeWindow {
            since: parse_datetime("since", since)?,
            until: parse_datetime("until", until)?,
        })
    }

    /// `column >= since AND column <= until`, for the bounds that are set.
    pub fn condition(&self, backend: DbBackend, column: impl ColumnTrait) -> Condition {
        let mut condition = Condition::all();
        if let Some(since) = self.since {
            condition = condition.add(column.gte(datetime_bound(backend, since, Bound::Lower)));
        }
        if let Some(until) = self.until {
            condition = condition.add(column.lte(datetime_bound(backend, until, Bound::Upper)));
        }
        condition
    }
}

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
    let count = select.clone();
    fetch_counted_page(db, count, project(select), keys, tiebreak, order, page).await
}

/// [`fetch_page_as`] with the total counted by `count` and the page read by `select`: the
/// same rows, with the conditions written so that each query gets its best plan (a count
/// reads a covering index, a page walks the sort order and stops after `limit`).
pub async fn fetch_counted_page<E, M>(
    db: &DatabaseConnection,
    count: Select<E>,
    select: Select<E>,
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
    let backend = db.get_database_backend();
    let total = count.count(db).await?;
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
    let rows = select.into_model::<M>().all(db).await?;
    Ok((rows, total))
}
