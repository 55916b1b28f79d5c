//! The `Origin` allow-list for telemetry requests.
//!
//! An `Origin` value is parsed strictly, as browsers serialise it: `http` or `https`,
//! `://`, a host (DNS name, IPv4 or bracketed IPv6) and an optional port; no userinfo,
//! path, query or fragment. Anything else is refused.
//!
//! Then, in this order:
//! - no `Origin` (native clients; browsers always send one): allowed unless
//!   `--require-origin`;
//! - `--allowed-origins` set: allowed only if the origin is on it. `Host` plays no part,
//!   so a DNS-rebinding page (whose `Host` is the attacker's name) is refused;
//! - `--allowed-origins` empty: a same-origin request (`Origin` host and port equal the
//!   `Host` header's) or any `http(s)://localhost|127.0.0.1|[::1]` origin.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::config::Config;

/// Why an `Origin` (or allow-list entry) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not `http` or `https`, or no `://`.
    #[error("scheme must be http or https")]
    Scheme,
    /// Empty, or with characters a host cannot hold (including userinfo `@`, paths,
    /// unbalanced brackets).
    #[error("malformed host")]
    Host,
    /// Not a number in 1..=65535.
    #[error("malformed port")]
    Port,
}

/// A parsed origin: scheme, lowercase host (IPv6 in brackets) and effective port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Lowercase host; an IPv6 address in its canonical bracketed form.
    pub host: String,
    /// The port, the scheme's default when none was written.
    pub port: u16,
}

impl Origin {
    /// Parses an `--allowed-origins` entry: an origin, surrounding spaces and one
    /// trailing `/` tolerated.
    pub fn parse_allowed(entry: &str) -> Result<Self, OriginError> {
        let entry = entry.trim();
        Self::parse(entry.strip_suffix('/').unwrap_or(entry))
    }

    /// Parses an origin as a browser sends it (see the module docs).
    pub fn parse(value: &str) -> Result<Self, OriginError> {
        let (scheme, rest) = value.split_once("://").ok_or(OriginError::Scheme)?;
        let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "http" => ("http", 80),
            "https" => ("https", 443),
            _ => return Err(OriginError::Scheme),
        };
        let (host, port) = parse_authority(rest)?;
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }
}

/// Parses `host[:port]` (the `Host` header or an origin's authority).
fn parse_authority(s: &str) -> Result<(String, Option<u16>), OriginError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or(OriginError::Host)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| OriginError::Host)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(OriginError::Host)?),
        };
        (format!("[{addr}]"), port)
    } else {
        let (host, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let host = host.to_ascii_lowercase();
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && !host.starts_with(['.', '-'])
            && !host.contains("..")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        // All-digit dotted names must be real IPv4 addresses (no `1.2.3.999`).
        let numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if !name_ok || (numeric && host.parse::<Ipv4Addr>().is_err()) {
            return Err(OriginError::Host);
        }
        (host, port)
    };
    let port = port
        .map(|p| {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(OriginError::Port);
            }
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(OriginError::Port),
            }
        })
        .transpose()?;
    Ok((host, port))
}

/// The origin rules of one server, parsed once from its [`Config`].
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    allowed: Vec<Origin>,
    require_origin: bool,
}

impl OriginPolicy {
    /// The policy of `config`. Allow-list entries that do not parse are left out
    /// ([`Config::validate`] refuses them at start-up).
    pub fn new(config: &Config) -> Self {
        Self {
            allowed: config
                .allowed_origins
                .iter()
                .filter_map(|o| Origin::parse_allowed(o).ok())
                .collect(),
            require_origin: config.require_origin,
        }
    }

    /// Whether the request's `Origin` may send telemetry.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let mut origins = headers.get_all(ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return !self.require_origin;
        };
        if origins.next().is_some() {
            return false;
        }
        let Some(origin) = origin.to_str().ok().and_then(|o| Origin::parse(o).ok()) else {
            return false;
        };
        if !self.allowed.is_empty() {
            return self.allowed.contains(&origin);
        }
        let same_origin = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| parse_authority(h).ok())
            .is_some_and(|(host, port)| {
                host == origin.host && port.unwrap_or(default_port(origin.scheme)) == origin.port
            });
        same_origin || matches!(origin.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
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
        let p = OriginPolicy::new(&Config::default());
        assert!(p.allows(&headers(None, "x:1")));
        assert!(p.allows(&headers(Some("http://site.example"), "site.example")));
        assert!(p.allows(&headers(Some("http://site.example"), "site.example:80")));
        assert!(p.allows(&headers(Some("http://localhost:3000"), "127.0.0.1:8080")));
        assert!(p.allows(&headers(Some("http://[::1]:3000"), "127.0.0.1:8080")));
        assert!(!p.allows(&headers(Some("https://evil.example"), "127.0.0.1:8080")));
        assert!(!p.allows(&headers(
            Some("http://localhost.evil.example"),
            "127.0.0.1:8080"
        )));
        assert!(!p.allows(&headers(Some("null"), "127.0.0.1:8080")));
        // Behind a TLS proxy the Host has no scheme: https on the default port matches.
        assert!(p.allows(&headers(Some("https://site.example"), "site.example")));
        assert!(!p.allows(&headers(Some("http://site.example:81"), "site.example")));
    }

    #[test]
    fn allow_list_is_checked_before_host() {
        let c = Config {
            allowed_origins: vec!["https://site.example/".into()],
            require_origin: true,
            ..Config::default()
        };
        let p = OriginPolicy::new(&c);
        assert!(p.allows(&headers(Some("https://site.example"), "internal:80")));
        assert!(p.allows(&headers(Some("https://SITE.example:443"), "internal:80")));
        assert!(!p.allows(&headers(Some("http://localhost:3000"), "internal:80")));
        assert!(!p.allows(&headers(None, "internal:80")));
        // DNS rebinding: the attacker's page is same-origin with its own Host.
        assert!(!p.allows(&headers(
            Some("http://rebind.evil.example:8080"),
            "rebind.evil.example:8080"
        )));
    }

    #[test]
    fn malformed_origins_are_refused() {
        let p = OriginPolicy::new(&Config::default());
        for bad in [
            "http://user@localhost",
            "http://user:pw@localhost:3000",
            "http://localhost/",
            "http://localhost/path",
            "http://localhost?x",
            "http://localhost#x",
            "http://[::1",
            "http://[::1]x",
            "http://[nope]:80",
            "http://localhost:",
            "http://localhost:0",
            "http://localhost:65536",
            "http://localhost:+80",
            "http://localhost:80:80",
            "http://",
            "http://.localhost",
            "http://local host",
            "http://1.2.3.999",
            "ws://localhost",
            "localhost",
            "file://",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
            let mut h = HeaderMap::new();
            h.insert(ORIGIN, HeaderValue::from_str(bad).unwrap());
            h.insert(HOST, HeaderValue::from_static("localhost"));
            assert!(!p.allows(&h), "{bad}");
        }
        for good in [
            "http://localhost",
            "https://a-b.example:8443",
            "http://127.0.0.1:1",
            "http://[2001:db8::1]:8080",
        ] {
            assert!(Origin::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Origin::parse("http://[2001:DB8:0::1]").unwrap().host,
            "[2001:db8::1]"
        );
    }

    #[test]
    fn two_origin_headers_are_refused() {
        let p = OriginPolicy::new(&Config::default());
        let mut h = headers(Some("http://localhost"), "localhost");
        h.append(ORIGIN, HeaderValue::from_static("http://localhost"));
        assert!(!p.allows(&h));
    }
}
