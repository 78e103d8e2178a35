//! Error responses: the JSON shapes of docs/contract/api.md section 0.
//!
//! Handlers return [`ApiError`] for domain errors (404, 401, 403, 409) and for parameter
//! values that parse but are not acceptable (422). [`json_error`] turns every other error
//! poem or poem-openapi raises (unparsable parameter, unknown route, ...) into the same
//! shapes, so no request can end in a plain-text body or a 500 without a JSON `detail`.

use poem::http::StatusCode;
use poem::{Body, Response};
use serde_json::json;

/// An error a handler reports to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter value is not acceptable: 422 with `loc`, `msg` and `type`.
    #[error("{msg}")]
    Invalid {
        /// Where the value came from: `query` or `path`.
        location: &'static str,
        /// The parameter's public name.
        name: &'static str,
        /// What is wrong, for a person.
        msg: String,
        /// A machine-readable kind, e.g. `bool_parsing`.
        kind: &'static str,
    },
    /// 401 with `{"detail": text}` (no `WWW-Authenticate`: a missing identity, not a key).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 404 with `{"detail": "<what> not found"}`.
    #[error("{0}")]
    NotFound(&'static str),
    /// A refused API key (401 with `WWW-Authenticate: Bearer`, or 403 on admin endpoints).
    #[error("{0:?}")]
    Key(Denied),
    /// `{"detail": text}` with any 4xx status: 403, 404 and 409 texts built from the
    /// request, and the string-detail 422 of node tag values (docs/contract/api-2.md section 0.3).
    #[error("{text}")]
    Detail {
        /// The status code.
        status: StatusCode,
        /// The detail text.
        text: String,
    },
    /// A request body that failed validation: 422 with FastAPI's list of entries
    /// (`type`, `loc`, `msg`, `input`, `ctx`; docs/contract/api-2.md section 0.2).
    #[error("invalid body")]
    Body(Vec<serde_json::Value>),
    /// The database failed: 503 with `Retry-After` when it is unavailable
    /// ([`hub_core::db::unavailable`]: down, locked, timed out), else 500; either way with a
    /// generic detail, the cause logged and not sent.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl ApiError {
    /// A 422 for query parameter `name`.
    pub fn invalid_query(name: &'static str, msg: impl Into<String>, kind: &'static str) -> Self {
        ApiError::Invalid {
            location: "query",
            name,
            msg: msg.into(),
            kind,
        }
    }
}

impl ApiError {
    /// 403 with `text`.
    pub fn forbidden(text: impl Into<String>) -> Self {
        Self::detail(StatusCode::FORBIDDEN, text)
    }

    /// 404 with `text` (for texts built from the request).
    pub fn not_found(text: impl Into<String>) -> Self {
        Self::detail(StatusCode::NOT_FOUND, text)
    }

    /// 409 with `text`.
    pub fn conflict(text: impl Into<String>) -> Self {
        Self::detail(StatusCode::CONFLICT, text)
    }

    /// 422 with a string `detail` (a handler's domain check, not body validation).
    pub fn unprocessable(text: impl Into<String>) -> Self {
        Self::detail(StatusCode::UNPROCESSABLE_ENTITY, text)
    }

    fn detail(status: StatusCode, text: impl Into<String>) -> Self {
        ApiError::Detail {
            status,
            text: text.into(),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// 401 `Authentication required`: no token where one is needed.
    Missing,
    /// 401 `Invalid API key`: a token that matches no key.
    Invalid,
    /// 403 `Admin access required`: a valid non-admin token on an admin endpoint.
    NotAdmin,
}

impl Denied {
    /// The JSON error response, with `WWW-Authenticate: Bearer` on 401s.
    pub fn response(self) -> Response {
        let (status, text) = match self {
            Denied::Missing => (StatusCode::UNAUTHORIZED, "Authentication required"),
            Denied::Invalid => (StatusCode::UNAUTHORIZED, "Invalid API key"),
            Denied::NotAdmin => (StatusCode::FORBIDDEN, "Admin access required"),
        };
        let mut response = detail_response(status, text);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header"));
        }
        response
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::Key(denied)
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Key(denied) => denied.response().status(),
            ApiError::Detail { status, .. } => *status,
            ApiError::Body(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Database(err) if hub_core::db::unavailable(err) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            ApiError::Invalid {
                location,
                name,
                msg,
                kind,
            } => validation_response(location, name, msg, kind),
            ApiError::Unauthorized(text) => detail_response(StatusCode::UNAUTHORIZED, text),
            ApiError::NotFound(what) => detail_response(StatusCode::NOT_FOUND, what),
            ApiError::Key(denied) => denied.response(),
            ApiError::Detail { status, text } => detail_response(*status, text),
            ApiError::Body(entries) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "detail": entries }),
            ),
            ApiError::Database(err) if hub_core::db::unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                database_unavailable_response()
            }
            ApiError::Database(err) => {
                tracing::error!(error = %err, "database error");
                detail_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

/// Seconds a client is asked to wait (`Retry-After`) when the database is unavailable:
/// long enough for a lock to clear or a restarting server to come back, short enough that a
/// client retrying on it sees service resume promptly.
pub const DATABASE_RETRY_AFTER_SECS: u32 = 5;

/// The detail of the 503 sent while the database is unavailable.
pub const DATABASE_UNAVAILABLE: &str = "Database unavailable, retry later";

/// 503 `{"detail": "Database unavailable, retry later"}` with `Retry-After`.
pub fn database_unavailable_response() -> Response {
    let mut response = detail_response(StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE);
    response.headers_mut().insert(
        poem::http::header::RETRY_AFTER,
        poem::http::HeaderValue::from(DATABASE_RETRY_AFTER_SECS),
    );
    response
}

/// `{"detail": text}` with `status`.
pub fn detail_response(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "detail": text }))
}

/// The 422 shape: `{"detail": [{"loc": [source, name], "msg": ..., "type": ...}]}`.
pub fn validation_response(source: &str, name: &str, msg: &str, kind: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "detail": [{ "loc": [source, name], "msg": msg, "type": kind }] }),
    )
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(Body::from_vec(
            serde_json::to_vec(value).unwrap_or_default(),
        ))
}

/// Maps any error that reached the top of the app to a JSON response.
///
/// poem-openapi reports unparsable or out-of-range parameters as `ParseParamError` (400 by
/// default); the API contract says 422 naming the parameter.
pub async fn json_error(err: poem::Error) -> Response {
    use poem_openapi::error::{ParseParamError, ParsePathError, ParseRequestPayloadError};
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return validation_response("query", e.name, &e.reason, "value_error");
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return validation_response("path", e.name, &e.reason, "value_error");
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return validation_response("body", "body", &e.reason, "value_error");
    }
    if err.is::<ApiError>() {
        return err.into_response();
    }
    let status = err.status();
    let text = match status {
        StatusCode::NOT_FOUND => "Not Found".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed".to_string(),
        s if s.is_server_error() => {
            tracing::error!(error = %err, "unhandled error");
            "Internal server error".to_string()
        }
        _ => err.to_string(),
    };
    let mut response = detail_response(status, &text);
    // Keep headers such as WWW-Authenticate that the error carried.
    for (name, value) in err.into_response().headers() {
        if name != poem::http::header::CONTENT_TYPE && name != poem::http::header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}
