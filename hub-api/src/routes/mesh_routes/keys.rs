//! The cache key of the route list: the role, and the caller's user id when `mine` may be
//! true.

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
        return role.to_owned();
    }
    let user = user_id(req).map_or_else(
        || "none".to_string(),
        |id| hex::encode(&Sha256::digest(id.as_bytes())[..16]),
    );
    format!("{role};user={user}")
}
