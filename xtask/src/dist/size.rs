//! The size report and the gates of `cargo xtask dist`.
//!
//! A first route is what a visitor downloads before the first frame: `index.html`,
//! `style.css`, `loader.js`, the scene pack and one bundle's JS and wasm. Every route must
//! stay within [`FIRST_ROUTE_BUDGET_GZIP`], and the `webgl` bundle must contain no naga
//! or wgpu-core; `dist` fails otherwise (after writing `size-report.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::Built;
use super::wasm_names::{BundleNames, FORBIDDEN_IN_WEBGL};

/// The budget of every first route, in gzip bytes. Our requirement states it gzipped:
/// "< 200KB per route (gzipped)".
pub const FIRST_ROUTE_BUDGET_GZIP: u64 = 200_000;

/// Each first route and the bundle it downloads. The Canvas-2D fallback runs in the
/// small, wgpu-free `webgl` bundle.
pub const ROUTES: [(&str, &str); 3] = [
    ("webgpu", "webgpu"),
    ("webgl", "webgl"),
    ("canvas", "webgl"),
];

/// The bundle that must contain neither naga nor wgpu-core.
const WGPU_FREE_BUNDLE: &str = "webgl";

/// The hashed names of the files a route is made of.
#[derive(Debug, Default)]
pub struct SiteFiles {
    /// `index.html`, `style.css`, `loader.js` and the scene pack: on every route.
    pub shared: Vec<String>,
    /// Per bundle: its JS and its wasm.
    pub bundles: BTreeMap<String, Vec<String>>,
}

/// One first route, measured.
#[derive(Debug)]
pub struct RouteSize<'a> {
    /// `webgpu`, `webgl`, `canvas`.
    pub route: &'static str,
    /// The bundle it downloads.
    pub bundle: &'static str,
    /// Its files.
    pub parts: Vec<&'a Built>,
    /// The sum of the parts, gzip.
    pub gzip_total: u64,
    /// The sum of the parts, brotli.
    pub brotli_total: u64,
}

impl RouteSize<'_> {
    /// Whether the route is within [`FIRST_ROUTE_BUDGET_GZIP`].
    pub fn within_budget(&self) -> bool {
        self.gzip_total <= FIRST_ROUTE_BUDGET_GZIP
    }
}

/// Measures every route of [`ROUTES`] from the built files. A file a route needs but
/// that was not built is an error: a route must never look smaller than it is.
pub fn measure<'a>(built: &'a [Built], files: &SiteFiles) -> Result<Vec<RouteSize<'a>>> {
    ROUTES
        .iter()
        .map(|&(route, bundle)| {
            let Some(bundle_files) = files.bundles.get(bundle) else {
                bail!("route {route}: the {bundle} bundle was not built");
            };
            let parts = files
                .shared
                .iter()
                .chain(bundle_files)
                .map(|name| match built.iter().find(|b| &b.name == name) {
                    Some(b) => Ok(b),
                    None => bail!("route {route}: {name} was not built"),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RouteSize {
                route,
                bundle,
                gzip_total: parts.iter().map(|b| b.gzip).sum(),
                brotli_total: parts.iter().map(|b| b.brotli).sum(),
                parts,
            })
        })
        .collect()
}

/// The size table printed by `dist`.
pub fn table(built: &[Built], routes: &[RouteSize<'_>], bundles: &[BundleNames]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<44} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli"
    );
    for b in built {
        let _ = writeln!(
            out,
            "{:<44} {:>10} {:>10} {:>10}",
            b.name, b.raw, b.gzip, b.brotli
        );
    }
    for r in routes {
        let _ = writeln!(
            out,
            "first route {:<7} ({} bundle): {:>8} B gzip, {:>8} B brotli: {} the {} KB gzip budget",
            r.route,
            r.bundle,
            r.gzip_total,
            r.brotli_total,
            if r.within_budget() { "within" } else { "OVER" },
            FIRST_ROUTE_BUDGET_GZIP / 1000
        );
        for p in &r.parts {
            let _ = writeln!(
                out,
                "    {:<40} {:>8} gzip {:>8} brotli",
                p.name, p.gzip, p.brotli
            );
        }
    }
    for b in bundles {
        let counts: Vec<String> = b
            .matches
            .iter()
            .map(|(needle, count, _)| format!("{count} {needle}"))
            .collect();
        let _ = match b.functions {
            Some(n) => writeln!(
                out,
                "bundle {:<7} {n} named functions, of them {}",
                b.bundle,
                counts.join(", ")
            ),
            None => writeln!(out, "bundle {:<7} has no name section", b.bundle),
        };
    }
    out
}

/// `size-report.json`.
pub fn report_json(routes: &[RouteSize<'_>], bundles: &[BundleNames]) -> serde_json::Value {
    let routes: serde_json::Map<String, serde_json::Value> = routes
        .iter()
        .map(|r| {
            let parts: Vec<_> = r
                .parts
                .iter()
                .map(|b| serde_json::json!({"file": b.name, "raw": b.raw, "gzip": b.gzip, "brotli": b.brotli}))
                .collect();
            (
                r.route.to_owned(),
                serde_json::json!({
                    "bundle": r.bundle,
                    "gzip_total": r.gzip_total,
                    "brotli_total": r.brotli_total,
                    "budget_gzip": FIRST_ROUTE_BUDGET_GZIP,
                    "within_budget": r.within_budget(),
                    "parts": parts,
                }),
            )
        })
        .collect();
    let bundles: serde_json::Map<String, serde_json::Value> = bundles
        .iter()
        .map(|b| {
            let counts: serde_json::Map<String, serde_json::Value> = b
                .matches
                .iter()
                .map(|(needle, count, _)| ((*needle).to_owned(), (*count).into()))
                .collect();
            (
                b.bundle.clone(),
                serde_json::json!({
                    "name_section": b.functions.is_some(),
                    "named_functions": b.functions,
                    "function_names_containing": counts,
                }),
            )
        })
        .collect();
    serde_json::json!({ "routes": routes, "bundles": bundles })
}

/// Every gate that fails, one line each: routes over budget, and naga or wgpu-core (or
/// no `name` section to tell) in the `webgl` bundle.
pub fn violations(routes: &[RouteSize<'_>], bundles: &[BundleNames]) -> Vec<String> {
    let mut out = Vec::new();
    for r in routes.iter().filter(|r| !r.within_budget()) {
        out.push(format!(
            "the {} first route is {} bytes gzip ({} brotli), over the {} KB gzip budget \
             ({FIRST_ROUTE_BUDGET_GZIP} bytes) by {} bytes",
            r.route,
            r.gzip_total,
            r.brotli_total,
            FIRST_ROUTE_BUDGET_GZIP / 1000,
            r.gzip_total - FIRST_ROUTE_BUDGET_GZIP
        ));
    }
    match bundles.iter().find(|b| b.bundle == WGPU_FREE_BUNDLE) {
        None => out.push(format!("the {WGPU_FREE_BUNDLE} bundle was not inspected")),
        Some(b) if b.functions.is_none() => out.push(format!(
            "the {WGPU_FREE_BUNDLE} bundle has no name section after wasm-bindgen, so \
             nothing shows it free of {}",
            FORBIDDEN_IN_WEBGL.join(" and ")
        )),
        Some(b) => {
            for (needle, count, examples) in &b.matches {
                if *count > 0 {
                    out.push(format!(
                        "the {WGPU_FREE_BUNDLE} bundle contains {needle}: {count} function \
                         names, e.g. {}",
                        examples.join(", ")
                    ));
                }
            }
        }
    }
    out
}

/// Fails with every violation, or warns with them when the gate is off.
pub fn enforce(violations: &[String], gate: bool) -> Result<()> {
    if violations.is_empty() {
        return Ok(());
    }
    let list = violations
        .iter()
        .map(|v| format!("  - {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    if gate {
        bail!("the site fails its gates (issue 9):\n{list}");
    }
    eprintln!("xtask: warning: --no-size-gate: the site fails its gates:\n{list}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, gzip: u64, brotli: u64) -> Built {
        Built {
            name: name.to_owned(),
            raw: gzip * 3,
            gzip,
            brotli,
        }
    }

    /// A site whose shared files weigh 30 000 gzip and whose bundles' wasm weigh
    /// `webgpu_wasm` and `webgl_wasm` gzip.
    fn site(webgpu_wasm: u64, webgl_wasm: u64) -> (Vec<Built>, SiteFiles) {
        let built = vec![
            file("style.1111.css", 2_000, 1_500),
            file("loader.2222.js", 8_000, 7_000),
            file("poster.3333.png", 40_000, 40_000),
            file("scene.4444.pack", 10_000, 9_000),
            file("candlefish-webgpu.5555.js", 5_000, 4_500),
            file(
                "candlefish-webgpu_bg.6666.wasm",
                webgpu_wasm,
                webgpu_wasm * 4 / 5,
            ),
            file("candlefish-webgl.7777.js", 5_000, 4_500),
            file(
                "candlefish-webgl_bg.8888.wasm",
                webgl_wasm,
                webgl_wasm * 4 / 5,
            ),
            file("index.html", 5_000, 4_000),
        ];
        let files = SiteFiles {
            shared: [
                "index.html",
                "style.1111.css",
                "loader.2222.js",
                "scene.4444.pack",
            ]
            .map(String::from)
            .to_vec(),
            bundles: [
                (
                    "webgpu",
                    [
                        "candlefish-webgpu.5555.js",
                        "candlefish-webgpu_bg.6666.wasm",
                    ],
                ),
                (
                    "webgl",
                    ["candlefish-webgl.7777.js", "candlefish-webgl_bg.8888.wasm"],
                ),
            ]
            .into_iter()
            .map(|(b, f)| (b.to_owned(), f.map(String::from).to_vec()))
            .collect(),
        };
        (built, files)
    }

    fn names(bundle: &str, list: &[&str]) -> BundleNames {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        BundleNames::from_names(bundle, Some(&list))
    }

    fn clean_bundles() -> Vec<BundleNames> {
        vec![
            names("webgpu", &["wgpu::backend::webgpu::x"]),
            names("webgl", &["web_sys::x"]),
        ]
    }

    fn routes_of<'a>(built: &'a [Built], files: &SiteFiles) -> Vec<RouteSize<'a>> {
        match measure(built, files) {
            Ok(r) => r,
            Err(e) => panic!("{e:#}"),
        }
    }

    #[test]
    fn routes_sum_their_parts_and_canvas_takes_the_webgl_bundle() {
        let (built, files) = site(100_000, 60_000);
        let routes = routes_of(&built, &files);
        let totals: Vec<_> = routes
            .iter()
            .map(|r| (r.route, r.bundle, r.gzip_total, r.parts.len()))
            .collect();
        assert_eq!(
            totals,
            [
                ("webgpu", "webgpu", 130_000, 6),
                ("webgl", "webgl", 90_000, 6),
                ("canvas", "webgl", 90_000, 6),
            ]
        );
        // The poster is not on the first route.
        assert!(routes[0].parts.iter().all(|p| !p.name.contains("poster")));
        assert_eq!(
            routes[1].brotli_total,
            4_000 + 1_500 + 7_000 + 9_000 + 4_500 + 48_000
        );
    }

    #[test]
    fn the_budget_is_inclusive_and_gzip() {
        // Exactly at the budget passes, one byte over fails, whatever brotli says.
        let (built, files) = site(170_000, 170_001);
        let routes = routes_of(&built, &files);
        assert_eq!(routes[0].gzip_total, FIRST_ROUTE_BUDGET_GZIP);
        assert!(routes[0].within_budget());
        assert!(!routes[1].within_budget());
        assert!(routes[1].brotli_total < FIRST_ROUTE_BUDGET_GZIP);
        let v = violations(&routes, &clean_bundles());
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].starts_with("the webgl first route is 200001 bytes gzip"),
            "{v:?}"
        );
        assert!(v[0].contains("200 KB gzip budget"), "{v:?}");
        assert!(
            v[1].starts_with("the canvas first route is 200001 bytes gzip"),
            "{v:?}"
        );
    }

    #[test]
    fn a_site_within_budget_and_free_of_naga_passes() {
        let (built, files) = site(120_000, 60_000);
        let routes = routes_of(&built, &files);
        let v = violations(&routes, &clean_bundles());
        assert!(v.is_empty(), "{v:?}");
        assert!(enforce(&v, true).is_ok());
    }

    #[test]
    fn the_gate_fails_dist_and_names_the_route() {
        // Today's site: the webgl bundle carries naga and wgpu-core.
        let (built, files) = site(190_000, 700_000);
        let routes = routes_of(&built, &files);
        let bundles = vec![
            names("webgpu", &["wgpu::x"]),
            names(
                "webgl",
                &[
                    "naga::front::wgsl::parse",
                    "<wgpu_core::device::Device>::drop",
                    "main",
                ],
            ),
        ];
        let v = violations(&routes, &bundles);
        let err = match enforce(&v, true) {
            Ok(()) => panic!("the gate let {v:?} through"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("the webgpu first route is 220000 bytes gzip"),
            "{err}"
        );
        assert!(
            err.contains("the webgl first route is 730000 bytes gzip"),
            "{err}"
        );
        assert!(err.contains("the canvas first route"), "{err}");
        assert!(err.contains("contains naga: 1 function names"), "{err}");
        assert!(
            err.contains("contains wgpu_core: 1 function names"),
            "{err}"
        );
        // The escape hatch warns and goes on.
        assert!(enforce(&v, false).is_ok());
    }

    #[test]
    fn naga_in_the_webgpu_bundle_is_reported_not_failed() {
        let (built, files) = site(120_000, 60_000);
        let routes = routes_of(&built, &files);
        let bundles = vec![names("webgpu", &["naga::x"]), names("webgl", &["main"])];
        assert!(violations(&routes, &bundles).is_empty());
        let json = report_json(&routes, &bundles);
        assert_eq!(
            json["bundles"]["webgpu"]["function_names_containing"]["naga"],
            1
        );
        assert_eq!(
            json["bundles"]["webgl"]["function_names_containing"]["naga"],
            0
        );
    }

    #[test]
    fn a_webgl_bundle_without_names_fails() {
        let (built, files) = site(120_000, 60_000);
        let routes = routes_of(&built, &files);
        let bundles = vec![BundleNames::from_names("webgl", None)];
        let v = violations(&routes, &bundles);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("no name section"), "{v:?}");
        assert_eq!(violations(&routes, &[]).len(), 1);
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_smaller_route() {
        let (mut built, files) = site(120_000, 60_000);
        built.retain(|b| !b.name.starts_with("candlefish-webgl_bg"));
        let err = match measure(&built, &files) {
            Ok(_) => panic!("measured a route without its wasm"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("route webgl: candlefish-webgl_bg.8888.wasm was not built"));
    }

    #[test]
    fn the_report_records_totals_budget_and_parts() {
        let (built, files) = site(190_000, 60_000);
        let routes = routes_of(&built, &files);
        let json = report_json(&routes, &clean_bundles());
        let webgpu = &json["routes"]["webgpu"];
        assert_eq!(webgpu["gzip_total"], 220_000);
        assert_eq!(webgpu["brotli_total"], routes[0].brotli_total);
        assert_eq!(webgpu["budget_gzip"], FIRST_ROUTE_BUDGET_GZIP);
        assert_eq!(webgpu["within_budget"], false);
        assert_eq!(json["routes"]["canvas"]["within_budget"], true);
        assert_eq!(json["routes"]["canvas"]["bundle"], "webgl");
        let parts = webgpu["parts"].as_array().map_or(0, Vec::len);
        assert_eq!(parts, 6);
        assert_eq!(json["bundles"]["webgl"]["name_section"], true);
        let text = table(&built, &routes, &clean_bundles());
        assert!(
            text.contains("first route webgpu  (webgpu bundle):   220000 B gzip"),
            "{text}"
        );
        assert!(text.contains("OVER the 200 KB gzip budget"), "{text}");
    }
}
