//! Errors as the API answers them: `{"error": {"code", "message"}}` with a fitting status
//! and a stable code ([`crate::json::ErrorJson`]). Internal details are never sent: they are
//! logged once, where the error is made ([`AppError::internal`]), inside the request's span
//! (which names the route and the viewer).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_node::NodeError;
use weft_node::crdt::LocalError;

/// An error answer.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which to try again (`Retry-After`, with 429 and 503).
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client when to try again.
    pub fn retry_after(mut self, secs: u64) -> AppError {
        self.retry_after = Some(secs);
        self
    }

    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    pub fn unauthenticated() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first")
    }

    /// A 500 whose details (`what`) go to the log, once, and never to the client.
    pub fn internal(what: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %what, "internal error");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server",
        )
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<NodeError> for AppError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::NotFound => AppError::not_found(),
            NodeError::Forbidden(why) => AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("not allowed: {why}"),
            ),
            NodeError::RateLimited { retry_after_secs } => AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many changes in a short time; try again in {retry_after_secs} s"),
            )
            .retry_after(retry_after_secs),
            NodeError::Invalid(why) => AppError::invalid(why),
            NodeError::TooLarge { what, limit } => AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("{what} is larger than the limit of {limit} bytes"),
            ),
            NodeError::NotHomedHere(_) => AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "your account is not at this site",
            ),
            NodeError::Local(l) => match l {
                LocalError::Refused(r) => AppError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("not allowed: {r}"),
                ),
                LocalError::TooLong { field, limit, .. } => AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("{field} is longer than {limit} bytes"),
                ),
                LocalError::Invalid(why) => AppError::invalid(why),
                LocalError::TooMany { what, count, limit } => AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "too_many",
                    format!("too many {what}: {count}, the limit is {limit}"),
                ),
                LocalError::UnknownDoc(_) => AppError::not_found(),
                other => AppError::internal(format_args!("local change failed: {other}")),
            },
            NodeError::Unavailable(why) => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why).retry_after(10)
            }
            NodeError::ShuttingDown => AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the node is shutting down",
            ),
            other => AppError::internal(format_args!("node: {other}")),
        }
    }
}
