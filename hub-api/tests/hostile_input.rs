//! Hostile input against the real app (docs/reliability.md): out-of-range datetimes, NUL
//! bytes, huge lists, thousands of parameters, long, badly encoded and odd values. Each gets
//! a correct answer or a 4xx JSON error, never a 500 or a panic, and the Redis cache stays
//! bounded.

use crate::common;

use common::*;
use hub_core::test_support::{PostgresServer, RedisServer};
use poem::http::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A GET operation of the OpenAPI document: its path and query parameter names.
struct Operation {
    path: String,
    query: Vec<String>,
}

/// Every GET operation under `/api/v1`, path parameters filled with a plausible value.
fn get_operations() -> Vec<Operation> {
    let spec: Value = serde_json::from_str(&hub_api::app::openapi().spec()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        if !path.starts_with("/api/v1") {
            continue;
        }
        let mut concrete = path.clone();
        let mut query = Vec::new();
        for param in get["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap().to_string();
            match param["in"].as_str() {
                Some("query") => query.push(name),
                Some("path") => concrete = concrete.replace(&format!("{{{name}}}"), "abc"),
                _ => {}
            }
        }
        operations.push(Operation {
            path: concrete,
            query,
        });
    }
    assert!(operations.len() > 20, "the document lists the API");
    operations
}

/// Asserts a 422 whose first entry's `loc` is `[source, name]`; returns its `msg`.
async fn assert_422_naming(resp: poem::test::TestResponse, source: &str, name: &str) -> String {
    resp.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.value().deserialize();
    assert_eq!(body["detail"][0]["loc"], json!([source, name]), "{body}");
    body["detail"][0]["msg"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn datetimes_outside_years_1_to_9999_are_422_naming_the_parameter() {
    let app = fixture_app().await;
    let mut checked = 0;
    for op in get_operations() {
        for name in op.query.iter().filter(|n| *n == "since" || *n == "until") {
            for value in [
                // chrono's last year, with a fraction that rounding pushes past it.
                "%2B262142-12-31T23:59:59.9999999",
                "-0001-01-01T00:00:00",
                "10000-01-01T00:00:00Z",
                // Year 1 in its own zone, year 0 in UTC.
                "0001-01-01T00:00:00%2B01:00",
            ] {
                let uri = format!("{}?{name}={value}", op.path);
                let msg = assert_422_naming(app.get(&uri).await, "query", name).await;
                assert!(
                    msg.contains("1 to 9999") || msg.contains("valid datetime"),
                    "{uri}: {msg}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 20,
        "since/until found on the list endpoints ({checked})"
    );
    // The edges of the range are accepted.
    for value in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999"] {
        let resp = app.get(&format!("/api/v1/packets?since={value}")).await;
        resp.assert_status_is_ok();
    }
}

#[tokio::test]
async fn nul_bytes_in_any_query_parameter_are_422_naming_it() {
    let app = fixture_app().await;
    for op in get_operations() {
        for name in &op.query {
            let uri = format!("{}?{name}=a%00b", op.path);
            assert_422_naming(app.get(&uri).await, "query", name).await;
        }
    }
}

#[tokio::test]
async fn nul_bytes_in_path_parameters_and_bodies_are_422_naming_them() {
    let app = fixture_app().await;
    for (uri, name) in [
        ("/api/v1/nodes/ab%00cd", "public_key"),
        ("/api/v1/nodes/abc/tags/k%00", "key"),
        ("/api/v1/messages/%00", "id"),
    ] {
        assert_422_naming(app.get(uri).await, "path", name).await;
    }
    let resp = app
        .client
        .post("/api/v1/channels")
        .header("content-type", "application/json")
        .body(r#"{"name": "x\u0000y", "key_hex": "00112233445566778899aabbccddeeff"}"#)
        .send()
        .await;
    resp.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.value().deserialize();
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]), "{body}");
    assert_eq!(body["detail"][0]["type"], "string_nul");
}

#[tokio::test]
async fn an_oversized_write_body_is_a_413_json_error() {
    let app = fixture_app().await;
    let name = "x".repeat(hub_api::body::MAX_BODY_BYTES);
    let resp = app
        .client
        .post("/api/v1/channels")
        .header("content-type", "application/json")
        .body(format!(r#"{{"name": "{name}"}}"#))
        .send()
        .await;
    resp.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.value().deserialize();
    assert!(body["detail"].is_string(), "{body}");
}

#[tokio::test]
async fn nul_bytes_get_the_same_422_on_postgresql() {
    let pg = PostgresServer::start();
    let db = hub_core::db::connect(&pg.url()).await.unwrap();
    hub_core::db::prepare_schema(&db).await.unwrap();
    let app = app_over(db);
    for uri in [
        "/api/v1/nodes?search=a%00",
        "/api/v1/messages?search=%00",
        "/api/v1/nodes/ab%00",
        "/api/v1/advertisements?public_key=%00",
    ] {
        let resp = app.get(uri).await;
        resp.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.value().deserialize();
        assert_eq!(body["detail"][0]["type"], "string_nul", "{uri}: {body}");
    }
}

#[tokio::test]
async fn huge_lists_are_refused_before_any_work() {
    let app = fixture_app().await;
    // 12,000 distinct items in a 60 KB query line (near the longest URI poem accepts): a
    // linear scan per item (the old de-duplication) made that 72 million comparisons.
    let many: Vec<String> = (0..12_000).map(|i| i.to_string()).collect();
    for name in ["route_type", "packet_type"] {
        let uri = format!("/api/v1/packets?{name}={}", many.join(","));
        let started = Instant::now();
        let msg = assert_422_naming(app.get(&uri).await, "query", name).await;
        let took = started.elapsed();
        assert!(msg.contains("not 12000"), "{msg}");
        assert!(took < Duration::from_millis(200), "{name}: {took:?}");
    }
    let uri = format!("/api/v1/advertisements?route_type={}", many.join(","));
    assert_422_naming(app.get(&uri).await, "query", "route_type").await;
    // Counted before de-duplication: the same item 101 times is over the cap too.
    let same = vec!["flood"; 101].join(",");
    let uri = format!("/api/v1/advertisements?route_type={same}");
    assert_422_naming(app.get(&uri).await, "query", "route_type").await;
    let repeated: String = (0..101).map(|i| format!("observed_by=k{i}&")).collect();
    for path in ["/api/v1/messages", "/api/v1/packets", "/api/v1/telemetry"] {
        let uri = format!("{path}?{repeated}");
        assert_422_naming(app.get(&uri).await, "query", "observed_by").await;
    }
    // At the cap, a list is fine.
    let hundred: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
    app.get(&format!("/api/v1/packets?route_type={}", hundred.join(",")))
        .await
        .assert_status_is_ok();
}

/// The requests of the barrage: each must get a 2xx or a 4xx JSON error.
fn barrage() -> Vec<(String, Vec<(&'static str, String)>)> {
    let big = "x".repeat(20 * 1024);
    let thousands: String = (0..5_000).map(|i| format!("p{i}={i}&")).collect();
    let mut requests: Vec<(String, Vec<(&'static str, String)>)> = vec![
        (format!("/api/v1/nodes?{thousands}limit=5"), vec![]),
        (format!("/api/v1/messages?{thousands}"), vec![]),
        (format!("/api/v1/nodes?search={big}"), vec![]),
        (format!("/api/v1/advertisements?public_key={big}"), vec![]),
        (format!("/api/v1/nodes/{big}"), vec![]),
        ("/api/v1/nodes?search=%ZZ%4".into(), vec![]),
        ("/api/v1/nodes?search=%FF%FE%C3%28".into(), vec![]),
        ("/api/v1/nodes?%FF=1&limit=%C3".into(), vec![]),
        ("/api/v1/nodes/%FF%FE".into(), vec![]),
        ("/api/v1/nodes/%ZZ".into(), vec![]),
        ("/api/v1/nodes/..%2F..%2Fetc%2Fpasswd".into(), vec![]),
        ("/api/v1/nodes/../../etc/passwd".into(), vec![]),
        ("/api/v1/nodes/%2e%2e/tags".into(), vec![]),
        ("/api/v1/messages/..%2f..%2fhealth".into(), vec![]),
        ("/api/v1/nodes?limit=99999999999999999999999".into(), vec![]),
        ("/api/v1/nodes?limit=-1&offset=-5".into(), vec![]),
        (
            "/api/v1/nodes?limit=5".into(),
            vec![("if-none-match", format!("\"{big}\""))],
        ),
        (
            "/api/v1/nodes?limit=5".into(),
            vec![("if-none-match", vec!["\"a\""; 2000].join(", "))],
        ),
    ];
    for roles in [
        "admin\u{7f}",
        "admin, admin, ,,,",
        "\t",
        "member,operator,admin,superuser,,,,",
        &"admin,".repeat(4000),
        "\u{1}\u{2}",
    ] {
        requests.push((
            "/api/v1/messages".into(),
            vec![("x-user-roles", roles.to_string())],
        ));
    }
    requests
}

#[tokio::test]
async fn a_barrage_of_hostile_requests_gets_json_answers_and_bounded_redis_keys() {
    let redis = RedisServer::start();
    let cache = redis_response_cache(redis.port());
    let app = fixture_app_cached(cache).await;
    let mut ok = 0;
    for (uri, headers) in barrage() {
        let mut request = app.client.get(&uri);
        for (name, value) in &headers {
            // Bytes a header may carry (obs-text included); refused ones are the client's.
            if let Ok(value) = poem::http::HeaderValue::from_bytes(value.as_bytes()) {
                request = request.header(*name, value);
            }
        }
        let resp = request.send().await;
        let status = resp.0.status();
        let is_json = resp
            .0
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        let short: String = uri.chars().take(80).collect();
        assert!(
            status.is_success() || status == StatusCode::NOT_MODIFIED || status.is_client_error(),
            "{short}: {status}"
        );
        if status.is_client_error() {
            assert!(is_json, "{short}: {status} without a JSON body");
            let body: Value = resp.json().await.value().deserialize();
            assert!(body.get("detail").is_some(), "{short}: {body}");
        }
        if status.is_success() {
            ok += 1;
        }
    }
    assert!(ok > 0, "some of the barrage is legitimate and answered");
    let keys = redis_keys(redis.port());
    // One entry per distinct successful request at most, plus the generation counters.
    assert!(
        keys.len() <= ok + 16,
        "{} keys for {ok} answers",
        keys.len()
    );
    let longest = keys.iter().map(String::len).max().unwrap_or(0);
    assert!(longest <= 200, "a Redis key of {longest} bytes");
}

#[tokio::test]
async fn the_barrage_over_tcp_always_gets_an_answer() {
    let app = fixture_app().await;
    let timeouts = hub_api::server::ClientTimeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };
    let address = serve_on_loopback(default_state(app.db.clone()), timeouts).await;
    let mut requests: Vec<(Vec<u8>, bool)> = barrage()
        .into_iter()
        .map(|(uri, headers)| {
            let mut head = format!("GET {uri} HTTP/1.1\r\nHost: hub\r\n").into_bytes();
            let mut valid = true;
            for (name, value) in headers {
                valid &= poem::http::HeaderValue::from_bytes(value.as_bytes()).is_ok();
                head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            (head, valid)
        })
        .collect();
    // Raw bytes that are not valid in a request line or header: the HTTP parser may refuse
    // them with its own bare 400 before the app sees them.
    for raw in [
        &b"GET /api/v1/nodes?search=\xff\xfe HTTP/1.1\r\nHost: hub\r\n"[..],
        b"GET /api/v1/nodes/\xc3\x28 HTTP/1.1\r\nHost: hub\r\n",
        b"GET /api/v1/messages HTTP/1.1\r\nHost: hub\r\nX-User-Roles: adm\xffin\r\n",
        b"GET /api/v1/messages HTTP/1.1\r\nHost: hub\r\nX-User-Roles: a\x01b\r\n",
    ] {
        requests.push((raw.to_vec(), false));
    }
    for (mut head, app_must_answer) in requests {
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(&head).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
            .await
            .expect("an answer in time")
            .ok();
        let text = String::from_utf8_lossy(&response);
        let short: String = String::from_utf8_lossy(&head).chars().take(80).collect();
        let status: u16 = text
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{short}: no answer (connection dropped)"));
        assert!((200..500).contains(&status), "{short}: {status}");
        if app_must_answer && status >= 400 {
            assert!(text.contains("application/json"), "{short}: {text}");
        }
    }
}

/// Every key of the Redis on `port` (`KEYS *` over RESP: a handful of keys in a test).
fn redis_keys(port: u16) -> Vec<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let count: usize = line.trim().trim_start_matches('*').parse().unwrap();
    (0..count)
        .map(|_| {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let len: usize = line.trim().trim_start_matches('$').parse().unwrap();
            let mut key = vec![0; len + 2];
            reader.read_exact(&mut key).unwrap();
            String::from_utf8_lossy(&key[..len]).into_owned()
        })
        .collect()
}
