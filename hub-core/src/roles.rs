//! Caller roles and channel visibility (docs/contract/api.md section 1).

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Index of the built-in Public channel, visible to everyone.
pub const PUBLIC_CHANNEL_IDX: i32 = 17;

/// The default role that marks test accounts (`OIDC_ROLE_TEST`); profiles holding it are
/// left out of the dashboard's member counts and, by default, of the profile list.
pub const TEST_ROLE: &str = "test";

/// The role names of a profile's comma list: split on `,`, trimmed, empties dropped.
///
/// ```
/// assert_eq!(hub_core::roles::role_names(Some("admin, member,,")), ["admin", "member"]);
/// assert!(hub_core::roles::role_names(None).is_empty());
/// ```
pub fn role_names(roles: Option<&str>) -> Vec<String> {
    roles
        .into_iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// The role a caller acts with, from the `X-User-Roles` header the web proxy sets.
///
/// Ordered: `Anonymous < Member < Operator < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// No recognised role.
    Anonymous,
    /// `member`
    Member,
    /// `operator`
    Operator,
    /// `admin`
    Admin,
}

impl Role {
    /// The highest role named in a comma list such as `"member, operator"`.
    ///
    /// Names are matched exactly after trimming; unknown names are ignored.
    ///
    /// ```
    /// use hub_core::roles::Role;
    /// assert_eq!(Role::from_roles_header(Some("member, admin")), Role::Admin);
    /// assert_eq!(Role::from_roles_header(Some("Admin,superuser")), Role::Anonymous);
    /// assert_eq!(Role::from_roles_header(None), Role::Anonymous);
    /// ```
    pub fn from_roles_header(header: Option<&str>) -> Role {
        header
            .into_iter()
            .flat_map(|h| h.split(','))
            .filter_map(|name| match name.trim() {
                "admin" => Some(Role::Admin),
                "operator" => Some(Role::Operator),
                "member" => Some(Role::Member),
                _ => None,
            })
            .max()
            .unwrap_or(Role::Anonymous)
    }

    /// The lowercase name used in cache keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::Member => "member",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The highest channel visibility level this role may read.
    pub fn max_visibility(self) -> u8 {
        match self {
            Role::Anonymous => 0,
            Role::Member => 1,
            Role::Operator => 2,
            Role::Admin => 3,
        }
    }

    /// Whether a channel of `visibility` is readable by this role.
    pub fn can_see(self, visibility: &str) -> bool {
        visibility_level(visibility) <= self.max_visibility()
    }
}

/// Level of a channel visibility name; unknown names count as community (0).
pub fn visibility_level(visibility: &str) -> u8 {
    match visibility {
        "member" => 1,
        "operator" => 2,
        "admin" => 3,
        _ => 0,
    }
}

/// Channel hash: first byte of SHA-256 over the raw key bytes, as two uppercase hex chars.
///
/// ```
/// let key = hex::decode("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff").unwrap();
/// assert_eq!(hub_core::roles::channel_hash(&key), "47");
/// ```
pub fn channel_hash(key: &[u8]) -> String {
    format!("{:02X}", Sha256::digest(key)[0])
}

/// Channel indices a role may read, given every channel's `(channel_hash, visibility)`.
///
/// Always contains [`PUBLIC_CHANNEL_IDX`]; hashes that are not hex are skipped.
pub fn visible_channel_indices<'a>(
    role: Role,
    channels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeSet<i32> {
    channels
        .into_iter()
        .filter(|(_, visibility)| role.can_see(visibility))
        .filter_map(|(hash, _)| i32::from_str_radix(hash.trim(), 16).ok())
        .chain([PUBLIC_CHANNEL_IDX])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_is_the_highest_exact_name() {
        assert_eq!(
            Role::from_roles_header(Some("member,operator")),
            Role::Operator
        );
        assert_eq!(Role::from_roles_header(Some(" , member ,")), Role::Member);
        assert_eq!(
            Role::from_roles_header(Some("administrator")),
            Role::Anonymous
        );
        assert_eq!(Role::from_roles_header(Some("")), Role::Anonymous);
    }

    #[test]
    fn visibility_levels_per_role() {
        let channels = [
            ("47", "community"),
            ("5D", "member"),
            ("0A", "operator"),
            ("FF", "admin"),
            ("01", "bogus"),
            ("zz", "community"),
        ];
        let seen = |role| visible_channel_indices(role, channels.iter().copied());
        assert_eq!(seen(Role::Anonymous), BTreeSet::from([1, 17, 0x47]));
        assert_eq!(seen(Role::Member), BTreeSet::from([1, 17, 0x47, 0x5D]));
        assert_eq!(
            seen(Role::Operator),
            BTreeSet::from([1, 10, 17, 0x47, 0x5D])
        );
        assert_eq!(
            seen(Role::Admin),
            BTreeSet::from([1, 10, 17, 0x47, 0x5D, 0xFF])
        );
    }
}
