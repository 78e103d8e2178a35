//! Request helpers shared by the `writes_*` tests.
#![allow(dead_code)] // each test binary uses a different part of this module

use crate::common::TestApp;
use poem::http::{Method, StatusCode};
use serde_json::Value;

/// A request: method, path, headers and a raw body.
pub(crate) struct Write<'a> {
    app: &'a TestApp,
    method: Method,
    uri: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(String, Option<&'static str>)>,
}

impl<'a> Write<'a> {
    /// `method` on `uri` with no headers and no body.
    pub(crate) fn new(app: &'a TestApp, method: Method, uri: &str) -> Self {
        Write {
            app,
            method,
            uri: uri.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// As user `id` with `X-User-Roles: roles`.
    pub(crate) fn user(self, id: &str, roles: &str) -> Self {
        self.header("X-User-Id", id).header("X-User-Roles", roles)
    }

    /// A JSON body.
    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Some((body.to_string(), Some("application/json")));
        self
    }

    /// A raw body with a content type (or none).
    pub(crate) fn raw(mut self, body: &str, content_type: Option<&'static str>) -> Self {
        self.body = Some((body.to_string(), content_type));
        self
    }

    /// Sends it: the status, the content type and the body (`Value::Null` when empty).
    pub(crate) async fn send(self) -> (StatusCode, Option<String>, Value) {
        let mut req = match self.method {
            Method::POST => self.app.client.post(&self.uri),
            Method::PUT => self.app.client.put(&self.uri),
            Method::DELETE => self.app.client.delete(&self.uri),
            _ => self.app.client.get(&self.uri),
        };
        for (name, value) in self.headers {
            req = req.header(name, value);
        }
        if let Some((body, content_type)) = self.body {
            if let Some(ct) = content_type {
                req = req.content_type(ct);
            }
            req = req.body(body);
        }
        let resp = req.send().await;
        let status = resp.0.status();
        let content_type = resp
            .0
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.0.into_body().into_vec().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, content_type, body)
    }
}

/// GET `uri` (a read with headers, e.g. identity headers).
pub(crate) fn get<'a>(app: &'a TestApp, uri: &str) -> Write<'a> {
    Write::new(app, Method::GET, uri)
}

/// POST `uri`.
pub(crate) fn post<'a>(app: &'a TestApp, uri: &str) -> Write<'a> {
    Write::new(app, Method::POST, uri)
}

/// PUT `uri`.
pub(crate) fn put<'a>(app: &'a TestApp, uri: &str) -> Write<'a> {
    Write::new(app, Method::PUT, uri)
}

/// DELETE `uri`.
pub(crate) fn delete<'a>(app: &'a TestApp, uri: &str) -> Write<'a> {
    Write::new(app, Method::DELETE, uri)
}

/// Asserts a `{"detail": text}` answer with `status`.
pub(crate) fn assert_detail(
    answer: &(StatusCode, Option<String>, Value),
    status: StatusCode,
    text: &str,
) {
    assert_eq!(answer.0, status, "{}", answer.2);
    assert_eq!(answer.2["detail"], text, "{}", answer.2);
}

/// The first entry of a body-validation 422 (asserting the status).
pub(crate) fn first_issue(answer: &(StatusCode, Option<String>, Value)) -> Value {
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.2);
    answer.2["detail"][0].clone()
}
