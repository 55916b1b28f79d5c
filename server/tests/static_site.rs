//! Static delivery: encodings, cache headers, ETag/304, MIME types, traversal, index,
//! the hint meta tag and preload links, against a real server on 127.0.0.1.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use common::*;

#[tokio::test]
async fn serves_each_encoding_with_vary() {
    let t = start(test_config()).await;
    let c = client();
    let url = format!("{}/app.0123abcd.js", t.base);
    for (accept, body, encoding) in [
        (Some("gzip, deflate, br"), JS_BR, Some("br")),
        (Some("gzip"), JS_GZ, Some("gzip")),
        (Some("br;q=0, gzip;q=0.5"), JS_GZ, Some("gzip")),
        (Some("identity"), JS, None),
        (None, JS, None),
    ] {
        let mut req = c.get(&url);
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{accept:?}");
        assert_eq!(
            r.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept:?}"
        );
        assert_eq!(r.headers()["vary"], "Accept-Encoding");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), body, "{accept:?}");
    }
}

#[tokio::test]
async fn cache_control_immutable_only_for_hashed_successes() {
    let t = start(test_config()).await;
    let c = client();
    let cc = |r: &reqwest::Response| r.headers()["cache-control"].to_str().unwrap().to_owned();
    let hashed = c
        .get(format!("{}/app.0123abcd.js", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(cc(&hashed), "public, max-age=31536000, immutable");
    for path in ["/", "/style.css", "/data.json", "/sub/"] {
        let r = c.get(format!("{}{path}", t.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(cc(&r), "no-cache", "{path}");
    }
    // A missing hashed-looking name must not be cached forever.
    let missing = c
        .get(format!("{}/app.deadbeef.js", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(!cc(&missing).contains("immutable"));
}

#[tokio::test]
async fn etag_and_if_none_match() {
    let t = start(test_config()).await;
    let c = client();
    for (path, enc) in [
        ("/app.0123abcd.js", "br"),
        ("/app.0123abcd.js", "identity"),
        ("/style.css", "gzip"),
        ("/", "gzip"),
    ] {
        let url = format!("{}{path}", t.base);
        let first = c
            .get(&url)
            .header("accept-encoding", enc)
            .send()
            .await
            .unwrap();
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        // The patched page is compressed on the fly, so its tag is weak.
        let quoted = if path == "/" {
            etag.strip_prefix("W/").unwrap()
        } else {
            &etag
        };
        assert!(quoted.starts_with('"') && quoted.ends_with('"'), "{etag}");
        let second = c
            .get(&url)
            .header("accept-encoding", enc)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 304, "{path} {enc}");
        assert_eq!(second.headers()["etag"].to_str().unwrap(), etag);
        assert_security_headers(second.headers(), "304");
        assert!(second.bytes().await.unwrap().is_empty());
        let other = c
            .get(&url)
            .header("accept-encoding", enc)
            .header("if-none-match", "\"nope\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }
    // Different encodings of one file have different tags.
    let br = c
        .get(format!("{}/app.0123abcd.js", t.base))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    let id = c
        .get(format!("{}/app.0123abcd.js", t.base))
        .send()
        .await
        .unwrap();
    assert_ne!(br.headers()["etag"], id.headers()["etag"]);
}

#[tokio::test]
async fn mime_types() {
    let t = start(test_config()).await;
    let c = client();
    for (path, mime) in [
        ("/candlefish_bg.89abcdef01.wasm", "application/wasm"),
        ("/app.0123abcd.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/", "text/html; charset=utf-8"),
    ] {
        let r = c.get(format!("{}{path}", t.base)).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], mime, "{path}");
    }
    let wasm = c
        .get(format!("{}/candlefish_bg.89abcdef01.wasm", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.bytes().await.unwrap().as_ref(), WASM);
}

#[tokio::test]
async fn index_html_is_patched_with_hints_and_preload_links() {
    let t = start(test_config()).await;
    let chrome_win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let r = client()
        .get(format!("{}/", t.base))
        .header("user-agent", chrome_win)
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-encoding"],
        "br",
        "patched HTML is compressed on the fly"
    );
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(
        link,
        "</app.0123abcd.js>; rel=preload; as=script, \
         </candlefish_bg.89abcdef01.wasm>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin"
    );
    let vary = r.headers()["vary"].to_str().unwrap().to_owned();
    for v in [
        "Accept-Encoding",
        "User-Agent",
        "Sec-CH-UA-Mobile",
        "Save-Data",
        "Device-Memory",
    ] {
        assert!(vary.contains(v), "{vary}");
    }
    assert!(
        r.headers()["accept-ch"]
            .to_str()
            .unwrap()
            .contains("Sec-CH-UA-Mobile")
    );
    assert_eq!(r.headers()["x-render-mode"], "webgpu");
    let body = brotli_decode(&r.bytes().await.unwrap());
    assert!(
        body.contains(r#"<meta name="candlefish-hints" content="mode=webgpu;preset=quality">"#),
        "{body}"
    );
    let q = client()
        .get(format!("{}/?mode=canvas", t.base))
        .header("user-agent", chrome_win)
        .send()
        .await
        .unwrap();
    assert!(
        q.text()
            .await
            .unwrap()
            .contains(r#"content="mode=canvas;preset=quality""#)
    );
}

#[tokio::test]
async fn no_link_header_without_manifest() {
    let dir = make_site(false);
    let config = candlefish_server::Config {
        site_dir: dir.join("dist"),
        ..test_config()
    };
    let t = start_in(config, dir).await;
    let r = client().get(format!("{}/", t.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("link").is_none());
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let t = start(test_config()).await;
    let addr = t.site_addr;
    let targets = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/sub\\..\\..\\secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/.hidden",
        "/escape.txt",
        "/%00",
        "/%zz",
    ];
    let results = tokio::task::spawn_blocking(move || targets.map(|p| (p, raw_get(addr, p))))
        .await
        .unwrap();
    for (target, r) in results {
        assert!(r.status == 400 || r.status == 404, "{target}: {}", r.status);
        assert!(
            !String::from_utf8_lossy(&r.body).contains("TOP SECRET"),
            "{target}"
        );
        assert!(r.header("content-security-policy").is_some(), "{target}");
    }
    // Absolute-form request targets resolve only inside the root too.
    let abs = tokio::task::spawn_blocking(move || raw_get(addr, "http://x/../secret.txt"))
        .await
        .unwrap();
    assert!(abs.status == 400 || abs.status == 404);
    // A sane path still works over the same raw client.
    let ok = tokio::task::spawn_blocking(move || raw_get(addr, "/style.css"))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"body{}");
}

#[tokio::test]
async fn head_and_wrong_methods() {
    let t = start(test_config()).await;
    let c = client();
    let head = c
        .head(format!("{}/style.css", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "text/css; charset=utf-8");
    let post = c
        .post(format!("{}/style.css", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_security_headers(post.headers(), "405");
}

fn brotli_decode(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn html_is_gzipped_on_the_fly_and_small_files_are_not() {
    let t = start(test_config()).await;
    let r = client()
        .get(format!("{}/", t.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(r.headers().get("content-length").is_none());
    let mut html = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..]),
        &mut html,
    )
    .unwrap();
    assert!(html.contains("content=\"mode="), "{html}");
    // Assets without a precompressed variant are not compressed on the fly.
    let css = client()
        .get(format!("{}/style.css", t.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(css.headers().get("content-encoding").is_none());
}
