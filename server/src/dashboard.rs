//! The live dashboard (`/dashboard`, its script and stylesheet, embedded in the binary)
//! and the JSON endpoints `/api/stats` (sliding-window statistics, polled every
//! second by the page) and `/api/hints` (the edge hints for the caller).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::edge::choose_hints;

const HTML: &str = include_str!("../static/dashboard.html");
const SCRIPT: &str = include_str!("../static/dashboard.js");
const STYLE: &str = include_str!("../static/dashboard.css");

fn embedded(body: &'static str, mime: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /dashboard`.
pub async fn page() -> Response {
    embedded(HTML, "text/html; charset=utf-8")
}

/// `GET /dashboard/dashboard.js`.
pub async fn script() -> Response {
    embedded(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /dashboard/dashboard.css`.
pub async fn style() -> Response {
    embedded(STYLE, "text/css; charset=utf-8")
}

/// `GET /api/stats`: the window snapshot plus totals.
pub async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let snapshot = state.window.snapshot();
    let m = &state.metrics;
    let rejections: serde_json::Map<String, serde_json::Value> = m
        .rejections()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (r.to_owned(), n.into()))
        .collect();
    let body = json!({
        "window_s": snapshot.window_s,
        "histogram_edges_ms": snapshot.histogram_edges_ms,
        "series": snapshot.series,
        "totals": {
            "accepted": m.accepted(),
            "rejected": m.rejected(),
            "duplicates": m.duplicates(),
            "samples": m.samples(),
            "capped": m.capped(),
            "connections": m.connections(),
            "rejections": rejections,
        }
    });
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /api/hints`: `{"mode":…,"preset":…}` with the same headers as the HTML.
pub async fn hints(headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let hints = choose_hints(&headers, query.as_deref());
    let mut r = Json(hints).into_response();
    hints.apply(r.headers_mut());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
