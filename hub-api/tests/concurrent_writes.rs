//! Writes that overlap on SQLite are answered, not refused with a 500: SQLite has one writer,
//! and two overlapping write transactions of the same process used to fail with `database is
//! locked` (the contract fuzz found it with two workers).

use crate::common;
use crate::writes_support;

use common::fixture_app;
use poem::http::StatusCode;
use serde_json::json;
use std::sync::Arc;
use writes_support::{post, put};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_writes_on_sqlite_all_succeed() {
    let app = Arc::new(fixture_app().await);
    let before = app.scalar("SELECT COUNT(*) FROM channels").await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            // Each create reads (name and key conflicts) before it writes, the pattern that
            // SQLite refuses outright when another write committed in between.
            let created = post(&app, "/api/v1/channels")
                .json(json!({"name": format!("overlap {i}"), "key_hex": format!("{i:032x}")}))
                .send()
                .await;
            let id = created.2["id"].as_str().map(str::to_string);
            let updated = match &id {
                Some(id) => {
                    put(&app, &format!("/api/v1/channels/{id}"))
                        .json(json!({"enabled": false}))
                        .send()
                        .await
                        .0
                }
                None => StatusCode::IM_A_TEAPOT,
            };
            (created.0, updated, created.2)
        }));
    }
    for task in tasks {
        let (created, updated, body) = task.await.unwrap();
        assert_eq!(created, StatusCode::CREATED, "{body}");
        assert_eq!(updated, StatusCode::OK, "{body}");
    }
    let after = app.scalar("SELECT COUNT(*) FROM channels").await;
    assert_eq!(after - before, 32);
}
