//! `/api/v1/channels`: the channels a caller may see.

mod query;

use crate::caller::Caller;
use crate::caller::role_key;
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::channels;
use hub_core::time::rfc3339;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// A channel as the API shows it.
#[derive(Debug, Clone, Object)]
pub struct ChannelRead {
    /// Channel id.
    pub id: String,
    /// Unique channel name.
    pub name: String,
    /// First byte of SHA-256 over the key, two uppercase hex chars; as an integer it is the
    /// `channel_idx` of the channel's messages.
    pub channel_hash: String,
    /// community, member, operator or admin.
    pub visibility: String,
    /// Whether the collector decodes the channel.
    pub enabled: bool,
    /// The key with its middle elided: first 4 + `...` + last 4 chars.
    pub masked_key: String,
    /// The key as hex.
    pub key_hex: String,
    /// Row creation time.
    pub created_at: String,
    /// Row update time.
    pub updated_at: String,
}

/// The channels a caller may see.
#[derive(Debug, Clone, Object)]
pub struct ChannelList {
    /// Channels ordered by name.
    pub items: Vec<ChannelRead>,
    /// Number of items.
    pub total: u64,
}

/// First 4 + `...` + last 4 chars, or the whole key when it has 8 chars or fewer.
fn masked_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return key.to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

impl From<channels::Model> for ChannelRead {
    fn from(c: channels::Model) -> Self {
        ChannelRead {
            masked_key: masked_key(&c.key_hex),
            id: c.id,
            name: c.name,
            channel_hash: c.channel_hash,
            visibility: c.visibility,
            enabled: c.enabled,
            key_hex: c.key_hex,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// Channel endpoints.
pub struct ChannelsApi;

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Channels")]
impl ChannelsApi {
    /// List visible channels
    ///
    /// Every channel whose visibility level the caller's role reaches, ordered by name.
    /// Unknown query parameters (clients send `limit`) are ignored.
    #[oai(path = "/channels", method = "get")]
    #[cached(name = "channels", key = role_key)]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> poem::Result<Json<ChannelList>> {
        let items = query::visible(&state.db, caller.role).await?;
        Ok(Json(ChannelList {
            total: items.len() as u64,
            items,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::masked_key;

    #[test]
    fn masks_long_keys_only() {
        assert_eq!(masked_key("00112233445566778899"), "0011...8899");
        assert_eq!(masked_key("abcdefgh"), "abcdefgh");
        assert_eq!(masked_key("abcdefghi"), "abcd...fghi");
    }
}
