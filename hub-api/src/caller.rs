//! Who is calling: the role from the identity headers the trusted web proxy sets.
//!
//! The headers are believed only as [`crate::auth::identity_trusted`] says; the
//! [`drop_untrusted_identity`] step removes them from every other request before any
//! handler, cache key or write reads them, so all of those see an anonymous caller.

use crate::auth::{bearer_token, identity_trusted};
use crate::error::ApiError;
use hub_core::roles::Role;
use hub_core::roles::role_names;
use hub_core::settings::AuthSettings;
use poem::{FromRequest, Request, RequestBody};

/// The identity headers the web tier sets for its user.
pub const IDENTITY_HEADERS: [&str; 3] = ["x-user-id", "x-user-name", "x-user-roles"];

/// Removes the [`IDENTITY_HEADERS`] of a request whose key does not make them trusted
/// ([`identity_trusted`]), before any handler, cache key or write reads them (a step of
/// [`crate::middleware::HubMiddleware`]).
///
/// ```
/// use hub_api::caller::drop_untrusted_identity;
/// use hub_core::settings::AuthSettings;
/// let keys = AuthSettings { read_key: Some("r".into()), admin_key: Some("a".into()) };
/// let mut req = poem::Request::builder().header("x-user-roles", "admin").finish();
/// drop_untrusted_identity(&keys, &mut req);
/// assert!(req.headers().get("x-user-roles").is_none());
/// let mut req = poem::Request::builder()
///     .header("x-user-roles", "admin")
///     .header("authorization", "Bearer a")
///     .finish();
/// drop_untrusted_identity(&keys, &mut req);
/// assert!(req.headers().get("x-user-roles").is_some());
/// ```
pub fn drop_untrusted_identity(keys: &AuthSettings, req: &mut Request) {
    if !identity_trusted(keys, bearer_token(req)) {
        for name in IDENTITY_HEADERS {
            req.headers_mut().remove(name);
        }
    }
}

/// The caller's identity, extracted from `X-User-Roles` (docs/contract/api.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The highest role in `X-User-Roles`, or anonymous.
    pub role: Role,
}

impl Caller {
    /// The caller of `req`.
    pub fn of(req: &Request) -> Caller {
        let header = req
            .headers()
            .get("x-user-roles")
            .and_then(|v| v.to_str().ok());
        Caller {
            role: Role::from_roles_header(header),
        }
    }
}

impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Caller::of(req))
    }
}

/// The cache-key variant of role-sensitive endpoints: `role=<name>`.
///
/// ```
/// let req = poem::Request::builder().header("X-User-Roles", "member,operator").finish();
/// assert_eq!(hub_api::caller::role_key(&req), "role=operator");
/// let anonymous = poem::Request::builder().finish();
/// assert_eq!(hub_api::caller::role_key(&anonymous), "role=anonymous");
/// ```
pub fn role_key(req: &Request) -> &'static str {
    match Caller::of(req).role {
        Role::Anonymous => "role=anonymous",
        Role::Member => "role=member",
        Role::Operator => "role=operator",
        Role::Admin => "role=admin",
    }
}

/// Who the trusted web proxy says the user is: `X-User-Id`, `X-User-Name` and the raw
/// `X-User-Roles`, each `None` when absent or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The identity provider's user id.
    pub user_id: Option<String>,
    /// The user's display name.
    pub user_name: Option<String>,
    /// The comma list of roles, as sent.
    pub roles: Option<String>,
}

impl Identity {
    /// The identity headers of `req`.
    ///
    /// ```
    /// let req = poem::Request::builder().header("X-User-Id", "u1").header("X-User-Roles", "").finish();
    /// let who = hub_api::caller::Identity::of(&req);
    /// assert_eq!(who.user_id.as_deref(), Some("u1"));
    /// assert_eq!(who.roles, None);
    /// ```
    pub fn of(req: &Request) -> Identity {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Identity {
            user_id: header("x-user-id"),
            user_name: header("x-user-name"),
            roles: header("x-user-roles"),
        }
    }
}

impl<'a> FromRequest<'a> for Identity {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Identity::of(req))
    }
}

/// RequireUserOwner after the key check: the caller's `X-User-Id`, else 401
/// `User identity required`.
pub fn require_user(identity: &Identity) -> Result<&str, ApiError> {
    identity
        .user_id
        .as_deref()
        .ok_or(ApiError::Unauthorized("User identity required"))
}

/// RequireOperatorOrAdmin after the key check: [`require_user`], then `operator` or `admin`
/// among the `X-User-Roles` entries, else 403 `Operator or admin role required`.
pub fn require_operator_or_admin(identity: &Identity) -> Result<&str, ApiError> {
    let user_id = require_user(identity)?;
    if has_role(identity, "operator") || has_role(identity, "admin") {
        Ok(user_id)
    } else {
        Err(ApiError::forbidden("Operator or admin role required"))
    }
}

/// Whether `role` is among the caller's `X-User-Roles` entries (split on `,`, trimmed, exact).
pub fn has_role(identity: &Identity, role: &str) -> bool {
    role_names(identity.roles.as_deref())
        .iter()
        .any(|r| r == role)
}
