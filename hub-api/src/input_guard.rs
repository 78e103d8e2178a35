//! Request inputs that no handler can use, refused before any handler runs.
//!
//! A NUL byte (`%00`) in a query or path parameter cannot be stored or compared by
//! PostgreSQL (its text types refuse it, which would surface as a database error) while
//! SQLite would accept it, so the two backends would answer the same request differently.
//! Every parameter is text on the wire, so one check in front of the routes covers every
//! endpoint and gives the same 422, naming the parameter, on both databases. JSON bodies are
//! checked where they are parsed ([`crate::body::JsonBody::object`]).

use crate::error::validation_response;
use poem::{Request, Response};

/// The message of every NUL-byte 422.
pub const NUL_MESSAGE: &str = "Text must not contain NUL characters (\\u0000)";
/// The `type` of every NUL-byte 422.
pub const NUL_KIND: &str = "string_nul";

/// The OpenAPI path templates (`/api/v1/nodes/{public_key}`) split into segments, so that a
/// NUL byte in a path can be reported under its parameter's name.
#[derive(Debug, Clone)]
pub struct PathTemplates(Vec<Vec<String>>);

impl PathTemplates {
    /// Templates from the OpenAPI document's paths.
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        PathTemplates(
            paths
                .into_iter()
                .map(|t| t.split('/').map(str::to_string).collect())
                .collect(),
        )
    }
}

/// The 422 refusing a NUL byte in a query or path parameter of `req`, naming the parameter;
/// `None` when there is none (a step of [`crate::middleware::HubMiddleware`], before any
/// handler runs).
///
/// ```
/// use hub_api::input_guard::{PathTemplates, nul_refusal};
/// let templates = PathTemplates::new(["/api/v1/nodes/{public_key}".to_string()]);
/// let req = poem::Request::builder().uri_str("/api/v1/nodes?search=a%00").finish();
/// assert_eq!(nul_refusal(&templates, &req).map(|r| r.status().as_u16()), Some(422));
/// let req = poem::Request::builder().uri_str("/api/v1/nodes?search=a").finish();
/// assert!(nul_refusal(&templates, &req).is_none());
/// ```
pub fn nul_refusal(templates: &PathTemplates, req: &Request) -> Option<Response> {
    if let Some(name) = nul_query_parameter(req.uri().query().unwrap_or("")) {
        return Some(validation_response("query", &name, NUL_MESSAGE, NUL_KIND));
    }
    let name = nul_path_parameter(&templates.0, req.uri().path())?;
    Some(validation_response("path", &name, NUL_MESSAGE, NUL_KIND))
}

/// The (decoded) name of the first query parameter whose name or value holds `%00`.
///
/// A raw NUL cannot reach here: it is not a valid URI byte and the HTTP parser refuses it.
///
/// ```
/// use hub_api::input_guard::nul_query_parameter;
/// assert_eq!(nul_query_parameter("limit=5&search=a%00b").as_deref(), Some("search"));
/// assert_eq!(nul_query_parameter("search=a%2500"), None);
/// ```
pub fn nul_query_parameter(query: &str) -> Option<String> {
    let pair = query.split('&').find(|pair| pair.contains("%00"))?;
    let (name, _) = url::form_urlencoded::parse(pair.as_bytes()).next()?;
    Some(name.into_owned())
}

/// The name of the path parameter holding `%00`, from the template the path matches; `None`
/// when no segment holds one or no template matches (the router answers 404 then).
///
/// ```
/// use hub_api::input_guard::nul_path_parameter;
/// let templates = vec!["/api/v1/nodes/{public_key}".split('/').map(String::from).collect()];
/// assert_eq!(nul_path_parameter(&templates, "/api/v1/nodes/ab%00").as_deref(), Some("public_key"));
/// assert_eq!(nul_path_parameter(&templates, "/api/v1/nodes/ab"), None);
/// ```
pub fn nul_path_parameter(templates: &[Vec<String>], path: &str) -> Option<String> {
    if !path.contains("%00") {
        return None;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let at = segments.iter().position(|s| s.contains("%00"))?;
    templates
        .iter()
        .filter(|template| template.len() == segments.len())
        .find(|template| {
            template
                .iter()
                .zip(&segments)
                .all(|(part, segment)| is_parameter(part) || part == segment)
        })
        .and_then(|template| {
            let part = &template[at];
            is_parameter(part).then(|| part[1..part.len() - 1].to_string())
        })
}

fn is_parameter(part: &str) -> bool {
    part.len() > 2 && part.starts_with('{') && part.ends_with('}')
}
