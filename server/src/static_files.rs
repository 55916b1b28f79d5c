//! Static site delivery from the site directory.
//!
//! - The request path is percent-decoded and split into segments; `..`, `.`, empty
//!   segments, dot-files, backslashes, NUL, `:` and absolute paths are refused (400).
//! - Every file opened (the page, an asset, a precompressed variant, the manifest) must
//!   canonicalise to a regular file inside the canonical site root ([`contained_file`]):
//!   no symlink leads out.
//! - `/` and paths ending in `/` serve `index.html`.
//! - Assets are streamed from the file in 64 KiB chunks (`tower-http` `ServeFile`), with
//!   `Range` (one range; `If-Range` honoured with the ETag), `HEAD` and
//!   `If-Modified-Since`. Memory per request does not grow with the file.
//! - Precompressed `NAME.br` / `NAME.gz` next to `NAME` are served when the client's
//!   `Accept-Encoding` allows them (brotli first), with `Vary: Accept-Encoding`.
//! - HTML is patched with the edge hints (see [`crate::edge`]) per request, so it is
//!   compressed on the fly (the site router's `CompressionLayer`) and its ETag is weak.
//! - `Cache-Control: public, max-age=31536000, immutable` for content-hashed names
//!   (see [`is_hashed_name`]) on successes and 304 only; `no-cache` for everything else.
//! - `ETag` from size, modification time and encoding; `If-None-Match` → 304.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

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
pub async fn serve_static(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let segments = match sanitize_path(req.uri().path()) {
        Ok(s) => s,
        Err(_) => return status(StatusCode::BAD_REQUEST, "bad path\n"),
    };
    let mut path = state.site_root.clone();
    path.extend(&segments);
    let Some((file, meta)) = contained_file(&state.site_root, &path).await else {
        return status(StatusCode::NOT_FOUND, "not found\n");
    };
    let name = segments.last().map_or("", String::as_str);
    let result = if name.ends_with(".html") && meta.len() <= MAX_PATCHED_HTML {
        serve_html(&state, &file, &meta, req).await
    } else {
        serve_asset(&state.site_root, &file, name, req).await
    };
    match result {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "static read failed");
            status(StatusCode::NOT_FOUND, "not found\n")
        }
    }
}

/// The largest HTML file patched with the hints (read whole, per request); a larger
/// one is streamed as it is.
pub const MAX_PATCHED_HTML: u64 = 1024 * 1024;

/// Canonicalises `path` and returns it with its metadata if it is a regular file
/// inside `root` (itself canonical). Every file the site serves or reads goes through
/// this, precompressed variants and the manifest included, so no symlink leads out.
pub async fn contained_file(root: &Path, path: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let canonical = tokio::fs::canonicalize(path).await.ok()?;
    if !canonical.starts_with(root) {
        tracing::warn!(path = %path.display(), "refused: resolves outside the site root");
        return None;
    }
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    meta.is_file().then_some((canonical, meta))
}

/// Picks the representation of `file` to send: the first precompressed variant the
/// client accepts that exists inside the root, else the file itself.
async fn choose_variant(
    root: &Path,
    file: &Path,
    headers: &HeaderMap,
) -> std::io::Result<(PathBuf, std::fs::Metadata, Option<&'static str>)> {
    for coding in accepted_encodings(headers) {
        let ext = if coding == "br" { "br" } else { "gz" };
        let mut variant = file.as_os_str().to_owned();
        variant.push(format!(".{ext}"));
        if let Some((path, meta)) = contained_file(root, Path::new(&variant)).await {
            return Ok((path, meta, Some(coding)));
        }
    }
    let meta = tokio::fs::metadata(file).await?;
    Ok((file.to_path_buf(), meta, None))
}

/// A static asset, streamed by `tower-http`'s `ServeFile` in 64 KiB chunks (so memory per
/// request stays bounded), with `Range`, `HEAD` and `If-Modified-Since`. What it does
/// not do is done here: which file to open (the variant choice with its containment
/// check; `ServeDir` opens `NAME.gz` without one), the `ETag` and `If-None-Match`,
/// `If-Range`, and the cache headers.
async fn serve_asset(
    root: &Path,
    file: &Path,
    name: &str,
    req: Request,
) -> std::io::Result<Response> {
    let (path, meta, encoding) = choose_variant(root, file, req.headers()).await?;
    let etag = match encoding {
        Some(coding) => format!("\"{}-{}\"", stamp(&meta), ext_of(coding)),
        None => format!("\"{}\"", stamp(&meta)),
    };
    let hashed = is_hashed_name(name);
    if etag_matches(req.headers(), &etag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        finish_headers(r.headers_mut(), &etag, hashed);
        return Ok(r);
    }
    let (mut parts, body) = req.into_parts();
    let h = &mut parts.headers;
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    if h.contains_key(header::IF_NONE_MATCH) {
        h.remove(header::IF_MODIFIED_SINCE);
    }
    // ServeFile ignores If-Range; honour it here: a range only if the tag still matches
    // (a date is not a strong enough validator for us, so it means "send it all").
    if let Some(if_range) = h.remove(header::IF_RANGE)
        && if_range.as_bytes() != etag.as_bytes()
    {
        h.remove(header::RANGE);
    }
    let req = Request::from_parts(parts, body);
    let mime = mime_for(name);
    let response = ServeFile::new_with_mime(&path, &mime)
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let mut response = response.map(Body::new);
    let status = response.status();
    let h = response.headers_mut();
    if let Some(coding) = encoding
        && (status.is_success() || status == StatusCode::NOT_MODIFIED)
    {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    let cacheable = status.is_success() || status == StatusCode::NOT_MODIFIED;
    finish_headers(h, &etag, hashed && cacheable);
    if !cacheable {
        h.remove(header::ETAG);
    }
    Ok(response)
}

fn ext_of(coding: &str) -> &'static str {
    if coding == "br" { "br" } else { "gz" }
}

/// `ETag`, `Cache-Control` and `Vary` of a file response.
fn finish_headers(h: &mut HeaderMap, etag: &str, immutable: bool) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    let cache = if immutable {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

/// An HTML page, read whole and patched with the edge hints for this request. The
/// patch differs per request, so no precompressed variant can exist: the response is
/// compressed on the fly by the site router's `CompressionLayer`, and its `ETag` is weak
/// (the same tag covers each content coding of the same patched page).
async fn serve_html(
    state: &AppState,
    file: &Path,
    meta: &std::fs::Metadata,
    req: Request,
) -> std::io::Result<Response> {
    let headers = req.headers();
    let hints = edge::choose_hints(headers, req.uri().query());
    let etag = format!(
        "W/\"{}-{}-{}\"",
        stamp(meta),
        hints.mode.as_str(),
        hints.preset.as_str()
    );
    let mut response = if etag_matches(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let html = edge::patch_html(&tokio::fs::read(file).await?, hints);
        let mut r = Response::new(Body::from(html));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    };
    let h = response.headers_mut();
    finish_headers(h, &etag, false);
    apply_html_headers(state, hints, h).await;
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

async fn apply_html_headers(state: &AppState, hints: Hints, headers: &mut HeaderMap) {
    hints.apply(headers);
    if let Some(link) = crate::manifest::preload_link(&state.site_root, &state.labels).await
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
