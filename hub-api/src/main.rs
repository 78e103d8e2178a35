//! The `hub-api` command: `serve`, `migrate` and `seed` (flags in [`hub_api::cli`]).

use clap::Parser;
use hub_api::cli::{Cli, Command, ServeArgs, StartError, open_database};
use hub_api::seed;
use hub_core::db::{self, SchemaState};
use hub_core::settings::RuntimeSettings;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `.env` fills only what the environment does not set: CLI > environment > .env > default.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let runtime = match &cli.command {
        Command::Serve(ServeArgs { runtime, .. })
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
        Err(StartError::Setting(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(StartError::Other(err)) => {
            // Logs go to stderr too, so one line there is enough.
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
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

async fn run(command: Command) -> Result<(), StartError> {
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
                .map_err(|e| StartError::Other(e.to_string()))
        }
        Command::Serve(args) => hub_api::server::run(args).await,
    }
}
