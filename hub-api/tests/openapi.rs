//! The OpenAPI document is true (docs/reliability.md): every `null` the server sends is
//! declared `nullable`, every operation documents the error statuses it can answer, no
//! operation lists a status twice, and every 405 carries `Allow` with the path's methods.

use crate::common;

use common::{TestApp, fixture_app};
use poem::http::Method;
use poem_openapi::OpenApi;
use serde_json::Value;
use std::collections::BTreeSet;

/// The document as the server serves it.
async fn spec(app: &TestApp) -> Value {
    app.json("/api/openapi.json").await
}

#[tokio::test]
async fn free_text_parameters_declare_that_nul_is_refused() {
    let app = fixture_app().await;
    let spec = spec(&app).await;
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let schema = &parameter["schema"];
                let text = if schema["type"] == "array" {
                    &schema["items"]
                } else {
                    schema
                };
                if text["type"] != "string"
                    || text.get("format").is_some()
                    || text.get("enum").is_some()
                {
                    continue;
                }
                let pattern = text["pattern"].as_str().unwrap_or_default();
                let name = parameter["name"].as_str().unwrap();
                assert!(
                    !pattern.is_empty(),
                    "{method} {path} {name}: free text without a pattern"
                );
                if pattern == hub_api::app::NO_NUL_PATTERN {
                    checked += 1;
                    // And the server does refuse what the pattern excludes.
                    let uri = path.replace(&format!("{{{name}}}"), "a%00b");
                    let query = if parameter["in"] == "query" {
                        format!("?{name}=a%00b")
                    } else {
                        String::new()
                    };
                    if method == "get" {
                        let resp = app.get(&format!("{uri}{query}")).await;
                        resp.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
                    }
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} free-text parameters");
}

/// Every free-text string of `schema` (at `at`), resolving `$ref`s, in `found`.
fn free_text_in(spec: &Value, schema: &Value, at: String, found: &mut Vec<(String, String)>) {
    let schema = resolve(spec, schema);
    if schema["type"] == "string" && schema.get("format").is_none() && schema.get("enum").is_none()
    {
        let pattern = schema["pattern"].as_str().unwrap_or_default().to_string();
        found.push((at.clone(), pattern));
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        free_text_in(spec, property, format!("{at}.{name}"), found);
    }
    if let Some(items) = schema.get("items") {
        free_text_in(spec, items, format!("{at}[]"), found);
    }
}

#[tokio::test]
async fn body_strings_declare_that_nul_is_refused() {
    let app = fixture_app().await;
    let spec = spec(&app).await;
    let mut found = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if let Some(body) =
                operation["requestBody"]["content"]["application/json"].get("schema")
            {
                free_text_in(&spec, body, format!("{method} {path} body"), &mut found);
            }
        }
    }
    let unmarked: Vec<&String> = found
        .iter()
        .filter(|(_, pattern)| pattern.is_empty())
        .map(|(at, _)| at)
        .collect();
    assert!(
        unmarked.is_empty(),
        "free text without a pattern: {unmarked:?}"
    );
    let marked = found
        .iter()
        .filter(|(_, pattern)| pattern == hub_api::app::NO_NUL_PATTERN)
        .count();
    assert!(
        marked >= 15,
        "only {marked} body strings refuse NUL: {found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(at, _)| at == "post /api/v1/routes/preview body.node_public_keys[]"),
        "{found:?}"
    );
    // And the server refuses what the pattern excludes, inside an array too.
    let resp = app
        .client
        .post("/api/v1/routes/preview")
        .content_type("application/json")
        .body(r#"{"node_public_keys": ["a1\u0000", "b2"]}"#)
        .send()
        .await;
    resp.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
}

/// The schema `schema` refers to, when it is a `$ref`.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Records in `errors` every `null` in `value` (at JSON path `at`) whose schema does not
/// declare `nullable: true`.
fn undeclared_nulls(
    spec: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() {
        let target = resolve(spec, schema);
        let declared = nullable || target.get("nullable").and_then(Value::as_bool) == Some(true);
        if !declared {
            errors.push(at.to_string());
        }
        return;
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            undeclared_nulls(spec, part, value, at, errors);
        }
        return;
    }
    let schema = resolve(spec, schema);
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                let field_schema = schema["properties"]
                    .get(name)
                    .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                if let Some(field_schema) = field_schema {
                    undeclared_nulls(spec, field_schema, field, &format!("{at}.{name}"), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    undeclared_nulls(spec, item_schema, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// Concrete URIs for the GET operations whose path has parameters: an id taken from the
/// list the item belongs to.
async fn item_uris(app: &TestApp) -> Vec<String> {
    let first = |list: Value, field: &str| -> Option<String> {
        let item = &list["items"][0][field];
        item.as_str()
            .map(str::to_string)
            .or_else(|| item.as_i64().map(|n| n.to_string()))
    };
    let mut uris = Vec::new();
    let lists = [
        (
            "/api/v1/nodes",
            "public_key",
            vec!["/api/v1/nodes/{}", "/api/v1/nodes/{}/tags"],
        ),
        (
            "/api/v1/advertisements",
            "id",
            vec!["/api/v1/advertisements/{}"],
        ),
        ("/api/v1/messages", "id", vec!["/api/v1/messages/{}"]),
        ("/api/v1/packets", "id", vec!["/api/v1/packets/{}"]),
        (
            "/api/v1/packet-groups",
            "packet_hash",
            vec!["/api/v1/packet-groups/{}"],
        ),
        ("/api/v1/telemetry", "id", vec!["/api/v1/telemetry/{}"]),
        ("/api/v1/trace-paths", "id", vec!["/api/v1/trace-paths/{}"]),
        (
            "/api/v1/routes",
            "id",
            vec!["/api/v1/routes/{}", "/api/v1/routes/{}/history"],
        ),
        (
            "/api/v1/user/profiles",
            "id",
            vec!["/api/v1/user/profile/{}"],
        ),
    ];
    for (list, field, templates) in lists {
        let Some(id) = first(app.json_as(list, "admin").await, field) else {
            continue;
        };
        uris.extend(templates.iter().map(|t| t.replace("{}", &id)));
    }
    uris
}

/// The spec path `uri` was made from: the template of the same shape, a literal segment
/// beating a parameter (`/nodes/prefix/{prefix}`).
fn template<'a>(spec: &'a Value, uri: &str) -> &'a str {
    let path = uri.split('?').next().unwrap_or(uri);
    let segments: Vec<&str> = path.split('/').collect();
    spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || p.starts_with('{'))
        })
        .max_by_key(|t| t.split('/').filter(|p| !p.starts_with('{')).count())
        .unwrap_or_else(|| panic!("no template for {uri}"))
}

/// The documented schema of `uri`'s 200 answer.
fn ok_schema<'a>(spec: &'a Value, uri: &str) -> &'a Value {
    &spec["paths"][template(spec, uri)]["get"]["responses"]["200"]["content"]["application/json; charset=utf-8"]
        ["schema"]
}

#[tokio::test]
async fn every_null_the_server_sends_is_declared_nullable() {
    let app = fixture_app().await;
    let spec = spec(&app).await;
    let mut uris: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, ops)| !path.contains('{') && ops.get("get").is_some())
        // JSON answers only: the feeds answer XML.
        .filter(|(_, ops)| {
            let content = ops["get"]["responses"]["200"]["content"].as_object();
            content.is_some_and(|c| c.keys().any(|t| t.starts_with("application/json")))
        })
        .map(|(path, _)| path.clone())
        .collect();
    uris.extend(item_uris(&app).await);
    // Wider windows reach more rows of the fixture, and with them more nulls.
    let wide: Vec<String> = uris
        .iter()
        .filter(|uri| {
            let params = &spec["paths"][template(&spec, uri)]["get"]["parameters"];
            params
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "days"))
        })
        .map(|uri| format!("{uri}?days=3650"))
        .collect();
    uris.extend(wide);
    let mut errors = Vec::new();
    let mut nulls_seen = 0;
    for uri in &uris {
        let resp = app
            .client
            .get(uri)
            .header("X-User-Roles", "admin")
            .header("X-User-Id", "openapi-test")
            .send()
            .await;
        resp.assert_status_is_ok();
        let body: Value = resp.json().await.value().deserialize();
        nulls_seen += body.to_string().matches("null").count();
        let schema = ok_schema(&spec, uri);
        assert!(schema.is_object(), "{uri}: no 200 schema");
        undeclared_nulls(&spec, schema, &body, uri, &mut errors);
    }
    // The fixture has nulls to check (unknown names, positions, adopters...).
    assert!(
        nulls_seen > 20,
        "only {nulls_seen} nulls in {} responses",
        uris.len()
    );
    assert!(
        errors.is_empty(),
        "nulls not declared nullable:\n{}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn every_operation_documents_its_error_statuses() {
    let app = fixture_app().await;
    let spec = spec(&app).await;
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let responses = &op["responses"];
            let has = |status: &str| responses.get(status).is_some();
            let what = format!("{} {path}", method.to_uppercase());
            assert!(has("401"), "{what} lacks 401");
            assert!(has("503"), "{what} lacks 503");
            assert!(
                responses["503"]["headers"]["Retry-After"]["required"] == true,
                "{what}: 503 without a required Retry-After: {}",
                responses["503"]
            );
            let validated = op["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["in"] == "query"))
                || op.get("requestBody").is_some();
            if validated {
                assert!(has("422"), "{what} has parameters but lacks 422");
            }
            if path.contains('{') && path != "/api/v1/routes/preview" {
                assert!(has("404"), "{what} names an item but lacks 404");
            }
            for (status, response) in responses.as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let json_schema = response["content"].as_object().and_then(|content| {
                        content
                            .iter()
                            .find(|(media, _)| media.starts_with("application/json"))
                            .map(|(_, media)| &media["schema"])
                    });
                    assert!(
                        json_schema.is_some_and(Value::is_object),
                        "{what} {status} has no JSON error schema: {response}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
}

#[test]
fn no_operation_documents_a_status_twice() {
    // The served JSON would keep only the last of two equal keys, so look at the metadata.
    for api in hub_api::routes::AllApis::meta() {
        for path in api.paths {
            for op in path.operations {
                let mut seen = BTreeSet::new();
                for response in op.responses.responses {
                    assert!(
                        seen.insert(response.status),
                        "{} {} documents {:?} twice",
                        op.method,
                        path.path,
                        response.status
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn every_405_carries_allow_with_the_path_methods_and_a_json_body() {
    let app = fixture_app().await;
    let spec = spec(&app).await;
    let candidates = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::TRACE,
        Method::OPTIONS,
    ];
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let mut documented: BTreeSet<String> = ops
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        if documented.contains("GET") {
            documented.insert("HEAD".into());
        }
        let uri = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in candidates
            .iter()
            .filter(|m| !documented.contains(m.as_str()))
        {
            let resp = app.client.request(method.clone(), &uri).send().await;
            resp.assert_status(poem::http::StatusCode::METHOD_NOT_ALLOWED);
            let allow: BTreeSet<String> = resp
                .0
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {uri}: 405 without Allow"))
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            assert_eq!(allow, documented, "{method} {uri}");
            resp.assert_content_type("application/json");
            let body: Value = resp.json().await.value().deserialize();
            assert_eq!(body["detail"], "Method Not Allowed", "{method} {uri}");
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} requests");
}
