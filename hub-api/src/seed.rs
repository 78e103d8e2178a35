//! `hub-api seed`: PLACEHOLDER being replaced by the seed helper.

use sea_orm::DatabaseConnection;

/// Options of `hub-api seed`.
#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {}

/// Seeds the database.
pub async fn run(_db: &DatabaseConnection, _args: &SeedArgs) -> Result<(), sea_orm::DbErr> {
    Err(sea_orm::DbErr::Custom("seed is not built yet".into()))
}

/// Seeds the small demo network when the database has no nodes.
pub async fn seed_demo_if_empty(_db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    Ok(())
}
