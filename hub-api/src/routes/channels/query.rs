//! SQL of the channel endpoints. Each write runs in one transaction: a failed request
//! changes nothing.

use super::ChannelRead;
use crate::error::ApiError;
use hub_core::entity::channels;
use hub_core::roles::{Role, channel_hash};
use hub_core::time::Timestamp;
use hub_core::time::db_time;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

/// Every channel `role` may see, ordered by name (then id, for a stable order).
pub(crate) async fn visible(
    db: &DatabaseConnection,
    role: Role,
) -> Result<Vec<ChannelRead>, ApiError> {
    let rows = channels::Entity::find()
        .order_by_asc(channels::Column::Name)
        .order_by_asc(channels::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|c| role.can_see(&c.visibility))
        .map(ChannelRead::from)
        .collect())
}

/// A validated channel create body.
#[derive(Debug)]
pub(crate) struct NewChannel {
    /// Unique name, as sent.
    pub name: String,
    /// Trimmed, uppercased hex key of 32 or 64 chars.
    pub key_hex: String,
    /// Visibility level name.
    pub visibility: String,
    /// Whether the collector decodes it.
    pub enabled: bool,
}

/// A validated channel update body: `None` leaves a column unchanged.
#[derive(Debug, Default)]
pub(crate) struct ChannelChanges {
    /// New key (trimmed, uppercased).
    pub key_hex: Option<String>,
    /// New visibility.
    pub visibility: Option<String>,
    /// New enabled flag.
    pub enabled: Option<bool>,
}

/// `Key already in use by another channel` when a channel other than `except` holds `key_hex`.
///
/// Compared case-insensitively (a Decision of docs/contract/api-2.md): MeshCore Hub seeds lowercase keys
/// while the API stores uppercase ones, and the same key in either case is the same channel.
async fn check_key_free<C: ConnectionTrait>(
    db: &C,
    key_hex: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let mut select = channels::Entity::find().filter(ExprTrait::eq(
        Expr::expr(Func::upper(Expr::col(channels::Column::KeyHex))),
        key_hex,
    ));
    if let Some(id) = except {
        select = select.filter(channels::Column::Id.ne(id));
    }
    if select.one(db).await?.is_some() {
        return Err(ApiError::conflict("Key already in use by another channel"));
    }
    Ok(())
}

fn hash_of(key_hex: &str) -> String {
    // The key was validated as hex, so decoding cannot fail; an empty key would hash anyway.
    channel_hash(&hex::decode(key_hex).unwrap_or_default())
}

/// Inserts a channel after the name and key checks, in one transaction.
pub(crate) async fn create(
    db: &DatabaseConnection,
    new: NewChannel,
) -> Result<ChannelRead, ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let name_taken = channels::Entity::find()
        .filter(channels::Column::Name.eq(&new.name))
        .one(&txn)
        .await?;
    if name_taken.is_some() {
        return Err(ApiError::conflict(format!(
            "Channel '{}' already exists",
            new.name
        )));
    }
    check_key_free(&txn, &new.key_hex, None).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let hash = hash_of(&new.key_hex);
    let now = db_time(txn.get_database_backend(), Timestamp::now());
    let insert = Query::insert()
        .into_table(channels::Entity)
        .columns([
            channels::Column::Id,
            channels::Column::Name,
            channels::Column::KeyHex,
            channels::Column::ChannelHash,
            channels::Column::Visibility,
            channels::Column::Enabled,
            channels::Column::CreatedAt,
            channels::Column::UpdatedAt,
        ])
        .values([
            id.clone().into(),
            new.name.into(),
            new.key_hex.into(),
            hash.into(),
            new.visibility.into(),
            new.enabled.into(),
            now.clone().into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute(&insert).await?;
    let row = find(&txn, &id).await?;
    txn.commit().await?;
    Ok(row.into())
}

async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<channels::Model, ApiError> {
    channels::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Channel not found"))
}

/// Applies `changes` to channel `id`; `updated_at` moves only when a value changes.
pub(crate) async fn update(
    db: &DatabaseConnection,
    id: &str,
    changes: ChannelChanges,
) -> Result<ChannelRead, ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    let current = find(&txn, id).await?;
    if let Some(key_hex) = &changes.key_hex {
        check_key_free(&txn, key_hex, Some(id)).await?;
    }
    let mut update = channels::Entity::update_many().filter(channels::Column::Id.eq(id));
    let mut changed = false;
    if let Some(key_hex) = changes.key_hex.filter(|k| *k != current.key_hex) {
        update = update
            .col_expr(
                channels::Column::ChannelHash,
                Expr::value(hash_of(&key_hex)),
            )
            .col_expr(channels::Column::KeyHex, Expr::value(key_hex));
        changed = true;
    }
    if let Some(visibility) = changes.visibility.filter(|v| *v != current.visibility) {
        update = update.col_expr(channels::Column::Visibility, Expr::value(visibility));
        changed = true;
    }
    if let Some(enabled) = changes.enabled.filter(|e| *e != current.enabled) {
        update = update.col_expr(channels::Column::Enabled, Expr::value(enabled));
        changed = true;
    }
    if changed {
        let now = db_time(txn.get_database_backend(), Timestamp::now());
        update
            .col_expr(channels::Column::UpdatedAt, Expr::value(now))
            .exec(&txn)
            .await?;
    }
    let row = find(&txn, id).await?;
    txn.commit().await?;
    Ok(row.into())
}

/// Deletes channel `id`, or 404 `Channel not found`.
pub(crate) async fn delete(db: &DatabaseConnection, id: &str) -> Result<(), ApiError> {
    let txn = hub_core::db::begin_write(db).await?;
    find(&txn, id).await?;
    channels::Entity::delete_by_id(id.to_string())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
