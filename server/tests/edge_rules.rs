//! Edge rules for a table of real user-agent strings and client hints, through the
//! real server (HTML meta tag, headers, Server-Timing and `/api/hints` agree).
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use common::*;

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86";
const FIREFOX_WIN_142: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:142.0) Gecko/20100101 Firefox/142.0";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_17: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
const SAFARI_26: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15";
const IPHONE_17: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const IPHONE_26: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1";
const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
const ANDROID_OLD: &str = "Mozilla/5.0 (Linux; Android 9; SM-G960F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.210 Mobile Safari/537.36";
const IE11: &str = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko";
const IE9: &str = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)";
const OPERA_MINI: &str = "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const GOOGLEBOT_MOBILE: &str = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const BINGBOT: &str = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";

#[tokio::test]
async fn user_agent_table() {
    let t = start(test_config()).await;
    let c = client();
    let table: &[(&str, &str, &str)] = &[
        (CHROME_WIN, "webgpu", "quality"),
        (CHROME_MAC, "webgpu", "quality"),
        (CHROME_LINUX, "webgl", "quality"),
        (EDGE_WIN, "webgpu", "quality"),
        (FIREFOX_WIN_142, "webgpu", "quality"),
        (FIREFOX_LINUX, "webgl", "quality"),
        (SAFARI_17, "webgl", "quality"),
        (SAFARI_26, "webgpu", "quality"),
        (IPHONE_17, "webgl", "performance"),
        (IPHONE_26, "webgpu", "performance"),
        (ANDROID_CHROME, "webgpu", "performance"),
        (ANDROID_OLD, "webgl", "performance"),
        (IE11, "canvas", "quality"),
        (IE9, "canvas", "quality"),
        (OPERA_MINI, "canvas", "performance"),
        (GOOGLEBOT, "canvas", "quality"),
        (GOOGLEBOT_MOBILE, "canvas", "performance"),
        (BINGBOT, "canvas", "quality"),
        (HEADLESS, "webgl", "quality"),
        ("", "canvas", "quality"),
    ];
    for &(ua, mode, preset) in table {
        let r = c
            .get(format!("{}/", t.base))
            .header("user-agent", ua)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-render-mode"], mode, "{ua}");
        assert_eq!(r.headers()["x-quality-preset"], preset, "{ua}");
        let timing = r.headers()["server-timing"].to_str().unwrap().to_owned();
        assert_eq!(
            timing,
            format!("cf-mode;desc=\"{mode}\", cf-preset;desc=\"{preset}\"")
        );
        let body = r.text().await.unwrap();
        assert!(
            body.contains(&format!("content=\"mode={mode};preset={preset}\"")),
            "{ua}: {body}"
        );
        let api: serde_json::Value = c
            .get(format!("{}/api/hints", t.base))
            .header("user-agent", ua)
            .send()
            .await
            .unwrap()
            .json_value()
            .await;
        assert_eq!(
            api,
            serde_json::json!({"mode": mode, "preset": preset}),
            "{ua}"
        );
    }
}

#[tokio::test]
async fn client_hints_pick_the_preset() {
    let t = start(test_config()).await;
    let c = client();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (CHROME_WIN, &[("save-data", "on")], "performance"),
        (CHROME_WIN, &[("device-memory", "2")], "performance"),
        (CHROME_WIN, &[("device-memory", "0.5")], "performance"),
        (CHROME_WIN, &[("device-memory", "8")], "quality"),
        (CHROME_WIN, &[("device-memory", "nonsense")], "quality"),
        (CHROME_WIN, &[("sec-ch-ua-mobile", "?1")], "performance"),
        (ANDROID_CHROME, &[("sec-ch-ua-mobile", "?0")], "quality"),
        (
            ANDROID_CHROME,
            &[("sec-ch-ua-mobile", "?0"), ("save-data", "on")],
            "performance",
        ),
    ];
    for &(ua, hints, preset) in cases {
        let mut req = c
            .get(format!("{}/api/hints", t.base))
            .header("user-agent", ua);
        for (k, v) in hints {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.headers()["x-quality-preset"], preset, "{hints:?}");
        assert!(r.headers()["vary"].to_str().unwrap().contains("Save-Data"));
    }
}

#[tokio::test]
async fn query_overrides_user_agent() {
    let t = start(test_config()).await;
    let c = client();
    let r = c
        .get(format!(
            "{}/api/hints?mode=webgl&preset=performance",
            t.base
        ))
        .header("user-agent", CHROME_WIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-render-mode"], "webgl");
    assert_eq!(r.headers()["x-quality-preset"], "performance");
    let r = c
        .get(format!("{}/?mode=webgpu", t.base))
        .header("user-agent", IE11)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-render-mode"], "webgpu");
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}
