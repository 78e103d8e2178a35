//! SQL of the channel endpoints.

use super::ChannelRead;
use crate::error::ApiError;
use hub_core::entity::channels;
use hub_core::roles::Role;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

/// Every channel `role` may see, ordered by name (then id, for a stable order).
pub async fn visible(db: &DatabaseConnection, role: Role) -> Result<Vec<ChannelRead>, ApiError> {
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
