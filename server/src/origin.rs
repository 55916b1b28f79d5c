//! The `Origin` allow-list for telemetry requests.
//!
//! Allowed: a request without `Origin` (native clients; browsers always send one)
//! unless `--require-origin`; a same-origin request (`Origin` host:port equals `Host`,
//! which a browser sets and a page cannot forge); an origin on `--allowed-origins`;
//! and, only while that list is empty, any `http(s)://localhost|127.0.0.1|[::1]` origin.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::config::Config;

/// Whether the request's `Origin` may send telemetry.
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return !config.require_origin;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, host_port)) = origin.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let same_origin = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(host_port));
    if same_origin {
        return true;
    }
    if !config.allowed_origins.is_empty() {
        return config
            .allowed_origins
            .iter()
            .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(&origin));
    }
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_static(o));
        }
        h.insert(HOST, HeaderValue::from_static(host));
        h
    }

    #[test]
    fn default_allows_same_origin_and_localhost_only() {
        let c = Config::default();
        assert!(origin_allowed(&c, &headers(None, "x:1")));
        assert!(origin_allowed(
            &c,
            &headers(Some("http://site.example"), "site.example")
        ));
        assert!(origin_allowed(
            &c,
            &headers(Some("http://localhost:3000"), "127.0.0.1:8080")
        ));
        assert!(origin_allowed(
            &c,
            &headers(Some("http://[::1]:3000"), "127.0.0.1:8080")
        ));
        assert!(!origin_allowed(
            &c,
            &headers(Some("https://evil.example"), "127.0.0.1:8080")
        ));
        assert!(!origin_allowed(
            &c,
            &headers(Some("http://localhost.evil.example"), "127.0.0.1:8080")
        ));
        assert!(!origin_allowed(
            &c,
            &headers(Some("null"), "127.0.0.1:8080")
        ));
    }

    #[test]
    fn allow_list_replaces_localhost_rule() {
        let c = Config {
            allowed_origins: vec!["https://site.example/".into()],
            require_origin: true,
            ..Config::default()
        };
        assert!(origin_allowed(
            &c,
            &headers(Some("https://site.example"), "internal:80")
        ));
        assert!(!origin_allowed(
            &c,
            &headers(Some("http://localhost:3000"), "internal:80")
        ));
        assert!(!origin_allowed(&c, &headers(None, "internal:80")));
    }
}
