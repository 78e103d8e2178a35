//! `/api/v1/feeds/...`: public RSS 2.0 and Atom feeds of messages, adverts, new nodes and
//! each community channel (MeshCore Hub v0.21).
//!
//! Every feed is the **logged-out view**: channel visibility is the anonymous caller's
//! (community channels and the built-in Public channel 17), spam is hidden whenever spam
//! detection is on, identity headers are never read, and there are no filters or pages, so
//! a feed is keyed by its path alone and marked `Cache-Control: public, max-age=<ttl>`
//! (`#[cached(public)]`). `FEATURE_FEEDS=false` answers 404 before the cache is consulted
//! ([`when_enabled`]). Item links point at the web dashboard's pages: `WEB_PUBLIC_URL`, else
//! `X-Forwarded-Host`/`X-Forwarded-Proto`, else the request's own origin.

mod document;
mod query;

use crate::body::ErrorText;
use crate::documented::{Documented, TextFormat};
use crate::error::ApiError;
use crate::query::lookups::NodeNames;
use crate::responses::{ErrorSet, InvalidParams, Reply, Unauthorized, Unavailable};
use crate::routes::ApiTags;
use crate::state::AppState;
use document::{FeedItem, FeedMeta, iso};
use hub_core::settings::FeedSettings;
use hub_macros::{cached, cached_api};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, OpenApi, param::Path};
use query::MessageScope;
use std::sync::Arc;

/// `Content-Type` of the RSS feeds.
pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
/// `Content-Type` of the Atom feeds.
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
/// Where every feed lives; [`when_enabled`] answers 404 below it when feeds are off.
pub const FEEDS_PATH: &str = "/api/v1/feeds/";

/// The two formats every feed is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RSS 2.0 (`.xml`).
    Rss,
    /// Atom (`.atom`).
    Atom,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Rss => RSS_CONTENT_TYPE,
            Format::Atom => ATOM_CONTENT_TYPE,
        }
    }
}

/// A feed document. `RSS` and `ATOM` say which formats the operation answers, so that its
/// OpenAPI responses list exactly those content types.
#[derive(Debug)]
pub struct Feed<const RSS: bool, const ATOM: bool> {
    format: Format,
    xml: String,
}

/// An RSS-only operation's response.
pub type RssFeed = Feed<true, false>;
/// An Atom-only operation's response.
pub type AtomFeed = Feed<false, true>;
/// The response of an operation answering either format (by the path's extension).
pub type AnyFeed = Feed<true, true>;

impl<const RSS: bool, const ATOM: bool> IntoResponse for Feed<RSS, ATOM> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.format.content_type())
            .body(self.xml)
    }
}

impl<const RSS: bool, const ATOM: bool> ApiResponse for Feed<RSS, ATOM> {
    fn meta() -> MetaResponses {
        let formats = [(RSS, RSS_CONTENT_TYPE), (ATOM, ATOM_CONTENT_TYPE)];
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The feed document (XML, 50 items at most, newest first).",
                status: Some(200),
                status_range: None,
                content: formats
                    .into_iter()
                    .filter(|(served, _)| *served)
                    .map(|(_, content_type)| MetaMediaType {
                        content_type,
                        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// 404 of a feed: feeds are off, or the channel has no public feed.
pub struct FeedNotFound;

impl ErrorSet for FeedNotFound {
    fn responses() -> Vec<MetaResponse> {
        vec![MetaResponse {
            description: "`Feeds are disabled` (FEATURE_FEEDS=false), or `Channel <idx> is not \
                          available as a public feed` (not a community, enabled channel).",
            status: Some(404),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: ErrorText::schema_ref(),
            }],
            headers: vec![],
        }]
    }

    fn register(registry: &mut Registry) {
        ErrorText::register(registry);
    }
}

/// What a feed can answer besides 200 and 304.
pub type FeedErrors = (Unauthorized, FeedNotFound, Unavailable);
/// What a channel feed can answer besides 200 and 304: [`FeedErrors`] and a bad file name.
pub type ChannelFeedErrors = (Unauthorized, FeedNotFound, InvalidParams, Unavailable);

/// The file name of a channel feed: `<channel index>.xml` or `<channel index>.atom`.
pub struct ChannelFeedFile;

impl TextFormat for ChannelFeedFile {
    const NAME: &'static str = "ChannelFeedFile";

    fn schema() -> MetaSchema {
        MetaSchema {
            pattern: Some(r"^[0-9]+\.(xml|atom)$".to_owned()),
            ..MetaSchema::new("string")
        }
    }
}

impl ChannelFeedFile {
    /// The channel index and format of `file`, or the 422 naming the path parameter. An index
    /// too large for any channel is `None` (its feed is then simply not available).
    fn parse(file: &str) -> Result<(Option<i32>, Format), ApiError> {
        let invalid = || ApiError::Invalid {
            location: "path",
            name: "feed",
            msg: "must be <channel index>.xml or <channel index>.atom".to_owned(),
            kind: "value_error",
        };
        let (idx, ext) = file.rsplit_once('.').ok_or_else(invalid)?;
        let format = match ext {
            "xml" => Format::Rss,
            "atom" => Format::Atom,
            _ => return Err(invalid()),
        };
        if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        Ok((idx.parse().ok(), format))
    }
}

/// Answers `404 Feeds are disabled` for every path below [`FEEDS_PATH`] when feeds are off,
/// before the cache or the handler is reached (an entry stored while they were on, or by
/// another instance, is never served).
pub async fn when_enabled<E: Endpoint>(
    enabled: bool,
    next: E,
    req: Request,
) -> poem::Result<Response> {
    if !enabled && req.uri().path().starts_with(FEEDS_PATH) {
        return Err(ApiError::Detail {
            status: StatusCode::NOT_FOUND,
            text: "Feeds are disabled".to_owned(),
        }
        .into());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The web dashboard's origin that feed links start with: `WEB_PUBLIC_URL`, else the
/// forwarded host (and protocol: `https`, else `http`), else the request's own host.
fn public_origin(settings: &FeedSettings, req: &Request) -> String {
    if let Some(origin) = settings.public_origin() {
        return origin.to_owned();
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    // A chain of proxies lists the client-facing value first; a scheme other than http(s)
    // would make every link unusable, so it falls back to http.
    let first = |value: &'_ str| value.split(',').next().unwrap_or("").trim().to_owned();
    if let Some(host) = header("x-forwarded-host")
        .map(first)
        .filter(|h| !h.is_empty())
    {
        let proto = match header("x-forwarded-proto").map(first).as_deref() {
            Some("https") => "https",
            _ => "http",
        };
        return format!("{proto}://{host}").trim_end_matches('/').to_owned();
    }
    let host = header("host")
        .or_else(|| req.uri().host())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// What the feed of one request is built with: `NETWORK_NAME`, the links' origin and the
/// feed's own path.
struct FeedContext<'a> {
    settings: &'a FeedSettings,
    origin: String,
    self_path: String,
}

impl<'a> FeedContext<'a> {
    fn of(state: &'a AppState, req: &Request) -> Self {
        let path = req.uri().path();
        FeedContext {
            settings: &state.feeds,
            origin: public_origin(&state.feeds, req),
            // Readers refresh from the self URL: the web tier's clean alias, not the API path.
            self_path: path.strip_prefix("/api/v1").unwrap_or(path).to_owned(),
        }
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn meta(&self, what: &str, page: &str) -> FeedMeta {
        let network = &self.settings.network_name;
        FeedMeta {
            title: format!("{network} — {what}"),
            link: self.link(page),
            description: format!("{network} mesh activity: {}", what.to_lowercase()),
            self_url: self.link(&self.self_path),
        }
    }

    fn render<const RSS: bool, const ATOM: bool>(
        &self,
        format: Format,
        meta: &FeedMeta,
        items: &[FeedItem],
    ) -> Result<Feed<RSS, ATOM>, ApiError> {
        let xml = match format {
            Format::Rss => document::rss(meta, items),
            Format::Atom => document::atom(meta, items),
        }
        // Writing into memory cannot fail; should it, the request fails, never the process.
        .map_err(|e| ApiError::Detail {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            text: format!("feed document: {e}"),
        })?;
        Ok(Feed { format, xml })
    }
}

/// A node's display name: its `name` tag, else `advertised`, else its own name, else the
/// first 12 characters of its public key (empty values skipped).
fn display_name(names: Option<&NodeNames>, advertised: Option<&str>, public_key: &str) -> String {
    let non_empty = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    non_empty(names.and_then(|n| n.tag_name.as_deref()))
        .or_else(|| non_empty(advertised))
        .or_else(|| non_empty(names.and_then(|n| n.name.as_deref())))
        .unwrap_or_else(|| public_key.chars().take(12).collect())
}

/// The first `n` characters of `text`.
fn prefix(text: &str, n: usize) -> &str {
    text.char_indices().nth(n).map_or(text, |(i, _)| &text[..i])
}

/// The newest messages of `scope`, titled by their sender's names, as a feed.
async fn messages_feed<const RSS: bool, const ATOM: bool>(
    state: &AppState,
    format: Format,
    scope: MessageScope,
    meta: FeedMeta,
    ctx: &FeedContext<'_>,
) -> Result<Feed<RSS, ATOM>, ApiError> {
    let (rows, senders) =
        query::newest_messages(&state.db, scope, state.spam.hidden_from(false)).await?;
    let items: Vec<FeedItem> = rows
        .into_iter()
        .map(|m| {
            let sender = m.pubkey_prefix.as_ref().map(|p| {
                senders
                    .get(p)
                    .and_then(|n| {
                        n.tag_name
                            .clone()
                            .filter(|s| !s.is_empty())
                            .or_else(|| n.name.clone().filter(|s| !s.is_empty()))
                    })
                    .unwrap_or_else(|| p.clone())
            });
            let who = sender
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| m.message_type.clone());
            let (guid, link) = match m.packet_hash.as_deref().filter(|h| !h.is_empty()) {
                Some(hash) => (hash.to_owned(), ctx.link(&format!("/packets/hash/{hash}"))),
                None => (format!("msg:{}", m.id), ctx.link("/messages")),
            };
            FeedItem {
                title: format!("{who}: {}", prefix(&m.text, 80)).trim().to_owned(),
                description: m.text,
                guid,
                link,
                published: m.received_at.0,
            }
        })
        .collect();
    ctx.render(format, &meta, &items)
}

async fn messages<const RSS: bool, const ATOM: bool>(
    state: &AppState,
    req: &Request,
    format: Format,
) -> Result<Feed<RSS, ATOM>, ApiError> {
    let ctx = FeedContext::of(state, req);
    let meta = ctx.meta("Public Messages", "/messages");
    messages_feed(state, format, MessageScope::Public, meta, &ctx).await
}

async fn adverts<const RSS: bool, const ATOM: bool>(
    state: &AppState,
    req: &Request,
    format: Format,
) -> Result<Feed<RSS, ATOM>, ApiError> {
    let ctx = FeedContext::of(state, req);
    let (rows, names) = query::newest_adverts(&state.db).await?;
    let items: Vec<FeedItem> = rows
        .into_iter()
        .map(|a| {
            let node = a.node_id.as_ref().and_then(|id| names.get(id));
            let link = match a.packet_hash.as_deref().filter(|h| !h.is_empty()) {
                Some(hash) => ctx.link(&format!("/packets/hash/{hash}")),
                None => ctx.link(&format!("/nodes/{}", a.public_key)),
            };
            let advertised_at = a.advert_timestamp.unwrap_or(a.received_at);
            FeedItem {
                title: display_name(node, a.name.as_deref(), &a.public_key),
                description: format!(
                    "{} - {}",
                    a.adv_type.as_deref().unwrap_or("node"),
                    iso(advertised_at.0)
                ),
                guid: format!("advert:{}", a.id),
                link,
                published: a.received_at.0,
            }
        })
        .collect();
    ctx.render(format, &ctx.meta("Node Adverts", "/advertisements"), &items)
}

async fn nodes<const RSS: bool, const ATOM: bool>(
    state: &AppState,
    req: &Request,
    format: Format,
) -> Result<Feed<RSS, ATOM>, ApiError> {
    let ctx = FeedContext::of(state, req);
    let (rows, names) = query::newest_nodes(&state.db).await?;
    let items: Vec<FeedItem> = rows
        .into_iter()
        .map(|n| FeedItem {
            title: display_name(names.get(&n.id), None, &n.public_key),
            description: format!(
                "{} - {}",
                n.adv_type.as_deref().unwrap_or("node"),
                n.last_seen
                    .map_or_else(|| "unknown".to_owned(), |t| iso(t.0))
            ),
            guid: format!("node:{}", n.public_key),
            link: ctx.link(&format!("/nodes/{}", n.public_key)),
            published: n.created_at.0,
        })
        .collect();
    ctx.render(format, &ctx.meta("New Nodes", "/nodes"), &items)
}

/// Feed endpoints.
pub struct FeedsApi;

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Feeds")]
impl FeedsApi {
    /// Public messages (RSS 2.0): the newest 50 messages an anonymous caller may read,
    /// spam hidden when spam detection is on.
    #[oai(path = "/feeds/messages.xml", method = "get")]
    #[cached(name = "feeds/messages/rss", ttl = feeds, public, reads = [messages, channels, nodes, node_tags])]
    async fn messages_rss(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<RssFeed, FeedErrors> {
        Ok(messages(&state, req, Format::Rss).await?)
    }

    /// Public messages (Atom).
    #[oai(path = "/feeds/messages.atom", method = "get")]
    #[cached(name = "feeds/messages/atom", ttl = feeds, public, reads = [messages, channels, nodes, node_tags])]
    async fn messages_atom(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<AtomFeed, FeedErrors> {
        Ok(messages(&state, req, Format::Atom).await?)
    }

    /// Node adverts (RSS 2.0): the newest advert of each of the 50 nodes that advertised last.
    #[oai(path = "/feeds/adverts.xml", method = "get")]
    #[cached(name = "feeds/adverts/rss", ttl = feeds, public, reads = [advertisements, nodes, node_tags])]
    async fn adverts_rss(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<RssFeed, FeedErrors> {
        Ok(adverts(&state, req, Format::Rss).await?)
    }

    /// Node adverts (Atom).
    #[oai(path = "/feeds/adverts.atom", method = "get")]
    #[cached(name = "feeds/adverts/atom", ttl = feeds, public, reads = [advertisements, nodes, node_tags])]
    async fn adverts_atom(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<AtomFeed, FeedErrors> {
        Ok(adverts(&state, req, Format::Atom).await?)
    }

    /// New nodes (RSS 2.0): the 50 nodes created last.
    #[oai(path = "/feeds/nodes.xml", method = "get")]
    #[cached(name = "feeds/nodes/rss", ttl = feeds, public, reads = [nodes, node_tags])]
    async fn nodes_rss(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<RssFeed, FeedErrors> {
        Ok(nodes(&state, req, Format::Rss).await?)
    }

    /// New nodes (Atom).
    #[oai(path = "/feeds/nodes.atom", method = "get")]
    #[cached(name = "feeds/nodes/atom", ttl = feeds, public, reads = [nodes, node_tags])]
    async fn nodes_atom(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Reply<AtomFeed, FeedErrors> {
        Ok(nodes(&state, req, Format::Atom).await?)
    }

    /// One channel's messages, `<idx>.xml` (RSS 2.0) or `<idx>.atom` (Atom): only community,
    /// enabled channels and the built-in Public channel (17) have a feed; others answer 404.
    #[oai(path = "/feeds/channels/:feed", method = "get")]
    #[cached(name = "feeds/channel", ttl = feeds, public, reads = [channels, messages, nodes, node_tags])]
    async fn channel(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        /// `<channel index>.xml` or `<channel index>.atom`, e.g. `17.xml`.
        feed: Path<Documented<ChannelFeedFile>>,
    ) -> Reply<AnyFeed, ChannelFeedErrors> {
        let (idx, format) = ChannelFeedFile::parse(&feed.0)?;
        let name = match idx {
            Some(idx) => query::public_channel_name(&state.db, idx).await?,
            None => None,
        };
        let (Some(idx), Some(name)) = (idx, name) else {
            let shown = feed.0.rsplit_once('.').map_or(&*feed.0, |(idx, _)| idx);
            return Err(ApiError::Detail {
                status: StatusCode::NOT_FOUND,
                text: format!("Channel {shown} is not available as a public feed"),
            }
            .into());
        };
        let ctx = FeedContext::of(&state, req);
        let meta = ctx.meta(&name, &format!("/messages?channel_idx={idx}"));
        Ok(messages_feed(&state, format, MessageScope::Channel(idx), meta, &ctx).await?)
    }
}
