//! The command line of the `hub-api` binary: `serve`, `migrate` and `seed`.
//!
//! It lives in the library so that tests can walk every flag ([`command`]) and check that the
//! documentation (`docs/configuration.md`, `.env.example`, `compose/docker-compose.yml`) lists
//! each setting with its real default.

use crate::seed::SeedArgs;
use clap::{CommandFactory, Parser, Subcommand};
use hub_core::cache::CacheSettings;
use hub_core::settings::{
    AuthSettings, DatabaseSettings, FeedSettings, HttpSettings, RoleNameSettings, RuntimeSettings,
    ServerSettings, SpamSettings, TimeoutSettings,
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
    Serve {
        /// Bind address.
        #[command(flatten)]
        server: ServerSettings,
        /// Which database to open.
        #[command(flatten)]
        database: DatabaseSettings,
        /// API keys.
        #[command(flatten)]
        auth: AuthSettings,
        /// Logging and data retention.
        #[command(flatten)]
        runtime: RuntimeSettings,
        /// The Redis response cache.
        #[command(flatten)]
        cache: CacheSettings,
        /// HTTP header behaviour.
        #[command(flatten)]
        http: HttpSettings,
        /// Spam filtering of messages.
        #[command(flatten)]
        spam: SpamSettings,
        /// Role names of the dashboard counts and the profile list.
        #[command(flatten)]
        roles: RoleNameSettings,
        /// Client and database timeouts.
        #[command(flatten)]
        timeouts: TimeoutSettings,
        /// The RSS and Atom feeds.
        #[command(flatten)]
        feeds: FeedSettings,
        /// Fill an empty database with the `small` demo network before serving.
        #[arg(long)]
        demo: bool,
    },
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

/// The clap command of `hub-api`, with every subcommand and flag, for tests and tooling.
pub fn command() -> clap::Command {
    Cli::command()
}
