//! The command line of the `hub-api` binary: `serve`, `migrate` and `seed`.
//!
//! It lives in the library so that tests can walk every flag ([`command`]) and check that the
//! documentation (`docs/configuration.md`, `.env.example`, `compose/docker-compose.yml`) lists
//! each setting with its real default.

use crate::seed::SeedArgs;
use clap::{Args, CommandFactory, Parser, Subcommand};
use hub_core::cache::CacheSettings;
use hub_core::db::{self, SchemaState};
use hub_core::settings::{
    AuthSettings, DatabaseSettings, FeedSettings, FreshnessSettings, HttpSettings,
    RoleNameSettings, RuntimeSettings, ServerSettings, SettingError, SpamSettings, TimeoutSettings,
};

/// hub: the MeshCore Hub API server.
#[derive(Parser, Debug)]
#[command(name = "hub-api", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `hub-api`.
// Parsed once at startup and matched once: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (creates and migrates a new database on first start).
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate {
        /// Which database to migrate.
        #[command(flatten)]
        database: DatabaseSettings,
        /// Logging.
        #[command(flatten)]
        runtime: RuntimeSettings,
        /// Also add hub's read indexes to a database MeshCore Hub manages (which is otherwise
        /// left unaltered); see docs/upgrading.md.
        #[arg(long)]
        read_indexes: bool,
    },
    /// Fill the database with a deterministic synthetic mesh network.
    Seed {
        /// Which database to fill.
        #[command(flatten)]
        database: DatabaseSettings,
        /// Logging.
        #[command(flatten)]
        runtime: RuntimeSettings,
        /// What to generate.
        #[command(flatten)]
        seed: SeedArgs,
    },
}

/// The settings of `hub-api serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Bind address.
    #[command(flatten)]
    pub server: ServerSettings,
    /// Which database to open.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// API keys.
    #[command(flatten)]
    pub auth: AuthSettings,
    /// Logging and data retention.
    #[command(flatten)]
    pub runtime: RuntimeSettings,
    /// The Redis response cache.
    #[command(flatten)]
    pub cache: CacheSettings,
    /// HTTP header behaviour.
    #[command(flatten)]
    pub http: HttpSettings,
    /// Spam filtering of messages.
    #[command(flatten)]
    pub spam: SpamSettings,
    /// Role names of the dashboard counts and the profile list.
    #[command(flatten)]
    pub roles: RoleNameSettings,
    /// Client and database timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutSettings,
    /// The RSS and Atom feeds.
    #[command(flatten)]
    pub feeds: FeedSettings,
    /// How changes hub did not make reach the cache and the kept counts.
    #[command(flatten)]
    pub freshness: FreshnessSettings,
    /// Fill an empty database with the `small` demo network before serving.
    #[arg(long)]
    pub demo: bool,
}

/// The clap command of `hub-api`, with every subcommand and flag, for tests and tooling.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Why a subcommand could not run.
#[derive(Debug)]
pub enum StartError {
    /// A setting failed validation: exit 2, like a usage error.
    Setting(SettingError),
    /// Anything else.
    Other(String),
}

impl From<SettingError> for StartError {
    fn from(err: SettingError) -> Self {
        StartError::Setting(err)
    }
}

impl From<db::PrepareError> for StartError {
    fn from(err: db::PrepareError) -> Self {
        StartError::Other(err.to_string())
    }
}

impl From<sea_orm::DbErr> for StartError {
    fn from(err: sea_orm::DbErr) -> Self {
        StartError::Other(format!("database: {err}"))
    }
}

/// Opens and prepares the database; `serve` passes its statement timeout, `migrate` and
/// `seed` (long statements on purpose) keep the default.
pub async fn open_database(
    database: &DatabaseSettings,
    intent: db::Intent,
    statement_timeout: Option<std::time::Duration>,
) -> Result<(sea_orm::DatabaseConnection, db::DatabaseTarget, SchemaState), StartError> {
    let target = database.resolve()?;
    let conn = match statement_timeout {
        Some(timeout) => db::connect_with_timeout(&target, timeout).await?,
        None => db::connect_to(&target).await?,
    };
    let schema = db::prepare(&conn, &target, intent).await?;
    match &schema {
        SchemaState::Migrated { applied } if *applied > 0 => {
            tracing::info!(applied, "database migrated");
        }
        SchemaState::Migrated { .. } => {}
        SchemaState::ExternallyManaged => {
            let revision = db::alembic_revision(&conn).await?;
            tracing::info!(
                alembic_revision = %revision.as_deref().unwrap_or("none"),
                "MeshCore Hub database detected: reading it as it is, schema left unchanged"
            );
            if !revision.as_deref().is_some_and(db::known_alembic_revision) {
                tracing::warn!(
                    alembic_revision = %revision.as_deref().unwrap_or("none"),
                    known = ?migration::KNOWN_ALEMBIC_REVISIONS,
                    "MeshCore Hub database at an alembic revision hub was not checked against; \
                     reading it as it is"
                );
            }
        }
    }
    Ok((conn, target, schema))
}
