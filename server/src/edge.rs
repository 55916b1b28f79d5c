//! Edge rules: from the `User-Agent` and Client Hints, pick a render-mode hint and a
//! quality preset for the page, and say so in headers the page can read.
//!
//! The hint is only a first guess: the page still tries WebGPU → WebGL2 → Canvas-2D in
//! order, with the hinted mode moved to the front, and a `?mode=` query beats it.

use axum::http::header::{HeaderMap, HeaderValue};
use serde::Serialize;

/// Render-mode hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderMode {
    /// WebGPU is shipped and enabled by default in this browser.
    Webgpu,
    /// WebGL2 is the best bet.
    Webgl,
    /// Old or minimal browsers and crawlers: a Canvas-2D still image.
    Canvas,
}

/// Quality preset hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Full resolution and detail.
    Quality,
    /// Reduced resolution and LOD distances (mobile, Save-Data, little memory).
    Performance,
}

impl RenderMode {
    /// The lowercase name used in headers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webgpu => "webgpu",
            Self::Webgl => "webgl",
            Self::Canvas => "canvas",
        }
    }

    /// Parses a `?mode=` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webgpu" => Some(Self::Webgpu),
            "webgl" | "webgl2" => Some(Self::Webgl),
            "canvas" => Some(Self::Canvas),
            _ => None,
        }
    }
}

impl Preset {
    /// The lowercase name used in headers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quality => "quality",
            Self::Performance => "performance",
        }
    }

    /// Parses a `?preset=` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quality" => Some(Self::Quality),
            "performance" => Some(Self::Performance),
            _ => None,
        }
    }
}

/// The hints chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hints {
    /// Render-mode hint.
    pub mode: RenderMode,
    /// Quality preset hint.
    pub preset: Preset,
}

/// Client hints the site asks for (`Accept-CH`) and varies on.
pub const ACCEPT_CH: &str = "Sec-CH-UA-Mobile, Save-Data, Device-Memory";
/// `Vary` for responses whose body or headers depend on the hints.
pub const VARY_HINTS: &str =
    "Accept-Encoding, User-Agent, Sec-CH-UA-Mobile, Save-Data, Device-Memory";

/// Devices reporting less memory than this (GiB, `Device-Memory`) get `performance`.
const LOW_DEVICE_MEMORY_GIB: f64 = 4.0;

/// Chooses hints from request headers and the query string's `mode`/`preset`.
pub fn choose_hints(headers: &HeaderMap, query: Option<&str>) -> Hints {
    let ua = header_str(headers, "user-agent");
    let mut hints = Hints {
        mode: guess_mode(ua),
        preset: guess_preset(headers, ua),
    };
    for (key, value) in query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
    {
        match key {
            "mode" => hints.mode = RenderMode::parse(value).unwrap_or(hints.mode),
            "preset" => hints.preset = Preset::parse(value).unwrap_or(hints.preset),
            _ => {}
        }
    }
    hints
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Major version following `token` (e.g. `"Chrome/"`) in a user-agent string.
fn version_after(ua: &str, token: &str) -> Option<u32> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether the user agent is a phone or tablet (client hint first, then the UA).
fn is_mobile(headers: &HeaderMap, ua: &str) -> bool {
    match header_str(headers, "sec-ch-ua-mobile") {
        "?1" => true,
        "?0" => false,
        _ => ["Mobi", "Android", "iPhone", "iPad", "iPod"]
            .iter()
            .any(|t| ua.contains(t)),
    }
}

/// Render-mode guess from the user agent. WebGPU shipped by default: Chromium 113 on
/// Windows, macOS and ChromeOS, Chromium 121 on Android (not Linux); Safari 26 on macOS
/// and iOS; Firefox 141 on Windows. Everything else modern gets WebGL2; Internet
/// Explorer, Opera Mini, crawlers and an empty UA get Canvas-2D.
pub fn guess_mode(ua: &str) -> RenderMode {
    let lower = ua.to_ascii_lowercase();
    // Headless Chrome is deliberately not a bot: the browser tests drive it.
    let bot = ["bot", "crawler", "spider", "slurp", "facebookexternalhit"];
    if ua.trim().is_empty()
        || bot.iter().any(|b| lower.contains(b))
        || ua.contains("MSIE ")
        || ua.contains("Trident/")
        || ua.contains("Opera Mini")
        || ua.contains("OPiOS")
    {
        return RenderMode::Canvas;
    }
    let android = ua.contains("Android");
    let windows = ua.contains("Windows NT");
    let apple_mobile = ua.contains("iPhone") || ua.contains("iPad");
    let mac = ua.contains("Macintosh");
    if let Some(v) = version_after(ua, "Firefox/") {
        return if windows && v >= 141 {
            RenderMode::Webgpu
        } else {
            RenderMode::Webgl
        };
    }
    if let Some(v) = version_after(ua, "Chrome/").or_else(|| version_after(ua, "CriOS/")) {
        // CriOS is WebKit underneath: it follows Safari's rules.
        if ua.contains("CriOS/") {
            return safari_mode(ua);
        }
        let desktop = windows || mac || ua.contains("CrOS");
        let webgpu = (desktop && v >= 113) || (android && v >= 121);
        return if webgpu {
            RenderMode::Webgpu
        } else {
            RenderMode::Webgl
        };
    }
    if ua.contains("AppleWebKit/") && (mac || apple_mobile) {
        return safari_mode(ua);
    }
    RenderMode::Webgl
}

fn safari_mode(ua: &str) -> RenderMode {
    // Safari carries "Version/26"; iOS froze the OS version in the UA at 18_x, so
    // "OS 26_0" only helps other iOS browsers on versions that report it.
    let os = version_after(ua, "Version/").or_else(|| version_after(ua, "OS "));
    if os.is_some_and(|v| v >= 26) {
        RenderMode::Webgpu
    } else {
        RenderMode::Webgl
    }
}

fn guess_preset(headers: &HeaderMap, ua: &str) -> Preset {
    let save_data = header_str(headers, "save-data").eq_ignore_ascii_case("on");
    let low_memory = header_str(headers, "device-memory")
        .trim()
        .parse::<f64>()
        .is_ok_and(|gib| gib.is_finite() && gib < LOW_DEVICE_MEMORY_GIB);
    if save_data || low_memory || is_mobile(headers, ua) {
        Preset::Performance
    } else {
        Preset::Quality
    }
}

impl Hints {
    /// The meta-tag content, e.g. `mode=webgl;preset=quality`.
    pub fn meta_content(self) -> String {
        format!(
            "mode={};preset={}",
            self.mode.as_str(),
            self.preset.as_str()
        )
    }

    /// Adds `X-Render-Mode`, `X-Quality-Preset`, `Server-Timing` (readable by page JS
    /// through the navigation timing entry), `Accept-CH` and `Vary`.
    pub fn apply(self, headers: &mut HeaderMap) {
        headers.insert(
            "x-render-mode",
            HeaderValue::from_static(self.mode.as_str()),
        );
        headers.insert(
            "x-quality-preset",
            HeaderValue::from_static(self.preset.as_str()),
        );
        let timing = format!(
            "cf-mode;desc=\"{}\", cf-preset;desc=\"{}\"",
            self.mode.as_str(),
            self.preset.as_str()
        );
        if let Ok(v) = HeaderValue::from_str(&timing) {
            headers.insert("server-timing", v);
        }
        headers.insert("accept-ch", HeaderValue::from_static(ACCEPT_CH));
        headers.insert("vary", HeaderValue::from_static(VARY_HINTS));
    }
}

/// The placeholder meta tag the page ships and the server fills in.
pub const META_PLACEHOLDER: &[u8] = br#"<meta name="candlefish-hints" content="">"#;

/// Replaces the first [`META_PLACEHOLDER`] in `html` with the filled tag. Returns the
/// input unchanged when there is no placeholder.
pub fn patch_html(html: &[u8], hints: Hints) -> Vec<u8> {
    let Some(pos) = html
        .windows(META_PLACEHOLDER.len())
        .position(|w| w == META_PLACEHOLDER)
    else {
        return html.to_vec();
    };
    let tag = format!(
        r#"<meta name="candlefish-hints" content="{}">"#,
        hints.meta_content()
    );
    let mut out = Vec::with_capacity(html.len() + 32);
    out.extend_from_slice(&html[..pos]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&html[pos + META_PLACEHOLDER.len()..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_overrides_guess() {
        let mut h = HeaderMap::new();
        h.insert(
            "user-agent",
            HeaderValue::from_static("Mozilla/5.0 (compatible; MSIE 10.0)"),
        );
        let hints = choose_hints(&h, Some("x=1&mode=webgpu&preset=performance"));
        assert_eq!(hints.mode, RenderMode::Webgpu);
        assert_eq!(hints.preset, Preset::Performance);
        assert_eq!(
            choose_hints(&h, Some("mode=bogus")).mode,
            RenderMode::Canvas
        );
    }

    #[test]
    fn patch_fills_placeholder_once() {
        let html = br#"<head><meta name="candlefish-hints" content=""></head>"#;
        let hints = Hints {
            mode: RenderMode::Webgl,
            preset: Preset::Quality,
        };
        let out = String::from_utf8(patch_html(html, hints)).unwrap();
        assert_eq!(
            out,
            r#"<head><meta name="candlefish-hints" content="mode=webgl;preset=quality"></head>"#
        );
        assert_eq!(patch_html(b"<p>no tag</p>", hints), b"<p>no tag</p>");
    }

    #[test]
    fn version_parsing() {
        assert_eq!(version_after("Chrome/131.0.1", "Chrome/"), Some(131));
        assert_eq!(version_after("Chrome/x", "Chrome/"), None);
        assert_eq!(version_after("nothing", "Chrome/"), None);
    }
}
