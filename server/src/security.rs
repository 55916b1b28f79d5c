//! Security headers on every response, client-IP resolution (trusting
//! `X-Forwarded-For` only from configured proxies), the per-IP HTTP rate limit and the
//! per-status-class request counter. All are `axum` middleware applied to the whole
//! site router, so 404, 429 and error responses carry the same headers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::metrics::Route;
use crate::ratelimit::{ip_key, retry_after_secs};

/// The Content-Security-Policy sent on every response. Wasm may be compiled
/// (`'wasm-unsafe-eval'`), JavaScript `eval` may not; scripts, styles and connections
/// (including the same-origin telemetry socket, which `'self'` covers in CSP Level 3
/// browsers) stay on the own origin; nothing may frame the site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; \
font-src 'self'; connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers set on every response of the site listener.
pub const SECURITY_HEADERS: [(&str, &str); 8] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), xr-spatial-tracking=()",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

/// The client address of a request, as resolved by [`client_ip_layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client address: the peer, unless the peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn resolve_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t == ip || ip_canonical(*ip) == *t);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage from the hop before a trusted proxy: stop at the last good address.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

fn ip_canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Inserts the [`SECURITY_HEADERS`] into a response, replacing any set by a handler.
pub fn apply_security_headers(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

/// Outermost middleware: security headers on every response, and the request count
/// and duration (to the response head) by route class, status class and the release
/// the site serves.
pub async fn security_layer(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = Route::of(req.uri().path());
    let mut response = next.run(req).await;
    apply_security_headers(response.headers_mut());
    state.metrics.observe_http(
        route,
        response.status(),
        state.served_release(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Resolves [`ClientIp`] into the request extensions and applies the per-IP HTTP rate
/// limit, answering 429 with `Retry-After` when the bucket is empty.
pub async fn client_ip_layer(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let ip = resolve_client_ip(peer, req.headers(), &state.config.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    if let Err(wait) = state.http_limiter.check(&ip_key(ip)) {
        state.metrics.count_http_rate_limited();
        return too_many_requests(retry_after_secs(wait));
    }
    next.run(req).await
}

/// A 429 response with `Retry-After` in seconds.
pub fn too_many_requests(retry_after: u64) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "too many requests\n").into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn untrusted_peer_ignores_forwarded_for() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(resolve_client_ip(peer, &xff("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn trusted_proxy_takes_rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let h = xff("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(
            resolve_client_ip(proxy, &h, &[proxy, inner]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn trusted_proxy_with_garbage_falls_back() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(resolve_client_ip(proxy, &xff("not-an-ip"), &[proxy]), proxy);
        assert_eq!(resolve_client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn csp_is_strict() {
        assert!(CONTENT_SECURITY_POLICY.contains("'wasm-unsafe-eval'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("'unsafe-eval'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
