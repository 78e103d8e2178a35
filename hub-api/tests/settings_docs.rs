//! Every setting the `hub-api` binary accepts is documented with its real default: walks the
//! clap command and checks `.env.example` and `docs/configuration.md` against it, both ways;
//! README's settings table and the cache design's section 8 name every setting they should.

use crate::cli_settings;

use cli_settings::{env_defaults, flags, repo_file};
use std::collections::BTreeMap;

/// `NAME=value` lines of `.env.example`, commented out (`# NAME=value`) or not.
fn env_example_assignments() -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in repo_file(".env.example").lines() {
        let line = line.trim_start_matches('#').trim();
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            found
                .entry(name.to_string())
                .or_default()
                .push(value.trim().to_string());
        }
    }
    found
}

/// Rows of the settings tables of `docs/configuration.md` (`| env | CLI | default | meaning |`),
/// by environment variable.
fn configuration_rows() -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    for line in repo_file("docs/configuration.md").lines() {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if cells.len() < 4 {
            continue;
        }
        let first = &cells[0];
        let is_env = first.len() > 2
            && first.starts_with('`')
            && first.ends_with('`')
            && first[1..first.len() - 1]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_env {
            rows.insert(first[1..first.len() - 1].to_string(), cells);
        }
    }
    rows
}

#[test]
fn every_setting_is_in_env_example_with_its_default() {
    let assignments = env_example_assignments();
    let mut problems = Vec::new();
    for (env, default) in env_defaults() {
        let expected = default.clone().unwrap_or_default();
        match assignments.get(&env).map(Vec::as_slice) {
            None => problems.push(format!("{env} is missing")),
            Some([value]) if *value == expected => {}
            Some([value]) => {
                problems.push(format!("{env}={value}, but the default is {expected:?}"))
            }
            Some(values) => problems.push(format!("{env} is assigned {} times", values.len())),
        }
    }
    assert!(problems.is_empty(), ".env.example: {problems:#?}");
}

#[test]
fn env_example_names_only_real_settings() {
    let defaults = env_defaults();
    let unknown: Vec<String> = env_example_assignments()
        .into_keys()
        .filter(|name| !defaults.contains_key(name))
        .collect();
    assert!(
        unknown.is_empty(),
        ".env.example assigns variables hub-api does not read: {unknown:?}"
    );
}

#[test]
fn every_setting_is_in_configuration_md_with_its_flag_and_default() {
    let rows = configuration_rows();
    let mut problems = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    for flag in flags() {
        let Some(env) = &flag.env else { continue };
        // `migrate` and `seed` share the database flags of `serve`: one report each.
        if !checked.insert(env.clone()) {
            continue;
        }
        let Some(row) = rows.get(env) else {
            problems.push(format!("{env} has no row"));
            continue;
        };
        if !row[1].contains(&format!("`--{}`", flag.long)) {
            problems.push(format!(
                "{env}: CLI cell {:?} lacks `--{}`",
                row[1], flag.long
            ));
        }
        let default_cell = &row[2];
        match &flag.default {
            Some(value) if !default_cell.contains(&format!("`{value}`")) => problems.push(format!(
                "{env}: default cell {default_cell:?}, but the default is `{value}`"
            )),
            None if !default_cell.starts_with("unset") => problems.push(format!(
                "{env}: default cell {default_cell:?}, but it has no default (say \"unset\")"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "docs/configuration.md: {problems:#?}");
}

#[test]
fn configuration_md_names_only_real_settings() {
    let defaults = env_defaults();
    let unknown: Vec<String> = configuration_rows()
        .into_keys()
        .filter(|name| !defaults.contains_key(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/configuration.md documents variables hub-api does not read: {unknown:?}"
    );
}

#[test]
fn every_flag_without_an_environment_variable_is_in_configuration_md() {
    let text = repo_file("docs/configuration.md");
    let missing: Vec<String> = flags()
        .into_iter()
        .filter(|f| f.env.is_none())
        .filter(|f| !text.contains(&format!("`--{}", f.long)))
        .map(|f| format!("{} --{}", f.subcommand, f.long))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not mention {missing:?}"
    );
}

#[test]
fn the_walk_sees_every_subcommand_and_the_settings_groups() {
    // Guards the test itself: a walk that found nothing would pass every check above.
    let flags = flags();
    for (subcommand, long) in [
        ("serve", "port"),
        ("serve", "redis-cache-ttl"),
        ("serve", "demo"),
        ("migrate", "database-url"),
        ("seed", "scale"),
    ] {
        assert!(
            flags
                .iter()
                .any(|f| f.subcommand == subcommand && f.long == long),
            "{subcommand} --{long} not found"
        );
    }
    let defaults = env_defaults();
    assert_eq!(defaults["REDIS_CACHE_TTL"].as_deref(), Some("30"));
    assert_eq!(defaults["DATABASE_PORT"].as_deref(), Some("5432"));
    assert_eq!(defaults["DATABASE_SCHEMA"], None);
}

/// The backticked `UPPER_SNAKE` names of the lines of `file` from the heading `start` to the
/// next heading of the same level.
fn setting_names_in_section(file: &str, start: &str) -> std::collections::BTreeSet<String> {
    let text = repo_file(file);
    let level = start.split(' ').next().unwrap_or("##").to_string();
    let mut names = std::collections::BTreeSet::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('#') {
            if line.starts_with(start) {
                inside = true;
                continue;
            }
            if inside && line.split(' ').next() == Some(level.as_str()) {
                break;
            }
        }
        if !inside {
            continue;
        }
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let is_setting = word.len() > 3
                && word.contains('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if is_setting {
                names.insert(word.to_string());
            }
        }
    }
    assert!(
        !names.is_empty(),
        "{file}: no setting names under {start:?}"
    );
    names
}

#[test]
fn readme_and_the_cache_design_name_every_setting_they_should_and_only_real_ones() {
    let defaults = env_defaults();
    let readme = setting_names_in_section("README.md", "## Settings");
    let design = setting_names_in_section("docs/contract/cache-design.md", "## 8. Settings");
    let mut problems = Vec::new();
    for (file, names) in [("README.md", &readme), ("cache-design.md", &design)] {
        for name in names.iter().filter(|n| !defaults.contains_key(*n)) {
            problems.push(format!("{file} names {name}, which hub-api does not read"));
        }
    }
    for name in defaults.keys() {
        if !readme.contains(name) {
            problems.push(format!("README.md's settings table lacks {name}"));
        }
        let cache_setting = ["REDIS_", "CACHE_", "DATA_CHANGE_", "KEPT_COUNTS_"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if cache_setting && !design.contains(name) {
            problems.push(format!("cache-design.md section 8 lacks {name}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
