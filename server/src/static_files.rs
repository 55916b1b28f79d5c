//! Static site delivery from the site directory.
//!
//! - The request path is percent-decoded and split into segments; `..`, `.`, empty
//!   segments, dot-files, backslashes, NUL, `:` and absolute paths are refused (400), and
//!   the resolved file must canonicalise to a path inside the site root (symlinks
//!   cannot escape it).
//! - `/` and paths ending in `/` serve `index.html`.
//! - Precompressed `NAME.br` / `NAME.gz` next to `NAME` are served when the client's
//!   `Accept-Encoding` allows them (brotli first), with `Vary: Accept-Encoding`.
//!   HTML is patched with the edge hints (see [`crate::edge`]) and served identity-encoded.
//! - `Cache-Control: public, max-age=31536000, immutable` for content-hashed names
//!   (see [`is_hashed_name`]) on 200 and 304 only; `no-cache` for everything else.
//! - Strong `ETag` from size, modification time and encoding; `If-None-Match` → 304.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::edge::{self, Hints};
use crate::mime::mime_for;

/// Cache-Control for content-hashed assets.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control for HTML, JSON and unhashed files: store, but revalidate every time.
pub const CACHE_REVALIDATE: &str = "no-cache";

/// Why a request path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// A `%` escape was not followed by two hex digits, or decoded to invalid UTF-8.
    #[error("malformed percent-encoding")]
    BadEncoding,
    /// A segment was `..` or `.`, started with a dot, or held `\`, `:` or NUL.
    #[error("forbidden path segment")]
    Forbidden,
}

/// Percent-decodes `path` and returns its segments, refusing anything that could
/// leave the site root. A trailing `/` (or the root) yields a final `index.html`.
pub fn sanitize_path(path: &str) -> Result<Vec<String>, PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::Forbidden);
    };
    let decoded = percent_decode(rest)?;
    if decoded.starts_with('/') {
        return Err(PathError::Forbidden);
    }
    let mut segments = Vec::new();
    let parts: Vec<&str> = decoded.split('/').collect();
    for (i, seg) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if seg.is_empty() && last {
            segments.push("index.html".to_owned());
            continue;
        }
        if seg.is_empty()
            || seg.starts_with('.')
            || seg.contains(['\\', ':', '\0'])
            || seg.chars().any(char::is_control)
        {
            return Err(PathError::Forbidden);
        }
        segments.push((*seg).to_owned());
    }
    Ok(segments)
}

fn percent_decode(s: &str) -> Result<String, PathError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEncoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEncoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadEncoding)
}

/// Whether a file name is content-hashed: some dot-separated segment other than the
/// first (the stem) and the last (the extension) is at least 8 hex digits, e.g.
/// `app.0123abcd.wasm` or `scene.pack.89abcdef01.bin`.
pub fn is_hashed_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1]
            .iter()
            .any(|p| p.len() >= 8 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Content codings the client accepts, in our order of preference (br, gzip).
fn accepted_encodings(headers: &HeaderMap) -> Vec<&'static str> {
    let accept = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((coding, q))
        })
        .collect::<Vec<_>>();
    let allowed = |name: &str| {
        accept
            .iter()
            .find(|(c, _)| c == name)
            .or_else(|| accept.iter().find(|(c, _)| c == "*"))
            .is_some_and(|(_, q)| *q > 0.0)
    };
    ["br", "gzip"].into_iter().filter(|c| allowed(c)).collect()
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for GET).
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

fn status(code: StatusCode, msg: &'static str) -> Response {
    let mut r = (code, msg).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_REVALIDATE),
    );
    r
}

/// The site fallback handler: serves files from the site directory.
pub async fn serve_static(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let segments = match sanitize_path(uri.path()) {
        Ok(s) => s,
        Err(_) => return status(StatusCode::BAD_REQUEST, "bad path\n"),
    };
    let Some(file) = resolve(&state.site_root, &segments).await else {
        return status(StatusCode::NOT_FOUND, "not found\n");
    };
    let name = segments.last().map_or("", String::as_str);
    let is_html = name.ends_with(".html");
    match serve_file(
        &state.site_root,
        &file,
        name,
        is_html,
        uri.query(),
        &headers,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "static read failed");
            status(StatusCode::NOT_FOUND, "not found\n")
        }
    }
}

/// Joins the segments onto the root and checks the canonical result stays inside it.
async fn resolve(root: &Path, segments: &[String]) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    path.extend(segments);
    let canonical = tokio::fs::canonicalize(&path).await.ok()?;
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    (canonical.starts_with(root) && meta.is_file()).then_some(canonical)
}

async fn serve_file(
    root: &Path,
    file: &Path,
    name: &str,
    is_html: bool,
    query: Option<&str>,
    headers: &HeaderMap,
) -> std::io::Result<Response> {
    let mime = mime_for(name);
    let hashed = is_hashed_name(name);
    let cache = if hashed {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    let mut hints = None;
    let (body, etag, encoding) = if is_html {
        let h = edge::choose_hints(headers, query);
        hints = Some(h);
        let meta = tokio::fs::metadata(file).await?;
        let html = edge::patch_html(&tokio::fs::read(file).await?, h);
        let etag = format!(
            "\"{}-{}-{}\"",
            stamp(&meta),
            h.mode.as_str(),
            h.preset.as_str()
        );
        (html, etag, None)
    } else {
        let mut chosen = None;
        for coding in accepted_encodings(headers) {
            let ext = if coding == "br" { "br" } else { "gz" };
            let mut variant = file.as_os_str().to_owned();
            variant.push(format!(".{ext}"));
            let variant = PathBuf::from(variant);
            if let Ok(meta) = tokio::fs::metadata(&variant).await
                && meta.is_file()
            {
                chosen = Some((variant, meta, coding, ext));
                break;
            }
        }
        match chosen {
            Some((variant, meta, coding, ext)) => {
                let etag = format!("\"{}-{ext}\"", stamp(&meta));
                (tokio::fs::read(&variant).await?, etag, Some(coding))
            }
            None => {
                let meta = tokio::fs::metadata(file).await?;
                (
                    tokio::fs::read(file).await?,
                    format!("\"{}\"", stamp(&meta)),
                    None,
                )
            }
        }
    };

    let not_modified = etag_matches(headers, &etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        if let Some(coding) = encoding {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(hints) = hints {
        apply_html_headers(root, hints, h).await;
    }
    Ok(response)
}

/// Size and modification time, hex, for the ETag.
fn stamp(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}", meta.len(), mtime)
}

async fn apply_html_headers(root: &Path, hints: Hints, headers: &mut HeaderMap) {
    hints.apply(headers);
    if let Some(link) = crate::manifest::preload_link(root).await
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        headers.insert(header::LINK, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_refuses_traversal() {
        assert_eq!(sanitize_path("/").unwrap(), vec!["index.html"]);
        assert_eq!(sanitize_path("/a/b.js").unwrap(), vec!["a", "b.js"]);
        assert_eq!(sanitize_path("/a/").unwrap(), vec!["a", "index.html"]);
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/%2E%2E/x",
            "/a\\..\\b",
            "/%2fetc/passwd",
            "//etc/passwd",
            "/a//b",
            "/.git/config",
            "/c:/x",
            "/a%00b",
            "/./a",
        ] {
            assert!(sanitize_path(bad).is_err(), "{bad}");
        }
        assert_eq!(sanitize_path("/%zz"), Err(PathError::BadEncoding));
        assert_eq!(sanitize_path("/%ff"), Err(PathError::BadEncoding));
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed_name("app.0123abcd.wasm"));
        assert!(is_hashed_name("scene.pack.89abcdef01.bin"));
        assert!(!is_hashed_name("app.wasm"));
        assert!(!is_hashed_name("0123abcd.wasm"));
        assert!(!is_hashed_name("app.0123abc.wasm"));
        assert!(!is_hashed_name("app.0123abcg.wasm"));
        assert!(!is_hashed_name("index.html"));
    }

    #[test]
    fn accept_encoding_with_q_values() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br;q=0"),
        );
        assert_eq!(accepted_encodings(&h), vec!["gzip"]);
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("*"));
        assert_eq!(accepted_encodings(&h), vec!["br", "gzip"]);
        assert!(accepted_encodings(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn if_none_match_lists_and_weak() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(etag_matches(&h, "\"abc\""));
        assert!(!etag_matches(&h, "\"abd\""));
    }
}
