//! The `hub-api` command: `serve`, `migrate` and `seed` (flags in [`hub_api::cli`]).

use clap::Parser;
use hub_api::cli::{Cli, Command};
use hub_api::seed;
use hub_api::state::AppState;
use hub_core::cache::runtime::ResponseCache;
use hub_core::db::{self, SchemaState};
use hub_core::settings::{DatabaseSettings, RuntimeSettings, SettingError};
use poem::listener::{Listener, TcpListener};
use std::process::ExitCode;

fn main() -> ExitCode {
    // `.env` fills only what the environment does not set: CLI > environment > .env > default.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let runtime = match &cli.command {
        Command::Serve { runtime, .. }
        | Command::Migrate { runtime, .. }
        | Command::Seed { runtime, .. } => runtime.clone(),
    };
    if let Err(err) = runtime.validate() {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    init_tracing(&runtime);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match tokio.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Setting(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(Failure::Other(err)) => {
            // Logs go to stderr too, so one line there is enough.
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// A setting failed validation: exit 2, like a usage error.
    Setting(SettingError),
    /// Anything else.
    Other(String),
}

impl From<SettingError> for Failure {
    fn from(err: SettingError) -> Self {
        Failure::Setting(err)
    }
}

impl From<db::PrepareError> for Failure {
    fn from(err: db::PrepareError) -> Self {
        Failure::Other(err.to_string())
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(err: sea_orm::DbErr) -> Self {
        Failure::Other(format!("database: {err}"))
    }
}

fn init_tracing(runtime: &RuntimeSettings) {
    let directive = runtime.tracing_directive();
    // A bare level applies to hub's own crates; libraries stay at WARN so logs stay quiet.
    let filter = if directive.contains('=') {
        directive
    } else {
        format!("warn,hub_api={directive},hub_core={directive}")
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Opens and prepares the database; `serve` passes its statement timeout, `migrate` and
/// `seed` (long statements on purpose) keep the default.
async fn open_database(
    database: &DatabaseSettings,
    intent: db::Intent,
    statement_timeout: Option<std::time::Duration>,
) -> Result<(sea_orm::DatabaseConnection, db::DatabaseTarget, SchemaState), Failure> {
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

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Migrate {
            database,
            read_indexes,
            ..
        } => {
            let (conn, _, schema) = open_database(&database, db::Intent::Migrate, None).await?;
            if schema == SchemaState::ExternallyManaged && read_indexes {
                let created = hub_api::read_indexes::create(&conn).await?;
                println!(
                    "MeshCore Hub database: {} of hub's read indexes created{}{}",
                    created.len(),
                    if created.is_empty() { "" } else { ": " },
                    created.join(", ")
                );
            } else if schema == SchemaState::ExternallyManaged {
                println!(
                    "MeshCore Hub database: its schema is managed by MeshCore Hub; nothing to do \
                     (--read-indexes adds hub's read indexes)"
                );
            } else {
                println!("database is up to date");
            }
            Ok(())
        }
        Command::Seed { database, seed, .. } => {
            let (conn, _, _) = open_database(&database, db::Intent::Migrate, None).await?;
            seed::run(&conn, &seed)
                .await
                .map_err(|e| Failure::Other(e.to_string()))
        }
        Command::Serve {
            server,
            database,
            auth,
            runtime,
            cache,
            http,
            spam,
            roles,
            timeouts,
            feeds,
            demo,
        } => {
            server.validate()?;
            timeouts.validate()?;
            cache.validate()?;
            spam.validate()?;
            http.validate()?;
            roles.validate()?;
            feeds.validate()?;
            let intent = if demo {
                db::Intent::ServeDemo
            } else {
                db::Intent::Serve
            };
            let (conn, target, schema) =
                open_database(&database, intent, Some(timeouts.statement())).await?;
            if schema == SchemaState::ExternallyManaged {
                match hub_api::read_indexes::missing_hint(
                    &conn,
                    hub_api::read_indexes::LARGE_TABLE_ROWS,
                )
                .await
                {
                    Ok(Some(hint)) => tracing::warn!("{hint}"),
                    Ok(None) => {}
                    Err(err) => tracing::debug!(%err, "could not check hub's read indexes"),
                }
            }
            if demo {
                seed::seed_demo_if_empty(&conn)
                    .await
                    .map_err(|e| Failure::Other(e.to_string()))?;
            }
            let state = AppState {
                auth: auth.normalized(),
                raw_packet_retention_days: runtime.raw_packet_retention_days,
                spam,
                roles,
                feeds,
                ..AppState::new(conn.clone(), ResponseCache::from_settings(&cache).await)
            };
            let response_cache = state.cache.clone();
            let past_days = state.clone();
            tokio::spawn(async move {
                // Harmless when it fails: each request then reads what it needs itself.
                let started = std::time::Instant::now();
                match hub_api::routes::dashboard::read_past_days(&past_days).await {
                    Ok(()) => tracing::debug!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "dashboard's past days read"
                    ),
                    Err(err) => tracing::debug!(%err, "could not read the dashboard's past days"),
                }
            });
            let address = server.bind_address();
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                address = %address,
                database = %target.describe(),
                read_key = state.auth.read_key.is_some(),
                admin_key = state.auth.admin_key.is_some(),
                identity_headers = hub_api::auth::identity_rule(&state.auth),
                cache = %cache.banner(),
                cache_control = http.cache_control(),
                spam_detection = spam.spam_detection_enabled,
                metrics = http.metrics.metrics_enabled,
                metrics_public = http.metrics.metrics_public,
                cors_origins = http
                    .cors
                    .origins()
                    .map_or("any, without credentials".to_string(), |o| o.join(",")),
                header_read_timeout_s = timeouts.header_read_timeout,
                idle_timeout_s = timeouts.idle_timeout,
                statement_timeout_s = timeouts.database_statement_timeout,
                "hub serving http://{address}/api/v1, docs at http://{address}{}",
                hub_api::app::DOCS_PATH
            );
            if state.auth.read_key.is_none() && state.auth.admin_key.is_none() {
                tracing::warn!(
                    "no API key configured: the API is open, and the identity headers \
                     (X-User-Id, X-User-Name, X-User-Roles) are trusted from any caller; \
                     set API_ADMIN_KEY (or API_READ_KEY) so that only the web tier holding \
                     it can act for a user"
                );
            }
            let app = hub_api::app::build_with(state, http.clone());
            let acceptor = TcpListener::bind(address)
                .into_acceptor()
                .await
                .map_err(|e| Failure::Other(format!("server: {e}")))?;
            hub_api::server::serve(
                acceptor,
                app,
                hub_api::server::ClientTimeouts::from(&timeouts),
                shutdown_signal(),
            )
            .await
            .map_err(|e| Failure::Other(format!("server: {e}")))?;
            response_cache.backend().close().await;
            conn.close().await.ok();
            tracing::info!("hub stopped");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
    tracing::info!("shutting down");
}
