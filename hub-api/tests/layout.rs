//! The module layering CONTRIBUTING.md states, checked on the sources: route modules
//! (`src/routes/<group>/`) do not import each other, and nothing below the routes (every
//! other module of the library) imports a route module. Only the app (`app.rs`, which
//! assembles the groups, and `server.rs`, which starts it) and the binaries sit above them.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The route groups a source names through `crate::routes::<group>` (doc examples, which
/// name `hub_api::routes::...` as a user would, are not imports).
fn groups_named(text: &str) -> Vec<String> {
    text.match_indices("crate::routes::")
        .map(|(at, needle)| {
            text[at + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| name != "ApiTags")
        .collect()
}

#[test]
fn route_modules_and_the_modules_below_them_keep_their_places() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let routes = src.join("routes");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in sources(&src) {
        let relative = file.strip_prefix(&src).unwrap().to_path_buf();
        let above_the_routes = ["main.rs", "app.rs", "server.rs"];
        if relative.starts_with("bin") || above_the_routes.iter().any(|f| relative == Path::new(f))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        checked += 1;
        let own_group = file
            .strip_prefix(&routes)
            .ok()
            .and_then(|r| r.components().next())
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            });
        for group in groups_named(&text) {
            match &own_group {
                // `routes/mod.rs` lists the groups.
                Some(own) if own == "mod" => {}
                Some(own) if *own == group => {}
                Some(own) => wrong.push(format!(
                    "route module {own} imports routes::{group} ({})",
                    relative.display()
                )),
                None => wrong.push(format!(
                    "{} (below the routes) imports routes::{group}",
                    relative.display()
                )),
            }
        }
    }
    assert!(checked > 40, "only {checked} sources read");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_check_sees_an_import_across_groups() {
    assert_eq!(
        groups_named("use crate::routes::packet_groups::GroupHours;\nuse crate::routes::ApiTags;"),
        ["packet_groups"]
    );
}
