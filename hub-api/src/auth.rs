//! API keys (docs/contract/api.md section 1): bearer tokens compared in constant time.

use crate::error::{ApiError, Denied};
use hub_core::settings::AuthSettings;
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use subtle::ConstantTimeEq;

/// What a request's token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No keys demand anything, or the token is the read key.
    Read,
    /// The token is the admin key.
    Admin,
}

/// The bearer token of a request (`Authorization: Bearer <t>`, scheme case-insensitive).
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Decides a read endpoint: open when no key is configured; otherwise the read or admin key.
pub fn check_read(keys: &AuthSettings, token: Option<&str>) -> Result<Access, Denied> {
    if keys.read_key.is_none() && keys.admin_key.is_none() {
        return Ok(Access::Read);
    }
    let token = token.ok_or(Denied::Missing)?;
    if keys.admin_key.as_deref().is_some_and(|k| same(k, token)) {
        return Ok(Access::Admin);
    }
    if keys.read_key.as_deref().is_some_and(|k| same(k, token)) {
        return Ok(Access::Read);
    }
    Err(Denied::Invalid)
}

/// Decides an admin endpoint: open when no admin key is configured; otherwise only the admin key.
pub fn check_admin(keys: &AuthSettings, token: Option<&str>) -> Result<Access, Denied> {
    let Some(admin_key) = keys.admin_key.as_deref() else {
        return Ok(Access::Admin);
    };
    let token = token.ok_or(Denied::Missing)?;
    if same(admin_key, token) {
        Ok(Access::Admin)
    } else {
        Err(Denied::NotAdmin)
    }
}

/// Whether the identity headers (`X-User-Id`, `X-User-Name`, `X-User-Roles`) of a request
/// bearing `token` are believed.
///
/// Only MeshCore Hub's web tier may speak for a user, and it sends the identity headers
/// together with the most privileged key configured (its `API_KEY` is the admin key, else
/// the read key). So with keys configured the headers count only beside that key; any other
/// caller is anonymous. With no key at all nothing tells the web tier apart, and the
/// headers are believed from anyone (the startup banner says so).
///
/// ```
/// use hub_api::auth::identity_trusted;
/// use hub_core::settings::AuthSettings;
/// let keys = AuthSettings { read_key: Some("r".into()), admin_key: Some("a".into()) };
/// assert!(identity_trusted(&keys, Some("a")));
/// assert!(!identity_trusted(&keys, Some("r")));
/// assert!(!identity_trusted(&keys, None));
/// assert!(identity_trusted(&AuthSettings::default(), None));
/// ```
pub fn identity_trusted(keys: &AuthSettings, token: Option<&str>) -> bool {
    match keys.admin_key.as_deref().or(keys.read_key.as_deref()) {
        None => true,
        Some(key) => token.is_some_and(|token| same(key, token)),
    }
}

/// Which requests [`identity_trusted`] believes, in words for the startup banner.
///
/// ```
/// use hub_core::settings::AuthSettings;
/// assert_eq!(hub_api::auth::identity_rule(&AuthSettings::default()), "trusted from any caller");
/// ```
pub fn identity_rule(keys: &AuthSettings) -> &'static str {
    match (&keys.admin_key, &keys.read_key) {
        (Some(_), _) => "only beside the admin key",
        (None, Some(_)) => "only beside the read key",
        (None, None) => "trusted from any caller",
    }
}

/// Paths whose writes check the admin key in the handler (RequireAdmin): a wrong token
/// there is 403 `Admin access required`, not the read check's 401 `Invalid API key`.
const ADMIN_WRITE_PATHS: &[&str] = &["/api/v1/channels"];

/// Whether the read-key middleware leaves `req` to its handler's own key check.
fn handler_checks_key(method: &Method, path: &str) -> bool {
    let write = *method != Method::GET && *method != Method::HEAD;
    write
        && ADMIN_WRITE_PATHS
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// RequireAdmin for a write handler: the admin key rules of [`check_admin`].
pub fn require_admin_key(keys: &AuthSettings, req: &Request) -> Result<(), ApiError> {
    check_admin(keys, bearer_token(req))?;
    Ok(())
}

/// Operations that need no key even when keys are configured: MeshCore Hub's web server
/// calls `/user/profile/me` at login, before it holds a session, and it identifies the user
/// by the identity headers alone (docs/contract/api-2.md section 6).
const KEYLESS_PATHS: &[&str] = &["/api/v1/user/profile/me"];

/// Middleware that applies the read-key rules to the data routes (`/api/v1/...`); health
/// probes stay open so orchestrators need no key.
pub struct RequireReadKey(pub AuthSettings);

impl<E: Endpoint> Middleware<E> for RequireReadKey {
    type Output = RequireReadKeyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequireReadKeyEndpoint {
            inner,
            keys: self.0.clone(),
        }
    }
}

/// The endpoint [`RequireReadKey`] produces.
pub struct RequireReadKeyEndpoint<E> {
    inner: E,
    keys: AuthSettings,
}

impl<E: Endpoint> Endpoint for RequireReadKeyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path();
        if !path.starts_with("/api/v1")
            || KEYLESS_PATHS.contains(&path.trim_end_matches('/'))
            || handler_checks_key(req.method(), path)
        {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        match check_read(&self.keys, bearer_token(&req)) {
            Ok(_) => self.inner.call(req).await.map(IntoResponse::into_response),
            Err(denied) => Ok(denied.response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(read: Option<&str>, admin: Option<&str>) -> AuthSettings {
        AuthSettings {
            read_key: read.map(str::to_string),
            admin_key: admin.map(str::to_string),
        }
    }

    #[test]
    fn read_rules() {
        assert_eq!(check_read(&keys(None, None), None), Ok(Access::Read));
        let k = keys(Some("r"), Some("a"));
        assert_eq!(check_read(&k, None), Err(Denied::Missing));
        assert_eq!(check_read(&k, Some("r")), Ok(Access::Read));
        assert_eq!(check_read(&k, Some("a")), Ok(Access::Admin));
        assert_eq!(check_read(&k, Some("x")), Err(Denied::Invalid));
        // An admin key alone also closes the read endpoints.
        assert_eq!(
            check_read(&keys(None, Some("a")), None),
            Err(Denied::Missing)
        );
    }

    #[test]
    fn admin_rules() {
        assert_eq!(check_admin(&keys(Some("r"), None), None), Ok(Access::Admin));
        let k = keys(Some("r"), Some("a"));
        assert_eq!(check_admin(&k, None), Err(Denied::Missing));
        assert_eq!(check_admin(&k, Some("r")), Err(Denied::NotAdmin));
        assert_eq!(check_admin(&k, Some("a")), Ok(Access::Admin));
    }

    #[test]
    fn identity_follows_the_most_privileged_key() {
        let read_only = keys(Some("r"), None);
        assert!(identity_trusted(&read_only, Some("r")));
        assert!(!identity_trusted(&read_only, Some("x")));
        assert!(!identity_trusted(&read_only, None));
        let admin_only = keys(None, Some("a"));
        assert!(identity_trusted(&admin_only, Some("a")));
        assert!(!identity_trusted(&admin_only, None));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let req = Request::builder()
            .header("Authorization", "bEaReR  tok ")
            .finish();
        assert_eq!(bearer_token(&req), Some("tok"));
        let req = Request::builder()
            .header("Authorization", "Basic tok")
            .finish();
        assert_eq!(bearer_token(&req), None);
    }
}
