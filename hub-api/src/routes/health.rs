//! `/health` and `/health/ready` (docs/contract/api.md section 3).

use crate::state::AppState;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;

use crate::routes::ApiTags;

/// Liveness.
#[derive(Debug, Object)]
pub struct Health {
    /// Always `healthy`.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// Readiness: whether the database answers.
#[derive(Debug, Object)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    /// `connected` or `disconnected`.
    pub database: String,
    /// `connected` or `unreachable`; present only when Redis is enabled. Redis being down
    /// never makes the server not ready: the API works without its cache.
    #[oai(skip_serializing_if_is_none)]
    pub redis: Option<String>,
}

/// `/health/ready` answers.
#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The database does not answer.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

/// Health endpoints (no auth).
pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> Json<Health> {
        Json(Health {
            status: "healthy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Readiness
    #[oai(path = "/health/ready", method = "get")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> ReadyResponse {
        let backend = state.cache.backend();
        let (database_up, redis) = tokio::join!(hub_core::db::ping(&state.db), async {
            if backend.is_enabled() {
                Some(
                    if backend.ping().await {
                        "connected"
                    } else {
                        "unreachable"
                    }
                    .to_string(),
                )
            } else {
                None
            }
        });
        if database_up {
            ReadyResponse::Ready(Json(Readiness {
                status: "ready".into(),
                database: "connected".into(),
                redis,
            }))
        } else {
            ReadyResponse::NotReady(Json(Readiness {
                status: "not_ready".into(),
                database: "disconnected".into(),
                redis,
            }))
        }
    }
}
