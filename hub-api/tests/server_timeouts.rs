//! Client timeouts of the real server on a loopback port, driven by a raw TCP client: a
//! slow request head is cut at the header-read timeout, an idle keep-alive connection at the
//! idle timeout, and a client that keeps sending whole requests is never cut.

use crate::common;

use common::*;
use hub_api::server::ClientTimeouts;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUTS: ClientTimeouts = ClientTimeouts {
    header_read: Duration::from_millis(500),
    idle: Duration::from_millis(1500),
};

/// Serves the app over an empty database on a free loopback port with [`TIMEOUTS`].
async fn start() -> (SocketAddr, TestApp) {
    let app = empty_app().await;
    let address = serve_on_loopback(default_state(app.db.clone()), TIMEOUTS).await;
    (address, app)
}

/// Reads until the server closes the connection (or fails it); returns when, and what it
/// read. Fails if the connection is still open after `within`.
async fn wait_for_close(stream: &mut TcpStream, within: Duration) -> (Instant, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (Instant::now(), received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {within:?}"),
        }
    }
}

const REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: hub\r\n\r\n";

#[tokio::test]
async fn a_partial_request_line_is_cut_at_the_header_read_timeout() {
    let (address, _app) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /health HT").await.unwrap();
    let (closed, received) = wait_for_close(&mut stream, Duration::from_secs(5)).await;
    let after = closed - started;
    assert!(after >= TIMEOUTS.header_read, "closed after {after:?}");
    assert!(
        after < TIMEOUTS.idle,
        "closed after {after:?}: not the header timeout"
    );
    assert!(!String::from_utf8_lossy(&received).contains("200 OK"));
}

#[tokio::test]
async fn a_head_sent_byte_by_byte_is_cut_even_though_bytes_keep_coming() {
    let (address, _app) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    // One byte every 100 ms: never idle, never done.
    let mut closed_at = None;
    for &byte in REQUEST.iter().cycle().take(60) {
        if stream.write_all(&[byte]).await.is_err() {
            closed_at = Some(Instant::now());
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_at = Some(Instant::now());
                break;
            }
            _ => {}
        }
    }
    let after = closed_at.expect("the slow client was never disconnected") - started;
    assert!(after >= TIMEOUTS.header_read, "closed after {after:?}");
    assert!(after < Duration::from_secs(3), "closed after {after:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let (address, _app) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // Requests at a steady pace for longer than the header-read timeout: never cut.
    let started = Instant::now();
    for _ in 0..4 {
        stream.write_all(REQUEST).await.unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(started.elapsed() > TIMEOUTS.header_read * 2);
    // Then nothing: the idle timeout closes it.
    let idle_from = Instant::now();
    let (closed, _) = wait_for_close(&mut stream, Duration::from_secs(6)).await;
    let after = closed - idle_from;
    assert!(
        after >= TIMEOUTS.idle - Duration::from_millis(400),
        "closed after {after:?}"
    );
}
