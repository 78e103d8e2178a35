//! `m20261126_000001_meshcore_hub_schema` as hub shipped it before the complete schema: 12
//! tables built with sea-query (`timestamp without time zone` on PostgreSQL, sea-query's own
//! constraint names). Frozen here so the upgrade test starts from a database exactly as that
//! version left it.

use migration::*;
use sea_orm::DbBackend;

/// A named, idempotent index on `columns` of `table`.
pub(crate) fn index(name: &str, table: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Alias::new(table)).if_not_exists();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

fn unique_index(name: &str, table: &str, columns: &[&str]) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_meshcore_hub_schema"
    }
}

/// Builds column definitions with the types the Python service uses on each backend.
struct Columns {
    backend: DbBackend,
}

impl Columns {
    fn id(&self) -> ColumnDef {
        ColumnDef::new(Alias::new("id"))
            .string()
            .not_null()
            .primary_key()
            .to_owned()
    }
    fn text(&self, name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).text().to_owned()
    }
    fn varchar(&self, name: &str, len: u32) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).string_len(len).to_owned()
    }
    fn string(&self, name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).string().to_owned()
    }
    fn int(&self, name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).integer().to_owned()
    }
    fn float(&self, name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).double().to_owned()
    }
    fn boolean(&self, name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name)).boolean().to_owned()
    }
    fn json(&self, name: &str) -> ColumnDef {
        match self.backend {
            DbBackend::Postgres => ColumnDef::new(Alias::new(name)).json().to_owned(),
            _ => ColumnDef::new(Alias::new(name))
                .custom(Alias::new("JSON"))
                .to_owned(),
        }
    }
    fn datetime(&self, name: &str) -> ColumnDef {
        match self.backend {
            DbBackend::Postgres => ColumnDef::new(Alias::new(name)).timestamp().to_owned(),
            _ => ColumnDef::new(Alias::new(name))
                .custom(Alias::new("DATETIME"))
                .to_owned(),
        }
    }
    fn date(&self, name: &str) -> ColumnDef {
        match self.backend {
            DbBackend::Postgres => ColumnDef::new(Alias::new(name)).date().to_owned(),
            _ => ColumnDef::new(Alias::new(name))
                .custom(Alias::new("DATE"))
                .to_owned(),
        }
    }
    /// `created_at` / `updated_at`, defaulting to the current time as the Python models do.
    fn stamps(&self) -> [ColumnDef; 2] {
        ["created_at", "updated_at"].map(|name| {
            self.datetime(name)
                .not_null()
                .default(Expr::current_timestamp())
                .to_owned()
        })
    }
}

fn fk(
    table: &str,
    column: &str,
    to: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let c = Columns {
            backend: manager.get_database_backend(),
        };
        use ForeignKeyAction::{Cascade, SetNull};

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("nodes"))
                    .if_not_exists()
                    .col(c.id())
                    .col(c.varchar("public_key", 64).not_null())
                    .col(c.varchar("name", 255))
                    .col(c.varchar("adv_type", 20))
                    .col(c.int("flags"))
                    .col(c.datetime("first_seen").not_null())
                    .col(c.datetime("last_seen"))
                    .col(created_at)
                    .col(updated_at)
                    .col(c.float("lat"))
                    .col(c.float("lon"))
                    .col(c.boolean("is_observer").not_null().default(false))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("node_tags"))
                    .if_not_exists()
                    .col(c.id())
                    .col(c.string("node_id").not_null())
                    .col(c.varchar("key", 100).not_null())
                    .col(c.text("value"))
                    .col(c.varchar("value_type", 20).not_null().default("string"))
                    .col(created_at)
                    .col(updated_at)
                    .foreign_key(&mut fk("node_tags", "node_id", "nodes", Cascade))
                    .index(&mut unique_index(
                        "uq_node_tags_node_key",
                        "node_tags",
                        &["node_id", "key"],
                    ))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("advertisements"))
                    .if_not_exists()
                    .col(c.id())
                    .col(c.string("observer_node_id"))
                    .col(c.string("node_id"))
                    .col(c.varchar("public_key", 64).not_null())
                    .col(c.varchar("name", 255))
                    .col(c.varchar("adv_type", 20))
                    .col(c.int("flags"))
                    .col(c.datetime("received_at").not_null())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.varchar("event_hash", 32).unique_key())
                    .col(c.varchar("route_type", 20))
                    .col(c.datetime("advert_timestamp"))
                    .col(c.varchar("packet_hash", 32))
                    .foreign_key(&mut fk("advertisements", "node_id", "nodes", SetNull))
                    .foreign_key(&mut fk(
                        "advertisements",
                        "observer_node_id",
                        "nodes",
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("messages"))
                    .if_not_exists()
                    .col(c.id())
                    .col(c.string("observer_node_id"))
                    .col(c.varchar("message_type", 20).not_null())
                    .col(c.varchar("pubkey_prefix", 12))
                    .col(c.int("channel_idx"))
                    .col(c.text("text").not_null())
                    .col(c.int("path_len"))
                    .col(c.int("txt_type"))
                    .col(c.varchar("signature", 32))
                    .col(c.float("snr"))
                    .col(c.datetime("sender_timestamp"))
                    .col(c.datetime("received_at").not_null())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.varchar("event_hash", 32).unique_key())
                    .col(c.varchar("packet_hash", 32))
                    .col(c.varchar("path_prefix", 48))
                    .col(c.varchar("sender_normalized", 255))
                    .col(c.float("spam_score"))
                    .foreign_key(&mut fk("messages", "observer_node_id", "nodes", SetNull))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("channels"))
                    .if_not_exists()
                    .col(c.varchar("name", 100).not_null())
                    .col(c.varchar("key_hex", 64).not_null().unique_key())
                    .col(c.varchar("channel_hash", 2).not_null())
                    .col(c.varchar("visibility", 20).not_null())
                    .col(c.boolean("enabled").not_null())
                    .col(c.id())
                    .col(created_at)
                    .col(updated_at)
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("user_profiles"))
                    .if_not_exists()
                    .col(c.varchar("user_id", 255).not_null())
                    .col(c.varchar("name", 255))
                    .col(c.varchar("callsign", 20))
                    .col(c.id())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.text("roles"))
                    .col(c.text("description"))
                    .col(c.varchar("url", 2048))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alias::new("user_profile_nodes"))
                    .if_not_exists()
                    .col(c.string("user_profile_id").not_null())
                    .col(c.string("node_id").not_null())
                    .col(c.datetime("adopted_at").not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("user_profile_id"))
                            .col(Alias::new("node_id")),
                    )
                    .foreign_key(&mut fk("user_profile_nodes", "node_id", "nodes", Cascade))
                    .foreign_key(&mut fk(
                        "user_profile_nodes",
                        "user_profile_id",
                        "user_profiles",
                        Cascade,
                    ))
                    .index(&mut unique_index(
                        "uq_user_profile_nodes_node_id",
                        "user_profile_nodes",
                        &["node_id"],
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alias::new("event_observers"))
                    .if_not_exists()
                    .col(c.varchar("id", 36).not_null().primary_key())
                    .col(c.varchar("event_type", 20).not_null())
                    .col(c.varchar("event_hash", 32).not_null())
                    .col(c.varchar("observer_node_id", 36).not_null())
                    .col(c.float("snr"))
                    .col(c.datetime("observed_at").not_null())
                    .col(c.datetime("created_at").not_null())
                    .col(c.datetime("updated_at").not_null())
                    .col(c.int("path_len"))
                    .foreign_key(&mut fk(
                        "event_observers",
                        "observer_node_id",
                        "nodes",
                        Cascade,
                    ))
                    .index(&mut unique_index(
                        "uq_event_observers_hash_node",
                        "event_observers",
                        &["event_hash", "observer_node_id"],
                    ))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("routes"))
                    .if_not_exists()
                    .col(c.varchar("id", 36).not_null().primary_key())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.varchar("from_label", 255).not_null())
                    .col(c.varchar("to_label", 255).not_null())
                    .col(c.text("description"))
                    .col(c.varchar("visibility", 20).not_null())
                    .col(c.int("match_width").not_null())
                    .col(c.int("window_hours").not_null())
                    .col(c.int("packet_count_threshold").not_null())
                    .col(c.int("clear_threshold"))
                    .col(c.int("max_hop_span"))
                    .col(c.boolean("enabled").not_null())
                    .col(c.boolean("reversible").not_null().default(true))
                    .col(c.int("max_path_length"))
                    .col(c.varchar("created_by", 255))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("route_results"))
                    .if_not_exists()
                    .col(c.varchar("id", 36).not_null().primary_key())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.varchar("route_id", 36).not_null())
                    .col(c.varchar("state", 20).not_null())
                    .col(c.varchar("quality", 20).not_null())
                    .col(c.int("matched_count").not_null())
                    .col(c.int("threshold").not_null())
                    .col(c.int("effective_clear").not_null())
                    .col(c.datetime("evaluated_at").not_null())
                    .col(c.varchar("quality_avg", 20))
                    .foreign_key(&mut fk("route_results", "route_id", "routes", Cascade))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("route_result_history"))
                    .if_not_exists()
                    .col(c.varchar("id", 36).not_null().primary_key())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.varchar("route_id", 36).not_null())
                    .col(c.date("date").not_null())
                    .col(c.varchar("quality", 20).not_null())
                    .col(c.varchar("state", 20).not_null())
                    .col(c.int("matched_count").not_null())
                    .col(
                        c.datetime("evaluated_at")
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(&mut fk(
                        "route_result_history",
                        "route_id",
                        "routes",
                        Cascade,
                    ))
                    .index(&mut unique_index(
                        "uq_route_result_history_route_date",
                        "route_result_history",
                        &["route_id", "date"],
                    ))
                    .to_owned(),
            )
            .await?;

        let [created_at, updated_at] = c.stamps();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("raw_packets"))
                    .if_not_exists()
                    .col(c.string("observer_node_id"))
                    .col(c.varchar("packet_hash", 32))
                    .col(c.text("raw_hex"))
                    .col(c.int("packet_type"))
                    .col(c.int("payload_type"))
                    .col(c.varchar("event_type", 50))
                    .col(c.int("channel_idx"))
                    .col(c.varchar("source_pubkey_prefix", 12))
                    .col(c.varchar("route_type", 20))
                    .col(c.int("path_len"))
                    .col(c.float("snr"))
                    .col(c.json("decoded"))
                    .col(c.datetime("received_at").not_null())
                    .col(c.id())
                    .col(created_at)
                    .col(updated_at)
                    .col(c.int("path_hash_bytes"))
                    .col(c.varchar("event_hash", 32))
                    .foreign_key(&mut fk("raw_packets", "observer_node_id", "nodes", SetNull))
                    .to_owned(),
            )
            .await?;

        // The indexes MeshCore Hub creates on these tables, under the same names.
        for statement in [
            unique_index("ix_nodes_public_key", "nodes", &["public_key"]),
            index("ix_nodes_last_seen", "nodes", &["last_seen"]),
            index("ix_nodes_adv_type", "nodes", &["adv_type"]),
            index("ix_nodes_is_observer", "nodes", &["is_observer"]),
            index("ix_node_tags_key", "node_tags", &["key"]),
            index("ix_node_tags_node_id", "node_tags", &["node_id"]),
            index("ix_advertisements_node_id", "advertisements", &["node_id"]),
            index(
                "ix_advertisements_observer_node_id",
                "advertisements",
                &["observer_node_id"],
            ),
            index(
                "ix_advertisements_packet_hash",
                "advertisements",
                &["packet_hash"],
            ),
            index(
                "ix_advertisements_public_key",
                "advertisements",
                &["public_key"],
            ),
            index(
                "ix_advertisements_received_at",
                "advertisements",
                &["received_at"],
            ),
            unique_index("ix_channels_name", "channels", &["name"]),
            index(
                "ix_event_observers_event_hash",
                "event_observers",
                &["event_hash"],
            ),
            index(
                "ix_event_observers_observer_node_id",
                "event_observers",
                &["observer_node_id"],
            ),
            index(
                "ix_event_observers_type_hash",
                "event_observers",
                &["event_type", "event_hash"],
            ),
            index("ix_messages_channel_idx", "messages", &["channel_idx"]),
            index("ix_messages_message_type", "messages", &["message_type"]),
            index(
                "ix_messages_observer_node_id",
                "messages",
                &["observer_node_id"],
            ),
            index("ix_messages_packet_hash", "messages", &["packet_hash"]),
            index("ix_messages_pubkey_prefix", "messages", &["pubkey_prefix"]),
            index("ix_messages_received_at", "messages", &["received_at"]),
            index("ix_raw_packets_event_type", "raw_packets", &["event_type"]),
            index(
                "ix_raw_packets_event_type_received_at",
                "raw_packets",
                &["event_type", "received_at"],
            ),
            index(
                "ix_raw_packets_observer_node_id",
                "raw_packets",
                &["observer_node_id"],
            ),
            index(
                "ix_raw_packets_packet_hash",
                "raw_packets",
                &["packet_hash"],
            ),
            index(
                "ix_raw_packets_received_at",
                "raw_packets",
                &["received_at"],
            ),
            index("ix_raw_packets_event_hash", "raw_packets", &["event_hash"]),
            index(
                "ix_route_result_history_route_id",
                "route_result_history",
                &["route_id"],
            ),
            unique_index("ix_route_results_route_id", "route_results", &["route_id"]),
            unique_index("ix_routes_from_to", "routes", &["from_label", "to_label"]),
            unique_index("ix_user_profiles_user_id", "user_profiles", &["user_id"]),
            index(
                "ix_user_profile_nodes_node_id",
                "user_profile_nodes",
                &["node_id"],
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }
}
