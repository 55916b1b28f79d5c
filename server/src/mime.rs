//! MIME types by file extension, for the assets a Candlefish site ships.

/// The `Content-Type` for a file name (by its last extension);
/// `application/octet-stream` when unknown.
pub fn mime_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "glb" => "model/gltf-binary",
        "gltf" => "model/gltf+json",
        "ktx2" => "image/ktx2",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::mime_for;

    #[test]
    fn common_types() {
        assert_eq!(mime_for("a.0123abcd.wasm"), "application/wasm");
        assert_eq!(mime_for("app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(mime_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(mime_for("scene.pack"), "application/octet-stream");
        assert_eq!(mime_for("noext"), "application/octet-stream");
    }
}
