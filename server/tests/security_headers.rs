//! Security headers on every route (including 404, 405, 429 and the telemetry
//! refusals), the per-IP HTTP rate limit, and X-Forwarded-For trust.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use common::*;

#[tokio::test]
async fn headers_on_every_route() {
    let t = start(test_config()).await;
    let c = client();
    let routes = [
        ("GET", "/", 200),
        ("GET", "/app.0123abcd.js", 200),
        ("GET", "/missing.html", 404),
        ("GET", "/a%5cb", 400),
        ("GET", "/dashboard", 404),
        ("GET", "/dashboard/dashboard.js", 404),
        ("GET", "/api/stats", 404),
        ("GET", "/api/hints", 200),
        ("GET", "/telemetry", 400),
        ("POST", "/telemetry/beacon", 400),
        ("GET", "/telemetry/beacon", 405),
        ("DELETE", "/", 405),
    ];
    for (method, path, status) in routes {
        let r = c
            .request(method.parse().unwrap(), format!("{}{path}", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert_security_headers(r.headers(), &format!("{method} {path}"));
    }
    let m = c.get(&t.metrics_url).send().await.unwrap();
    assert_eq!(m.headers()["x-content-type-options"], "nosniff");
}

/// The dashboard and `/api/stats` are private by default: served on the metrics
/// listener only, unless `--public-dashboard`.
#[tokio::test]
async fn dashboard_is_private_unless_asked() {
    let t = start(test_config()).await;
    let c = client();
    for path in [
        "/dashboard",
        "/dashboard/dashboard.js",
        "/dashboard/dashboard.css",
        "/api/stats",
        "/metrics",
    ] {
        let public = c.get(format!("{}{path}", t.base)).send().await.unwrap();
        assert_eq!(public.status(), 404, "public {path}");
        let private = c
            .get(format!("{}{path}", t.private_base()))
            .send()
            .await
            .unwrap();
        assert_eq!(private.status(), 200, "private {path}");
        assert_security_headers(private.headers(), path);
    }
    let stats = c
        .get(format!("{}/api/stats", t.private_base()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    assert!(stats["totals"]["rejections"].is_object());

    let open = start(candlefish_server::Config {
        public_dashboard: true,
        ..test_config()
    })
    .await;
    for path in ["/dashboard", "/api/stats"] {
        let r = c.get(format!("{}{path}", open.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path} with --public-dashboard");
        assert_security_headers(r.headers(), path);
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers() {
    let config = candlefish_server::Config {
        rate_limit: 5,
        rate_period_s: 300,
        ..test_config()
    };
    let t = start(config).await;
    let c = client();
    for i in 0..5 {
        let r = c.get(format!("{}/style.css", t.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
    }
    let r = c.get(format!("{}/style.css", t.base)).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_security_headers(r.headers(), "429");
    assert!(!r.headers().contains_key("x-render-mode"));
    let metrics = t.metrics().await;
    assert_eq!(metric(&metrics, "candlefish_http_rate_limited_total"), 1.0);
    assert_eq!(
        metric(&metrics, "candlefish_http_requests_total{class=\"4xx\"}"),
        1.0
    );
    assert_eq!(
        metric(&metrics, "candlefish_http_requests_total{class=\"2xx\"}"),
        5.0
    );
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_from_proxies() {
    // Untrusted peer: X-Forwarded-For is ignored, so changing it does not dodge the limit.
    let t = start(candlefish_server::Config {
        rate_limit: 2,
        ..test_config()
    })
    .await;
    let c = client();
    for ip in ["1.1.1.1", "2.2.2.2"] {
        let r = c
            .get(format!("{}/style.css", t.base))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = c
        .get(format!("{}/style.css", t.base))
        .header("x-forwarded-for", "3.3.3.3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "spoofed X-Forwarded-For must not reset the limit"
    );

    // Trusted proxy (the test client's own address): each forwarded client has its own bucket.
    let config = candlefish_server::Config {
        rate_limit: 2,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..test_config()
    };
    let t = start(config).await;
    for ip in ["1.1.1.1", "1.1.1.1", "2.2.2.2", "2.2.2.2"] {
        let r = c
            .get(format!("{}/style.css", t.base))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ip}");
    }
    let r = c
        .get(format!("{}/style.css", t.base))
        .header("x-forwarded-for", "1.1.1.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}
