//! Cache keys of the route reads: the role, and the caller's user id for `mine=true`, or
//! the route's path.

use crate::caller::role_key;
use crate::params::parse_bool;
use poem::Request;
use sha2::{Digest, Sha256};

/// `X-User-Id`, when present and not blank.
pub(super) fn user_id(req: &Request) -> Option<&str> {
    req.headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
}

/// `text` with `%` and `:` percent-encoded, so it cannot split a cache key's parts.
pub(super) fn escape_key_part(text: &str) -> String {
    text.replace('%', "%25").replace(':', "%3A")
}

#[derive(serde::Deserialize)]
pub(super) struct MineParam {
    mine: Option<String>,
}

/// Cache-key variant of the list: the role, plus a digest of `X-User-Id` whenever `mine` may
/// be true, so that no user's `mine` list is served to another user.
///
/// ```
/// let req = |uri: &str, user: &str| poem::Request::builder().uri(uri.parse().unwrap())
///     .header("X-User-Roles", "operator").header("X-User-Id", user).finish();
/// let key = hub_api::routes::mesh_routes::list_key;
/// assert_eq!(key(&req("/api/v1/routes", "u1")), "role=operator");
/// assert_eq!(key(&req("/api/v1/routes?mine=false", "u1")), "role=operator");
/// assert_ne!(key(&req("/api/v1/routes?mine=true", "u1")), key(&req("/api/v1/routes?mine=true", "u2")));
/// assert!(!key(&req("/api/v1/routes?mine=true", "a:b")).contains(':'));
/// ```
pub fn list_key(req: &Request) -> String {
    let role = role_key(req);
    // An unreadable query is keyed per user too: splitting the cache is safe, sharing is not.
    let mine = req
        .params::<MineParam>()
        .map_err(|_| ())
        .and_then(|p| parse_bool("mine", p.mine.as_deref()).map_err(|_| ()));
    if matches!(mine, Ok(None) | Ok(Some(false))) {
        return role;
    }
    let user = user_id(req).map_or_else(
        || "none".to_string(),
        |id| hex::encode(&Sha256::digest(id.as_bytes())[..16]),
    );
    format!("{role};user={user}")
}

/// Cache-key variant of the per-route operations: the role and the request path, which
/// holds the route id (the macro keys on query parameters only).
///
/// ```
/// let req = |uri: &str| poem::Request::builder().uri(uri.parse().unwrap()).finish();
/// let key = hub_api::routes::mesh_routes::route_key;
/// assert_ne!(key(&req("/api/v1/routes/a")), key(&req("/api/v1/routes/b")));
/// assert_eq!(key(&req("/api/v1/routes/a:b")), "role=anonymous;path=/api/v1/routes/a%3Ab");
/// ```
pub fn route_key(req: &Request) -> String {
    format!(
        "{};path={}",
        role_key(req),
        escape_key_part(req.uri().path())
    )
}
