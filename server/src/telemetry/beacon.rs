//! `POST /telemetry/beacon`: the HTTP fallback for `navigator.sendBeacon` on
//! `pagehide`. One message per request, validated by the same [`super::ingest`] as the
//! socket. Answers 204 (accepted, or a duplicate of an accepted batch), 400 with
//! `{"error":reason}`, 403 (origin), 408 (body not received in time), 413 (too big),
//! 415 (content type) or 429 (rate limit, with `Retry-After`). A body the client
//! abandoned midway is counted as `aborted`.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::json;

use super::{Reason, Refusal, ingest, reject_unparsed};
use crate::AppState;
use crate::security::{ClientIp, too_many_requests};

/// Whether the content type is one sendBeacon produces for JSON text (or none at all,
/// which a Blob without a type gives).
fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let mime = v
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "text/plain" || mime == "application/json"
}

fn refuse(refusal: impl Into<Refusal>) -> Response {
    let Refusal {
        reason,
        retry_after,
    } = refusal.into();
    if reason == Reason::RateLimited {
        return too_many_requests(crate::ratelimit::retry_after_secs(
            retry_after.unwrap_or(Duration::from_secs(1)),
        ));
    }
    let status = StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(json!({ "error": reason.as_str() }))).into_response()
}

/// The beacon handler.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.origins.allows(&headers) {
        state.metrics.reject(Reason::Origin);
        return refuse(Reason::Origin);
    }
    if !content_type_ok(&headers) {
        reject_unparsed(&state, Reason::ContentType);
        return refuse(Reason::ContentType);
    }
    // The whole body within the deadline; each chunk also within the body-read timeout
    // (the site router's RequestBodyTimeoutLayer), so neither a silent nor a trickling
    // client holds the request open.
    let limit = state.config.max_message_bytes;
    let read = tokio::time::timeout(
        state.config.beacon_deadline(),
        http_body_util::Limited::new(body, limit).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            reject_unparsed(&state, Reason::Oversize);
            return refuse(Reason::Oversize);
        }
        Ok(Err(e)) if is_timeout(&*e) => {
            reject_unparsed(&state, Reason::Timeout);
            return refuse(Reason::Timeout);
        }
        Ok(Err(e)) => {
            // The client went away mid-body: counted, though nobody reads the answer.
            tracing::debug!(error = %e, "beacon body not received");
            reject_unparsed(&state, Reason::Aborted);
            return refuse(Reason::Aborted);
        }
        Err(_) => {
            reject_unparsed(&state, Reason::Timeout);
            return refuse(Reason::Timeout);
        }
    };
    match ingest(&state, ip, &bytes) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refuse(refusal),
    }
}

/// Whether a body error is (or wraps) the body-read timeout.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = err.source();
    }
    false
}
