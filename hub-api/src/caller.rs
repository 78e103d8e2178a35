//! Who is calling: the role from the identity headers the trusted web proxy sets.

use hub_core::roles::Role;
use poem::{FromRequest, Request, RequestBody};

/// The caller's identity, extracted from `X-User-Roles` (API.md section 1).
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
/// ```
pub fn role_key(req: &Request) -> String {
    format!("role={}", Caller::of(req).role.as_str())
}
