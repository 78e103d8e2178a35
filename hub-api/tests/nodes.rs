//! `/api/v1/nodes`: filters, sorts, pagination, single-node routes.

mod common;

use common::*;

#[tokio::test]
async fn lists_the_fixture_nodes_with_tags_and_adopters() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/nodes?sort=public_key&order=asc").await;
    assert_eq!(body["total"], 8);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    let first = &body["items"][0];
    assert_eq!(first["public_key"], pk("a1fa"));
    assert_eq!(first["tags"][0]["key"], "name");
    assert_eq!(first["adopted_by"]["user_id"], "op-north");
}
