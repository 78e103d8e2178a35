//! Serving the app over TCP with bounded client timeouts.
//!
//! poem's server closes a connection that shows no traffic either way for its idle timeout,
//! but has no header-read timeout: a client that sends a request line one byte every few
//! seconds holds a connection (and its task) forever. hyper has one, but poem builds hyper's
//! connection itself and does not expose it. So each accepted stream is wrapped in a
//! [`HeaderDeadline`], which watches the bytes the server reads and fails the read once a
//! request head (line and headers, up to its empty line) takes longer than the timeout.

use crate::cli::{ServeArgs, StartError, open_database};
use crate::seed;
use crate::state::AppState;
use hub_core::cache::runtime::ResponseCache;
use hub_core::db::{self, SchemaState};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, IntoEndpoint, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a graceful shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Client timeouts of the server (`API_HEADER_READ_TIMEOUT`, `API_IDLE_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// Longest time from a request's first byte (or from connecting) to the end of its head.
    pub header_read: Duration,
    /// Longest time a connection may carry no traffic either way.
    pub idle: Duration,
}

impl From<&hub_core::settings::TimeoutSettings> for ClientTimeouts {
    fn from(settings: &hub_core::settings::TimeoutSettings) -> Self {
        ClientTimeouts {
            header_read: settings.header_read(),
            idle: settings.idle(),
        }
    }
}

/// Serves `app` on the connections `acceptor` accepts until `shutdown` resolves, then waits
/// up to [`SHUTDOWN_GRACE`] for requests in flight.
pub async fn serve<A, E>(
    acceptor: A,
    app: E,
    timeouts: ClientTimeouts,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    A: Acceptor + 'static,
    E: IntoEndpoint,
    E::Endpoint: Endpoint + 'static,
{
    Server::new_with_acceptor(HeaderDeadlineAcceptor {
        inner: acceptor,
        timeout: timeouts.header_read,
    })
    .idle_timeout(timeouts.idle)
    .run_with_graceful_shutdown(app, shutdown, Some(SHUTDOWN_GRACE))
    .await
}

/// An acceptor whose streams are [`HeaderDeadline`]s.
struct HeaderDeadlineAcceptor<A> {
    inner: A,
    timeout: Duration,
}

impl<A: Acceptor> Acceptor for HeaderDeadlineAcceptor<A> {
    type Io = HeaderDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((HeaderDeadline::new(io, self.timeout), local, remote, scheme))
    }
}

/// Where a connection is in its request/response cycle, as far as its bytes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head; the deadline runs.
    Head,
    /// The head is complete: body, handler and response are the idle timeout's business.
    Message,
    /// A response was written; the next byte read starts a new head.
    BetweenRequests,
    /// HTTP/2 (prior knowledge): frames, not text heads; only the idle timeout applies.
    Http2,
}

/// A stream that fails its reads when a request head is not complete within `timeout`.
///
/// The head ends at its first empty line (`\r\n\r\n`, or `\n\n` which HTTP/1 parsers accept
/// too); the deadline starts when the connection opens and again at the first byte after
/// each response.
pub struct HeaderDeadline<Io> {
    inner: Io,
    timeout: Duration,
    phase: Phase,
    deadline: Option<Pin<Box<Sleep>>>,
    /// The last two bytes of the head read so far, to find an empty line across reads.
    recent: [u8; 2],
    read_any: bool,
}

impl<Io> HeaderDeadline<Io> {
    fn new(inner: Io, timeout: Duration) -> Self {
        HeaderDeadline {
            inner,
            timeout,
            phase: Phase::Head,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            recent: [0; 2],
            read_any: false,
        }
    }

    /// Follows the phase through `bytes` just read.
    fn observe(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if !self.read_any {
            self.read_any = true;
            if bytes.starts_with(b"PRI * HTTP/2") {
                self.phase = Phase::Http2;
                self.deadline = None;
                return;
            }
        }
        if self.phase == Phase::BetweenRequests {
            self.phase = Phase::Head;
            self.recent = [0; 2];
            self.deadline = Some(Box::pin(tokio::time::sleep(self.timeout)));
        }
        if self.phase != Phase::Head {
            return;
        }
        for &byte in bytes {
            let [before, last] = self.recent;
            if byte == b'\n' && (last == b'\n' || (last == b'\r' && before == b'\n')) {
                self.phase = Phase::Message;
                self.deadline = None;
                return;
            }
            self.recent = [last, byte];
        }
    }

    /// Follows the phase through `written` bytes that start with `start`: a response ends
    /// the message, an interim `1xx` (`100 Continue`, sent before the body) does not.
    fn wrote(&mut self, written: usize, start: &[u8]) {
        let interim = start.starts_with(b"HTTP/1.1 1") || start.starts_with(b"HTTP/1.0 1");
        if written > 0 && !interim && self.phase == Phase::Message {
            self.phase = Phase::BetweenRequests;
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for HeaderDeadline<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head not received within the header-read timeout",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.observe(&buf.filled()[before..]);
        }
        result
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for HeaderDeadline<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            self.wrote(written, buf);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = result {
            let start = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            self.wrote(written, start);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `hub-api serve`: validates the settings, opens the database, builds the app and serves it
/// until SIGINT or SIGTERM, then stops gracefully.
pub async fn run(args: ServeArgs) -> Result<(), StartError> {
    let ServeArgs {
        server,
        database,
        auth,
        runtime,
        cache,
        http,
        spam,
        roles,
        timeouts,
        feeds,
        freshness,
        demo,
    } = args;
    server.validate()?;
    timeouts.validate()?;
    cache.validate()?;
    spam.validate()?;
    http.validate()?;
    roles.validate()?;
    feeds.validate()?;
    freshness.validate()?;
    let intent = if demo {
        db::Intent::ServeDemo
    } else {
        db::Intent::Serve
    };
    let (conn, target, schema) =
        open_database(&database, intent, Some(timeouts.statement())).await?;
    if schema == SchemaState::ExternallyManaged {
        match crate::read_indexes::missing_hint(&conn, crate::read_indexes::LARGE_TABLE_ROWS).await
        {
            Ok(Some(hint)) => tracing::warn!("{hint}"),
            Ok(None) => {}
            Err(err) => tracing::debug!(%err, "could not check hub's read indexes"),
        }
    }
    if demo {
        seed::seed_demo_if_empty(&conn)
            .await
            .map_err(|e| StartError::Other(e.to_string()))?;
    }
    let state = AppState {
        auth: auth.normalized(),
        raw_packet_retention_days: runtime.raw_packet_retention_days,
        spam,
        roles,
        feeds,
        ..AppState::new(conn.clone(), ResponseCache::from_settings(&cache).await)
            .with_kept_counts_renew_after(freshness.renew_after())
    };
    let response_cache = state.cache.clone();
    let watch = freshness
        .check_interval()
        .map(|interval| hub_core::changes::watch(target.clone(), state.cache.clone(), interval));
    let past_days = state.clone();
    tokio::spawn(async move {
        // Harmless when it fails: each request then reads what it needs itself.
        let started = std::time::Instant::now();
        match read_kept_values(&past_days).await {
            Ok(()) => tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "kept counts read"
            ),
            Err(err) => tracing::debug!(%err, "could not read the kept counts"),
        }
    });
    let address = server.bind_address();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %address,
        database = %target.describe(),
        read_key = state.auth.read_key.is_some(),
        admin_key = state.auth.admin_key.is_some(),
        identity_headers = crate::auth::identity_rule(&state.auth),
        cache = %cache.banner(),
        cache_control = http.cache_control(),
        spam_detection = spam.spam_detection_enabled,
        metrics = http.metrics.metrics_enabled,
        metrics_public = http.metrics.metrics_public,
        cors_origins = http
            .cors
            .origins()
            .map_or("any, without credentials".to_string(), |o| o.join(",")),
        header_read_timeout_s = timeouts.header_read_timeout,
        idle_timeout_s = timeouts.idle_timeout,
        statement_timeout_s = timeouts.database_statement_timeout,
        data_change_check_ms = freshness.data_change_check_ms,
        "hub serving http://{address}/api/v1, docs at http://{address}{}",
        crate::app::DOCS_PATH
    );
    if state.auth.read_key.is_none() && state.auth.admin_key.is_none() {
        tracing::warn!(
            "no API key configured: the API is open, and the identity headers \
             (X-User-Id, X-User-Name, X-User-Roles) are trusted from any caller; \
             set API_ADMIN_KEY (or API_READ_KEY) so that only the web tier holding \
             it can act for a user"
        );
    }
    let app = crate::app::build_with(state, http.clone());
    let acceptor = TcpListener::bind(address)
        .into_acceptor()
        .await
        .map_err(|e| StartError::Other(format!("server: {e}")))?;
    crate::server::serve(
        acceptor,
        app,
        crate::server::ClientTimeouts::from(&timeouts),
        shutdown_signal(),
    )
    .await
    .map_err(|e| StartError::Other(format!("server: {e}")))?;
    if let Some(watch) = watch {
        watch.abort();
    }
    response_cache.backend().close().await;
    conn.close().await.ok();
    tracing::info!("hub stopped");
    Ok(())
}

/// Reads what the first requests after a start would otherwise read or group themselves: the
/// dashboard's past days, the hours the packet-group list's total keeps for its first page
/// (unfiltered and for each `path_hash_bytes`) and the packet list's kept totals of
/// `decryptable`: the filters whose every value is known. `serve` runs it on a task of its
/// own once it listens; a failure is harmless (each request then reads what it needs).
///
/// ```no_run
/// # async fn demo(state: std::sync::Arc<hub_api::state::AppState>) {
/// tokio::spawn(async move { hub_api::server::read_kept_values(&state).await });
/// # }
/// ```
pub async fn read_kept_values(state: &AppState) -> Result<(), crate::error::ApiError> {
    crate::routes::dashboard::read_past_days(state).await?;
    crate::routes::packet_groups::read_kept_hours(state).await?;
    crate::routes::packets::read_kept_totals(state).await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_after(chunks: &[&[u8]]) -> Phase {
        let mut stream = HeaderDeadline::new(tokio::io::empty(), Duration::from_secs(1));
        for chunk in chunks {
            stream.observe(chunk);
        }
        stream.phase
    }

    #[tokio::test]
    async fn the_head_ends_at_its_empty_line_across_reads() {
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\nHost: a\r"]), Phase::Head);
        assert_eq!(
            phase_after(&[b"GET / HTTP/1.1\r\nHost: a\r", b"\n\r", b"\n"]),
            Phase::Message
        );
        assert_eq!(
            phase_after(&[b"GET / HTTP/1.1\nHost: a\n\n"]),
            Phase::Message
        );
        assert_eq!(
            phase_after(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]),
            Phase::Http2
        );
    }

    #[tokio::test]
    async fn a_response_starts_the_next_head() {
        let mut stream = HeaderDeadline::new(tokio::io::empty(), Duration::from_secs(1));
        stream.observe(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        stream.wrote(25, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(stream.phase, Phase::Message, "the body is still to come");
        stream.observe(b"{\"a\":\n\n1}");
        stream.wrote(10, b"HTTP/1.1 200 OK\r\n");
        assert_eq!(stream.phase, Phase::BetweenRequests);
        assert!(stream.deadline.is_none());
        stream.observe(b"G");
        assert_eq!(stream.phase, Phase::Head);
        assert!(stream.deadline.is_some());
    }
}
