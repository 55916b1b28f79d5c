//! MIME types by file extension: `mime_guess`'s table, with `charset=utf-8` on text
//! types (the site's text files are UTF-8) and the few types a Candlefish site ships
//! that the table lacks.

use mime_guess::mime::Mime;

/// Types `mime_guess` does not know (or knows differently from what browsers expect).
const EXTRA: &[(&str, &str)] = &[
    ("js", "text/javascript"),
    ("mjs", "text/javascript"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("wasm", "application/wasm"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json"),
    ("ktx2", "image/ktx2"),
    ("avif", "image/avif"),
];

/// The `Content-Type` for a file name (by its last extension);
/// `application/octet-stream` when unknown.
pub fn mime_for(name: &str) -> Mime {
    let ext = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    let base = EXTRA
        .iter()
        .find(|(e, _)| *e == ext)
        .and_then(|(_, m)| m.parse::<Mime>().ok())
        .unwrap_or_else(|| mime_guess::from_ext(&ext).first_or_octet_stream());
    if base.type_() == mime_guess::mime::TEXT && base.get_param("charset").is_none() {
        format!("{base}; charset=utf-8").parse().unwrap_or(base)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::mime_for;

    #[test]
    fn common_types() {
        for (name, mime) in [
            ("a.0123abcd.wasm", "application/wasm"),
            ("app.JS", "text/javascript; charset=utf-8"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("index.html", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("data.json", "application/json"),
            ("app.js.map", "application/json"),
            ("site.webmanifest", "application/manifest+json"),
            ("icon.svg", "image/svg+xml"),
            ("poster.png", "image/png"),
            ("poster.jpg", "image/jpeg"),
            ("poster.webp", "image/webp"),
            ("poster.avif", "image/avif"),
            ("font.woff2", "font/woff2"),
            ("fish.glb", "model/gltf-binary"),
            ("fish.gltf", "model/gltf+json"),
            ("atlas.ktx2", "image/ktx2"),
            ("scene.pack", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(mime_for(name).as_ref(), mime, "{name}");
        }
    }
}
