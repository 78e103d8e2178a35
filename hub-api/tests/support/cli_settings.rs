//! The settings of the `hub-api` binary, read from its clap command, for the tests that check
//! the documentation and the compose file against it.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One long flag of one subcommand.
#[derive(Debug, Clone)]
pub(crate) struct Flag {
    /// The subcommand (`serve`, `migrate`, `seed`).
    pub subcommand: String,
    /// The long flag without its dashes.
    pub long: String,
    /// The environment variable the flag reads, if any.
    pub env: Option<String>,
    /// The default as a literal value: clap's default, else a one-word `[default: X]` from the
    /// help text (settings resolved in code, such as `DATABASE_PORT`); `None` means unset.
    pub default: Option<String>,
}

/// Every long flag of every `hub-api` subcommand (clap's own `--help`/`--version` excluded).
pub(crate) fn flags() -> Vec<Flag> {
    let mut command = hub_api::cli::command();
    // Building fills in what clap derives late, such as the `false` default of a bool flag.
    command.build();
    let mut flags = Vec::new();
    for sub in command.get_subcommands() {
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            flags.push(Flag {
                subcommand: sub.get_name().to_string(),
                long: long.to_string(),
                env,
                default: default_of(arg),
            });
        }
    }
    flags
}

fn default_of(arg: &clap::Arg) -> Option<String> {
    let values: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !values.is_empty() {
        return Some(values.join(","));
    }
    let help = arg.get_help()?.to_string();
    let (_, rest) = help.split_once("[default: ")?;
    let (value, _) = rest.split_once(']')?;
    // "[default: the server's search_path, normally public]" describes, it is no value.
    (!value.contains(char::is_whitespace)).then(|| value.to_string())
}

/// Every environment variable with its default, checked to be the same in every subcommand
/// that reads it.
pub(crate) fn env_defaults() -> BTreeMap<String, Option<String>> {
    let mut defaults: BTreeMap<String, Option<String>> = BTreeMap::new();
    for flag in flags() {
        let Some(env) = flag.env.clone() else {
            continue;
        };
        if let Some(seen) = defaults.get(&env) {
            assert_eq!(
                seen, &flag.default,
                "{env} has different defaults in different subcommands"
            );
        }
        defaults.insert(env, flag.default);
    }
    defaults
}

/// The environment variables `hub-api serve` reads.
pub(crate) fn serve_envs() -> Vec<String> {
    flags()
        .into_iter()
        .filter(|f| f.subcommand == "serve")
        .filter_map(|f| f.env)
        .collect()
}

/// A file of the repository, read whole.
pub(crate) fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
