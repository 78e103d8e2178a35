//! MeshCore Hub's DDL, kept as SQL text per backend, and the little parsing the migrations need.
//!
//! The SQL files are the schema's single source: the migrations execute them statement by
//! statement, and the upgrade of an older hub database reads target column types, defaults
//! and constraint definitions from them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// SQLite DDL, byte-exact as MeshCore Hub's migrations leave it in `sqlite_master`.
const SQLITE: &str = include_str!("sql/sqlite.sql");
/// PostgreSQL DDL with MeshCore Hub's types, defaults and constraint names, unqualified.
const POSTGRES: &str = include_str!("sql/postgres.sql");

/// The DDL statements for `backend`, in execution order.
pub(crate) fn statements(backend: DbBackend) -> Result<Vec<&'static str>, DbErr> {
    let sql = match backend {
        DbBackend::Sqlite => SQLITE,
        DbBackend::Postgres => POSTGRES,
        other => {
            return Err(DbErr::Migration(format!(
                "hub supports SQLite and PostgreSQL, not {other:?}"
            )));
        }
    };
    Ok(split(sql))
}

/// The `CREATE [UNIQUE] INDEX` statement of index `name` in the DDL for `backend`.
pub(crate) fn index_statement(backend: DbBackend, name: &str) -> Result<&'static str, DbErr> {
    statements(backend)?
        .into_iter()
        .find(|statement| {
            let rest = statement
                .strip_prefix("CREATE UNIQUE INDEX ")
                .or_else(|| statement.strip_prefix("CREATE INDEX "));
            rest.and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|found| found.trim_matches('"') == name)
        })
        .ok_or_else(|| DbErr::Migration(format!("index {name} is not in the {backend:?} DDL")))
}

/// Splits a DDL file into statements: each ends with `;` at a line end. Comment lines before
/// a statement are dropped; none of the statements contain `;` themselves.
fn split(sql: &'static str) -> Vec<&'static str> {
    sql.split(";\n")
        .map(|chunk| {
            let mut rest = chunk;
            // Leading blank and comment lines belong to no statement.
            while let Some(line) = rest.lines().next() {
                if line.trim().is_empty() || line.starts_with("--") {
                    rest = rest.get(line.len() + 1..).unwrap_or("");
                } else {
                    break;
                }
            }
            rest.trim_end_matches([';', '\n'])
        })
        .filter(|statement| !statement.trim().is_empty())
        .collect()
}

/// `statement` with `IF NOT EXISTS` after its `CREATE TABLE` / `CREATE [UNIQUE] INDEX`, so
/// that it only creates what is missing. SQLite drops the clause from the text it stores.
pub(crate) fn if_not_exists(statement: &str) -> String {
    for head in ["CREATE TABLE ", "CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = statement.strip_prefix(head) {
            return format!("{head}IF NOT EXISTS {rest}");
        }
    }
    statement.to_string()
}

/// A column of a `CREATE TABLE` statement of the PostgreSQL DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub table: &'static str,
    pub name: &'static str,
    /// As `information_schema.columns.data_type` names it for the types the DDL uses.
    pub data_type: &'static str,
    /// The default expression as PostgreSQL prints it (`pg_get_expr`), if any.
    pub default: Option<&'static str>,
}

/// A named table constraint of the PostgreSQL DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constraint {
    pub table: &'static str,
    pub name: &'static str,
    /// As `pg_get_constraintdef` prints it when the table is in the current schema.
    pub definition: &'static str,
}

/// The table name and body lines of a `CREATE TABLE name (...)` statement.
fn table_body(statement: &'static str) -> Option<(&'static str, Vec<&'static str>)> {
    let rest = statement.strip_prefix("CREATE TABLE ")?;
    let (name, body) = rest.split_once(" (\n")?;
    let body = body.rsplit_once("\n)")?.0;
    let lines = body
        .lines()
        .map(|line| line.trim().trim_end_matches(','))
        .collect();
    Some((name.trim_matches('"'), lines))
}

/// Every column of every table of the PostgreSQL DDL.
pub(crate) fn postgres_columns() -> Vec<Column> {
    let mut columns = Vec::new();
    for (table, lines) in split(POSTGRES).into_iter().filter_map(table_body) {
        for line in lines.into_iter().filter(|l| !l.starts_with("CONSTRAINT ")) {
            let Some((name, rest)) = line.split_once(' ') else {
                continue;
            };
            let rest = rest.strip_suffix(" NOT NULL").unwrap_or(rest);
            let (data_type, default) = match rest.split_once(" DEFAULT ") {
                Some((data_type, default)) => (data_type, Some(default)),
                None => (rest, None),
            };
            // information_schema reports `character varying` without its length.
            let data_type = data_type.split('(').next().unwrap_or(data_type);
            columns.push(Column {
                table,
                name: name.trim_matches('"'),
                data_type,
                default,
            });
        }
    }
    columns
}

/// Every named constraint of every table of the PostgreSQL DDL.
pub(crate) fn postgres_constraints() -> Vec<Constraint> {
    let mut constraints = Vec::new();
    for (table, lines) in split(POSTGRES).into_iter().filter_map(table_body) {
        for line in lines {
            let Some(rest) = line.strip_prefix("CONSTRAINT ") else {
                continue;
            };
            if let Some((name, definition)) = rest.split_once(' ') {
                constraints.push(Constraint {
                    table,
                    name,
                    definition,
                });
            }
        }
    }
    constraints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_create_the_same_tables_and_indexes() {
        let names = |backend| {
            let mut names: Vec<String> = statements(backend)
                .unwrap()
                .iter()
                .map(|s| {
                    let head = s.replace("CREATE UNIQUE INDEX", "CREATE INDEX");
                    let mut words = head.split_whitespace();
                    let kind = words.nth(1).unwrap_or_default().to_string();
                    let name = words.next().unwrap_or_default().trim_matches('"');
                    format!("{kind} {name}")
                })
                .collect();
            names.sort();
            names
        };
        let sqlite = names(DbBackend::Sqlite);
        assert_eq!(sqlite, names(DbBackend::Postgres));
        assert_eq!(
            sqlite.iter().filter(|n| n.starts_with("TABLE ")).count(),
            20
        );
        assert_eq!(
            sqlite.iter().filter(|n| n.starts_with("INDEX ")).count(),
            60
        );
    }

    #[test]
    fn the_tables_are_those_of_crate_tables_in_order() {
        let created: Vec<&str> = split(POSTGRES)
            .into_iter()
            .filter_map(table_body)
            .map(|(name, _)| name)
            .collect();
        assert_eq!(created, crate::TABLES);
        let created: Vec<&str> = split(SQLITE)
            .into_iter()
            .filter_map(|s| s.strip_prefix("CREATE TABLE "))
            .filter_map(|s| s.split_whitespace().next())
            .map(|name| name.trim_matches('"'))
            .collect();
        assert_eq!(created, crate::TABLES);
    }

    #[test]
    fn reads_postgres_column_types_defaults_and_constraints() {
        let columns = postgres_columns();
        let value_type = columns
            .iter()
            .find(|c| c.table == "node_tags" && c.name == "value_type")
            .unwrap();
        assert_eq!(value_type.data_type, "character varying");
        assert_eq!(value_type.default, Some("'string'::character varying"));
        let position = columns
            .iter()
            .find(|c| c.table == "route_nodes" && c.name == "position")
            .unwrap();
        assert_eq!(position.data_type, "integer");
        assert_eq!(position.default, None);
        assert_eq!(
            columns
                .iter()
                .filter(|c| c.data_type == "timestamp with time zone")
                .count(),
            51
        );
        let constraints = postgres_constraints();
        assert_eq!(constraints.len(), 53);
        assert!(constraints.contains(&Constraint {
            table: "event_observers",
            name: "event_receivers_pkey",
            definition: "PRIMARY KEY (id)",
        }));
    }

    #[test]
    fn adds_if_not_exists() {
        assert_eq!(
            if_not_exists("CREATE UNIQUE INDEX ix ON t (a)"),
            "CREATE UNIQUE INDEX IF NOT EXISTS ix ON t (a)"
        );
        assert_eq!(
            if_not_exists("CREATE TABLE \"t\" (\n\ta INT\n)"),
            "CREATE TABLE IF NOT EXISTS \"t\" (\n\ta INT\n)"
        );
    }
}
