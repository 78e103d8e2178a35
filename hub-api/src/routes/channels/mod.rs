//! `/api/v1/channels`: the channels a caller may see, and the admin's channel writes
//! (docs/contract/api-2.md sections 7.1-7.3).

mod query;

use crate::auth::require_admin_key;
use crate::body::{BodyErrors, ErrorText, Field, Fields, JsonBody};
use crate::caller::Caller;
use crate::caller::role_key;
use crate::documented::LaxBool;
use crate::error::ApiError;
use crate::responses::{DeleteErrors, ReadErrors, Reply, WriteErrors};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::entity::channels;
use hub_core::time::rfc3339;
use hub_macros::{cached, cached_api, invalidates};
use poem::Request;
use poem::web::Data;
use poem_openapi::ApiResponse;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::{Map, Value};
use std::sync::Arc;

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

/// The visibility names a channel may have.
const VISIBILITIES: [&str; 4] = ["community", "member", "operator", "admin"];

/// Body of `POST /channels`.
#[derive(Debug, Clone, Object)]
pub struct ChannelCreate {
    /// Unique name, 1-100 characters (exact, case-sensitive).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// The key as 32 or 64 hex characters; stored trimmed and uppercased.
    #[oai(validator(
        max_length = 64,
        pattern = "^[\\t\\n\\x0B\\x0C\\r ]*([0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})[\\t\\n\\x0B\\x0C\\r ]*$"
    ))]
    pub key_hex: String,
    /// community (default), member, operator or admin.
    #[oai(validator(pattern = "^(community|member|operator|admin)$"))]
    pub visibility: Option<String>,
    /// Whether the collector decodes the channel (default true).
    pub enabled: Option<LaxBool>,
}

/// Body of `PUT /channels/{channel_id}`: null or absent leaves a field unchanged. The name
/// cannot change (a `name` key is ignored).
#[derive(Debug, Clone, Object)]
pub struct ChannelUpdate {
    /// A new key: 32 or 64 hex characters; the channel hash is recomputed.
    #[oai(nullable)]
    #[oai(validator(
        max_length = 64,
        pattern = "^[\\t\\n\\x0B\\x0C\\r ]*([0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})[\\t\\n\\x0B\\x0C\\r ]*$"
    ))]
    pub key_hex: Option<String>,
    /// community, member, operator or admin.
    #[oai(nullable)]
    #[oai(validator(pattern = "^(community|member|operator|admin)$"))]
    pub visibility: Option<String>,
    /// Whether the collector decodes the channel.
    #[oai(nullable)]
    pub enabled: Option<LaxBool>,
}

/// Responses of `POST /channels`.
#[derive(ApiResponse)]
pub enum ChannelCreated {
    /// The new channel.
    #[oai(status = 201)]
    Created(Json<ChannelRead>),
    /// `Authentication required`: an admin key is configured and no token was sent.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Admin access required`: the token is not the admin key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Channel '<name>' already exists` or `Key already in use by another channel`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is not a valid `ChannelCreate`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Responses of `PUT /channels/{channel_id}`.
#[derive(ApiResponse)]
pub enum ChannelUpdated {
    /// The channel after the change.
    #[oai(status = 200)]
    Ok(Json<ChannelRead>),
    /// `Authentication required`: an admin key is configured and no token was sent.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Admin access required`: the token is not the admin key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Channel not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// `Key already in use by another channel`.
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// The body is not a valid `ChannelUpdate`.
    #[oai(status = 422)]
    Invalid(Json<BodyErrors>),
}

/// Responses of `DELETE /channels/{channel_id}`.
#[derive(ApiResponse)]
pub enum ChannelDeleted {
    /// Deleted: no body.
    #[oai(status = 204)]
    NoContent,
    /// `Authentication required`: an admin key is configured and no token was sent.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Admin access required`: the token is not the admin key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `Channel not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
}

/// Validates `key_hex` after its raw length check: trimmed and uppercased, it must be hex
/// (checked first) of exactly 32 or 64 chars.
fn key_hex(fields: &mut Fields, raw: Field<String>) -> Field<String> {
    let Field::Value(raw) = raw else {
        return raw;
    };
    let key = raw.trim().to_uppercase();
    let input = Value::String(raw);
    if !key.chars().all(|c| c.is_ascii_hexdigit()) {
        fields.value_error(
            "key_hex",
            "key_hex must contain only hexadecimal characters",
            &input,
        );
        return Field::Absent;
    }
    if key.len() != 32 && key.len() != 64 {
        fields.value_error("key_hex", "key_hex must be 32 or 64 hex characters", &input);
        return Field::Absent;
    }
    Field::Value(key)
}

fn parse_create(body: &Map<String, Value>) -> Result<query::NewChannel, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.required_str("name", 1, 100);
    let raw_key = match fields.required_str("key_hex", 32, 64) {
        Some(k) => Field::Value(k),
        None => Field::Absent,
    };
    let key = key_hex(&mut fields, raw_key);
    let visibility = fields.literal("visibility", &VISIBILITIES, Some("community"), false);
    let enabled = fields.bool("enabled", Some(true), false);
    fields.finish()?;
    match (name, key, visibility, enabled) {
        (Some(name), Field::Value(key_hex), Field::Value(visibility), Field::Value(enabled)) => {
            Ok(query::NewChannel {
                name,
                key_hex,
                visibility,
                enabled,
            })
        }
        // Every invalid field recorded an error, so finish() returned it above.
        _ => Err(ApiError::unprocessable("Invalid channel")),
    }
}

fn parse_update(body: &Map<String, Value>) -> Result<query::ChannelChanges, ApiError> {
    let mut fields = Fields::new(body);
    let raw_key = fields.optional_str("key_hex", 32, 64, true);
    let key = key_hex(&mut fields, raw_key);
    let visibility = fields.literal("visibility", &VISIBILITIES, None, true);
    let enabled = fields.bool("enabled", None, true);
    fields.finish()?;
    Ok(query::ChannelChanges {
        key_hex: key.value(),
        visibility: visibility.value(),
        enabled: enabled.value(),
    })
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
    #[cached(name = "channels", key = role_key, reads = [channels])]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
    ) -> Reply<Json<ChannelList>, ReadErrors> {
        let items = query::visible(&state.db, caller.role).await?;
        Ok(Json(ChannelList {
            total: items.len() as u64,
            items,
        }))
    }

    /// Create a channel
    ///
    /// Admin key. The name must be new (exact match) and the key unused by any channel
    /// (compared case-insensitively). The channel hash is the first byte of SHA-256 over
    /// the key bytes.
    #[oai(path = "/channels", method = "post")]
    #[invalidates(channels)]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: JsonBody<ChannelCreate>,
    ) -> Reply<ChannelCreated, WriteErrors> {
        require_admin_key(&state.auth, req)?;
        let new = parse_create(&body.object()?)?;
        Ok(ChannelCreated::Created(Json(
            query::create(&state.db, new).await?,
        )))
    }

    /// Update a channel
    ///
    /// Admin key. Only the fields given (not null) change; a new key recomputes the
    /// channel hash. `updated_at` moves only when a value actually changes.
    #[oai(path = "/channels/:channel_id", method = "put")]
    #[invalidates(channels)]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        channel_id: Path<String>,
        body: JsonBody<ChannelUpdate>,
    ) -> Reply<ChannelUpdated, WriteErrors> {
        require_admin_key(&state.auth, req)?;
        let changes = parse_update(&body.object()?)?;
        Ok(ChannelUpdated::Ok(Json(
            query::update(&state.db, &channel_id, changes).await?,
        )))
    }

    /// Delete a channel
    ///
    /// Admin key. Messages keep their channel index; unless another channel shares the
    /// hash (or it is 17), they become hidden from every role.
    #[oai(path = "/channels/:channel_id", method = "delete")]
    #[invalidates(channels)]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        channel_id: Path<String>,
    ) -> Reply<ChannelDeleted, DeleteErrors> {
        require_admin_key(&state.auth, req)?;
        query::delete(&state.db, &channel_id).await?;
        Ok(ChannelDeleted::NoContent)
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
