//! The error responses each operation documents in OpenAPI: the documentation side of
//! [`crate::error`].
//!
//! poem-openapi builds an operation's responses from its return type only, and a handler
//! returning `poem::Result<Json<T>>` documents a 200 and nothing else. A handler returns
//! [`Reply<T, S>`] instead: `T` is its success response and `S` the error responses it can
//! answer, as a tuple of the markers below. The handler body is unchanged (`?` converts
//! [`ApiError`], `DbErr` and `poem::Error`), and at run time a [`Failure`] is the
//! `poem::Error` it wraps, rendered by [`crate::error::json_error`] like any other error.
//!
//! ```
//! use hub_api::responses::{InvalidParams, NotFound, Reply, Unauthorized, Unavailable};
//! use poem_openapi::payload::Json;
//!
//! async fn one() -> Reply<Json<u32>, (Unauthorized, NotFound, InvalidParams, Unavailable)> {
//!     Ok(Json(1))
//! }
//! ```

use crate::body::ErrorText;
use crate::error::ApiError;
use poem::http::StatusCode;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use std::marker::PhantomData;

/// One rejected parameter of a 422 (query or path), as MeshCore Hub writes it.
#[derive(Debug, Clone, Object)]
pub struct ValidationIssue {
    /// Where: `["query", "<name>"]` or `["path", "<name>"]`.
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// Machine-readable kind, e.g. `bool_parsing`.
    #[oai(rename = "type")]
    pub kind: String,
}

/// A parameter validation 422: `{"detail": [{"loc", "msg", "type"}]}`.
#[derive(Debug, Clone, Object)]
pub struct ValidationErrors {
    /// The rejected parameters.
    pub detail: Vec<ValidationIssue>,
}

/// A success response `T`, or one of the documented error responses `S`.
pub type Reply<T, S> = Result<T, Failure<S>>;

/// An error of an operation that documents the error responses `S`. It is the `poem::Error`
/// it wraps; `S` only exists for the OpenAPI document.
pub struct Failure<S> {
    error: poem::Error,
    // `fn() -> S`: a marker that keeps `Failure` Send + Sync; no `S` is stored.
    _documented: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for Failure<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Failure").field(&self.error).finish()
    }
}

impl<S> From<poem::Error> for Failure<S> {
    fn from(error: poem::Error) -> Self {
        Failure {
            error,
            _documented: PhantomData,
        }
    }
}

impl<S> From<ApiError> for Failure<S> {
    fn from(error: ApiError) -> Self {
        poem::Error::from(error).into()
    }
}

impl<S> From<sea_orm::DbErr> for Failure<S> {
    fn from(error: sea_orm::DbErr) -> Self {
        ApiError::from(error).into()
    }
}

impl<S> From<Failure<S>> for poem::Error {
    fn from(failure: Failure<S>) -> Self {
        failure.error
    }
}

impl<S: ErrorSet + 'static> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: S::responses(),
        }
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

/// A set of documented error responses: one marker, or a tuple of markers.
pub trait ErrorSet {
    /// The responses, in the order they are listed.
    fn responses() -> Vec<MetaResponse>;
    /// Registers the schemas the responses use.
    fn register(registry: &mut Registry);
}

fn json_content<T: Type>() -> Vec<MetaMediaType> {
    vec![MetaMediaType {
        content_type: "application/json",
        schema: T::schema_ref(),
    }]
}

fn header(name: &str, description: &str, required: bool, kind: &'static str) -> MetaHeader {
    MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new(kind))),
    }
}

/// Declares one error-response marker: its status, description, body schema and headers.
macro_rules! error_response {
    ($(#[$doc:meta])* $marker:ident, $status:expr, $description:literal, $schema:ty, [$($header:expr),*]) => {
        $(#[$doc])*
        pub struct $marker;

        impl ErrorSet for $marker {
            fn responses() -> Vec<MetaResponse> {
                vec![MetaResponse {
                    description: $description,
                    status: Some($status.as_u16()),
                    status_range: None,
                    content: json_content::<$schema>(),
                    headers: vec![$($header),*],
                }]
            }

            fn register(registry: &mut Registry) {
                <$schema as Type>::register(registry);
            }
        }
    };
}

error_response!(
    /// 401: keys are configured and the request has none or a wrong one, or a write lacks the
    /// caller's identity.
    Unauthorized,
    StatusCode::UNAUTHORIZED,
    "`Authentication required` or `Invalid API key` when API keys are configured and the \
     bearer token is missing or matches no key (with `WWW-Authenticate: Bearer`); \
     `User identity required` when a write has no `X-User-Id`.",
    ErrorText,
    [header(
        "WWW-Authenticate",
        "`Bearer`, on a missing or wrong API key.",
        false,
        "string"
    )]
);

error_response!(
    /// 403: the caller's key or role does not allow the operation.
    Forbidden,
    StatusCode::FORBIDDEN,
    "`Admin access required` (a read key on an admin operation) or a role the operation does \
     not allow.",
    ErrorText,
    []
);

error_response!(
    /// 404: the item named by the path does not exist (or is hidden from the caller).
    NotFound,
    StatusCode::NOT_FOUND,
    "The item does not exist: `{\"detail\": \"<what> not found\"}`.",
    ErrorText,
    []
);

error_response!(
    /// 409: the write conflicts with an existing item.
    Conflict,
    StatusCode::CONFLICT,
    "The write conflicts with an existing item.",
    ErrorText,
    []
);

error_response!(
    /// 422: a query or path parameter is not acceptable.
    InvalidParams,
    StatusCode::UNPROCESSABLE_ENTITY,
    "A query or path parameter is not acceptable: one entry per rejected parameter, \
     `loc` naming it.",
    ValidationErrors,
    []
);

error_response!(
    /// 503: the database is unavailable or a statement timed out; retry later.
    Unavailable,
    StatusCode::SERVICE_UNAVAILABLE,
    "The database is unavailable or a statement timed out; retry after `Retry-After` \
     seconds.",
    ErrorText,
    [header(
        "Retry-After",
        "Seconds to wait before retrying.",
        true,
        "integer"
    )]
);

/// Implements [`ErrorSet`] for a tuple of sets, listing each one's responses in order.
macro_rules! error_set_tuple {
    ($($set:ident),+) => {
        impl<$($set: ErrorSet),+> ErrorSet for ($($set,)+) {
            fn responses() -> Vec<MetaResponse> {
                let mut responses = Vec::new();
                $(responses.extend($set::responses());)+
                responses
            }

            fn register(registry: &mut Registry) {
                $($set::register(registry);)+
            }
        }
    };
}

error_set_tuple!(A);
error_set_tuple!(A, B);
error_set_tuple!(A, B, C);
error_set_tuple!(A, B, C, D);
error_set_tuple!(A, B, C, D, E);
error_set_tuple!(A, B, C, D, E, F);

/// What a list read can answer besides 200: a missing or wrong key, a rejected parameter,
/// an unavailable database.
pub type ListErrors = (Unauthorized, InvalidParams, Unavailable);

/// What a single-item read can answer besides 200: [`ListErrors`] and 404.
pub type ItemErrors = (Unauthorized, NotFound, InvalidParams, Unavailable);

/// What a write whose response type lists its own 4xx answers adds: an unavailable database.
pub type WriteErrors = (Unavailable,);

/// What a read without validated parameters can answer besides 200: a missing or wrong key
/// (or identity), an unavailable database.
pub type ReadErrors = (Unauthorized, Unavailable);

/// What a delete whose response type lists its own 4xx answers adds: a rejected path
/// parameter and an unavailable database.
pub type DeleteErrors = (InvalidParams, Unavailable);
