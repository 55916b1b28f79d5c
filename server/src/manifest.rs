//! The optional `manifest.json` in the site root, naming the critical files to preload.
//! Shape (documented in `server/PROTOCOL.md`):
//! `{"release":"2026.11.30-abc1234","preload":[{"href":"/app.0123abcd.js","as":"script"},{"href":"/app_bg.89abcdef.wasm","as":"fetch","type":"application/wasm"}]}`

use std::path::Path;

use serde::Deserialize;

/// Most preload entries turned into `Link` values.
pub const MAX_PRELOADS: usize = 16;

/// The largest `manifest.json` read (it is read on every HTML request).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// The manifest file.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    /// Files the HTML response announces with `Link: <href>; rel=preload`.
    #[serde(default)]
    pub preload: Vec<Preload>,
    /// The build's release id: telemetry of this release keeps its own label, and the
    /// HTTP metrics carry it (see [`crate::labels`]).
    #[serde(default)]
    pub release: Option<String>,
}

/// One preload entry.
#[derive(Debug, Deserialize)]
pub struct Preload {
    /// Same-origin absolute path, e.g. `/app.0123abcd.js`.
    pub href: String,
    /// Request destination: `script`, `style`, `fetch`, `font`, `image` or `worker`.
    #[serde(rename = "as")]
    pub destination: String,
    /// Optional MIME type, e.g. `application/wasm`.
    #[serde(default, rename = "type")]
    pub mime: Option<String>,
}

fn safe_href(href: &str) -> bool {
    href.starts_with('/')
        && !href.starts_with("//")
        && href.len() <= 256
        && href
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._~-".contains(&b))
}

fn safe_mime(mime: &str) -> bool {
    mime.len() <= 64
        && mime
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b))
}

/// Builds the `Link` header value from a manifest; `None` when nothing valid is listed.
/// Invalid entries are skipped (an operator's typo must not break the page).
pub fn link_header(manifest: &Manifest) -> Option<String> {
    let links: Vec<String> = manifest
        .preload
        .iter()
        .filter(|p| safe_href(&p.href))
        .filter(|p| {
            ["script", "style", "fetch", "font", "image", "worker"]
                .contains(&p.destination.as_str())
        })
        .take(MAX_PRELOADS)
        .map(|p| {
            let mut link = format!("<{}>; rel=preload; as={}", p.href, p.destination);
            if let Some(mime) = p.mime.as_deref().filter(|m| safe_mime(m)) {
                link.push_str(&format!("; type=\"{mime}\""));
            }
            // fetch() and fonts are CORS requests; the preload must match to be reused.
            if p.destination == "fetch" || p.destination == "font" {
                link.push_str("; crossorigin");
            }
            link
        })
        .collect();
    (!links.is_empty()).then(|| links.join(", "))
}

/// Reads `root/manifest.json` (on every HTML request, so a redeploy needs no restart)
/// and returns the `Link` header; `None` when absent or invalid. Notes the release it
/// names as served.
pub async fn preload_link(root: &Path, labels: &crate::labels::ReleaseLabels) -> Option<String> {
    let manifest = read(root).await?;
    if let Some(release) = &manifest.release {
        labels.serve(release);
    }
    link_header(&manifest)
}

/// Reads and parses `root/manifest.json`; `None` when absent, too large or invalid.
pub async fn read(root: &Path) -> Option<Manifest> {
    let (path, meta) =
        crate::static_files::contained_file(root, &root.join("manifest.json")).await?;
    if meta.len() > MAX_MANIFEST_BYTES {
        tracing::warn!(
            bytes = meta.len(),
            "manifest.json is too large; no preload links"
        );
        return None;
    }
    let bytes = tokio::fs::read(path).await.ok()?;
    match serde_json::from_slice::<Manifest>(&bytes) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "manifest.json is invalid; no preload links");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_links_and_skips_bad_entries() {
        let m: Manifest = serde_json::from_str(
            r#"{"preload":[{"href":"/app.0123abcd.js","as":"script"},
            {"href":"/a.0123abcd.wasm","as":"fetch","type":"application/wasm"},
            {"href":"https://evil/x","as":"script"},{"href":"/x>;","as":"script"},
            {"href":"/y","as":"bogus"}]}"#,
        )
        .unwrap();
        assert_eq!(
            link_header(&m).unwrap(),
            "</app.0123abcd.js>; rel=preload; as=script, \
             </a.0123abcd.wasm>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin"
        );
        assert!(
            link_header(&Manifest {
                preload: vec![],
                release: None
            })
            .is_none()
        );
    }
}
