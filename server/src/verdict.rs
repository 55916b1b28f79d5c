//! The release verdict: `candlefish-server verdict --canary REL --baseline REL
//! --prometheus URL [--config gates.toml]` compares a canary release with its baseline
//! and says **promote** (exit 0), **hold** (exit 3: not enough samples yet) or
//! **rollback** (exit 4), with reasons. It reads Prometheus's HTTP API, not one
//! server's memory, so it sees every replica (and, behind Thanos or Mimir, every
//! region).
//!
//! Gates (one TOML file, [`Gates`]; `server/prometheus/gates.toml` holds the defaults):
//! - **Samples.** Each side needs `min_sessions` sessions, `min_session_windows` session
//!   windows and `min_frames` frames in the range, and the canary `min_http_requests`
//!   requests; otherwise the gates that need them are not judged and the verdict is
//!   *hold* (unless something is already significant enough to roll back).
//! - **Absolute, on the canary:** frame rate (frames ÷ their time) ≥ `fps_min`; p95
//!   frame time ≤ `frame_time_p95_ms_max`; p95 of session peak memory ≤
//!   `memory_p95_mb_max`; HTTP p95 ≤ `http_p95_ms_max`.
//! - **Proportions, at any sample size:** the session failure rate and the 5xx rate roll
//!   back only when an exact one-sided binomial test says they are over their gate
//!   (`error_rate_max`, `http_5xx_rate_max`) at level `alpha`: one failing session in
//!   30 happens 3 % of the time at a true 0.1 % and is not evidence; two are.
//! - **Relative, against the baseline,** on distributions where every session weighs
//!   the same (one observation per session window, see [`crate::sessions`]): the median
//!   session's p95 frame time and the median session's frame rate. Each rolls back only
//!   if it is worse by more than `regression_max` **and** a one-sided Mann-Whitney test
//!   on the binned distributions says so at level `alpha / 2` (the two checks share
//!   `alpha`), with the variance inflated by the design effect (session windows per
//!   session, i.e. assuming a session's windows are perfectly correlated). One
//!   pathological session moves a median by one observation in the session count, far
//!   less than 10 %, and cannot fool it.
//!
//! **False-rollback rate.** With no difference between the releases, the relative
//! checks roll back at most `alpha` (1 %) of the time, since the design-effect
//! correction keeps the test at its level however correlated a session's windows are,
//! and the 10 % threshold must be crossed too. Simulated (`tests::false_rollback_rate`,
//! 2000 verdicts each, device speeds log-normal with sigma 0.25, 10 windows per
//! session): 0.5 % with 100 sessions per side (the default minimum), and a canary 15 %
//! slower at p95 is rolled back 88 % of the time (31 % with 30 sessions, 94 % with
//! 150). The proportion tests add at most `alpha` each, and only when the true rate is
//! at its gate. Absolute gates compare point estimates: a canary exactly at a gate rolls
//! back about half the time, so set them with margin.
//!
//! Counts come from `increase(…[range])`, which misses the first scraped value of a
//! series that appears inside the range: the sessions of a brand-new release label that
//! arrived before its first scrape are not counted. That errs towards *hold*.

pub mod stats;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use candlefish_protocol::validate::valid_release;
use serde::Deserialize;

use stats::{Binned, binomial_tail, mann_whitney_z, normal_quantile};

/// `candlefish-server verdict` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct VerdictArgs {
    /// The release under test.
    #[arg(long)]
    pub canary: String,
    /// The release it would replace.
    #[arg(long)]
    pub baseline: String,
    /// Prometheus base URL, e.g. `http://127.0.0.1:9090` (plain HTTP).
    #[arg(long, env = "CANDLEFISH_PROMETHEUS")]
    pub prometheus: String,
    /// Gates file (TOML); the built-in defaults without it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Prometheus range to judge, e.g. `30m` (overrides the file's `range`).
    #[arg(long)]
    pub range: Option<String>,
    /// Print the verdict as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The gates. Every field has a default; a file sets what it changes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gates {
    /// Prometheus range the verdict looks back over, e.g. `30m`.
    pub range: String,
    /// Fewest sessions each side needs.
    pub min_sessions: f64,
    /// Fewest session windows each side needs.
    pub min_session_windows: f64,
    /// Fewest frames each side needs.
    pub min_frames: f64,
    /// Fewest HTTP requests the canary needs (0: judge HTTP on whatever there is).
    pub min_http_requests: f64,
    /// Lowest frame rate (frames ÷ their time).
    pub fps_min: f64,
    /// Highest p95 frame time, ms.
    pub frame_time_p95_ms_max: f64,
    /// Highest p95 of session peak memory, MB (10^6 bytes).
    pub memory_p95_mb_max: f64,
    /// Highest share of sessions with a failure.
    pub error_rate_max: f64,
    /// Highest HTTP p95 to the response head, ms.
    pub http_p95_ms_max: f64,
    /// Highest share of HTTP responses that are 5xx.
    pub http_5xx_rate_max: f64,
    /// Largest relative regression against the baseline (0.10 = 10 %).
    pub regression_max: f64,
    /// One-sided level of the statistical tests.
    pub alpha: f64,
}

impl Default for Gates {
    fn default() -> Self {
        Self {
            range: "30m".to_owned(),
            min_sessions: 100.0,
            min_session_windows: 300.0,
            min_frames: 10_000.0,
            min_http_requests: 100.0,
            fps_min: 55.0,
            frame_time_p95_ms_max: 33.4,
            memory_p95_mb_max: 50.0,
            error_rate_max: 0.001,
            http_p95_ms_max: 100.0,
            http_5xx_rate_max: 0.001,
            regression_max: 0.10,
            alpha: 0.01,
        }
    }
}

impl Gates {
    /// Reads a gates file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the gates file {}", path.display()))?;
        let gates: Self =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        gates.check()?;
        Ok(gates)
    }

    fn check(&self) -> anyhow::Result<()> {
        if !valid_range(&self.range) {
            bail!(
                "range {:?} is not a Prometheus duration such as 30m",
                self.range
            );
        }
        if !(0.0 < self.alpha && self.alpha < 0.5) {
            bail!("alpha must be in (0, 0.5)");
        }
        Ok(())
    }
}

/// `[0-9]+[smhdwy]` (and `ms`), repeated: what PromQL accepts as a range.
fn valid_range(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 16
        && r.chars().next().is_some_and(|c| c.is_ascii_digit())
        && r.chars().last().is_some_and(|c| "smhdwy".contains(c))
        && r.chars()
            .all(|c| c.is_ascii_digit() || "smhdwy".contains(c))
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The canary may replace the baseline.
    Promote,
    /// Not enough samples yet: ask again later.
    Hold,
    /// The canary is worse: roll it back.
    Rollback,
}

impl Decision {
    /// The process exit code: 0 promote, 3 hold, 4 rollback (1 is an error, 2 a usage
    /// error).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Promote => 0,
            Self::Hold => 3,
            Self::Rollback => 4,
        }
    }
}

/// What one release's series say over the range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseData {
    /// Frames.
    pub frames: f64,
    /// Their time, seconds.
    pub frame_seconds: f64,
    /// Frame times, seconds.
    pub frame_time: Binned,
    /// Session windows' p95 frame times, seconds.
    pub session_p95: Binned,
    /// Session windows' frame rates.
    pub session_fps: Binned,
    /// Session windows' peak memory, bytes.
    pub memory: Binned,
    /// Sessions seen.
    pub sessions: f64,
    /// Sessions with a failure.
    pub failed: f64,
    /// HTTP request durations, seconds.
    pub http: Binned,
    /// HTTP 5xx responses.
    pub http_5xx: f64,
}

impl ReleaseData {
    /// Session windows per session: the design effect of the per-window distributions.
    fn design_effect(&self) -> f64 {
        (self.session_p95.total() / self.sessions.max(1.0)).max(1.0)
    }
}

/// One judged quantity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Check {
    /// What.
    pub name: String,
    /// The canary's value.
    pub canary: Option<f64>,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The gate, in words.
    pub gate: String,
    /// `ok`, `fail`, or `not judged` (too few samples).
    pub result: &'static str,
}

/// The verdict with its reasons and every check.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// Promote, hold or rollback.
    pub decision: Decision,
    /// Why (the failed gates, or what is missing).
    pub reasons: Vec<String>,
    /// Every quantity judged.
    pub checks: Vec<Check>,
}

struct Judge<'a> {
    gates: &'a Gates,
    rollback: Vec<String>,
    hold: Vec<String>,
    checks: Vec<Check>,
}

impl Judge<'_> {
    fn check(
        &mut self,
        name: &str,
        canary: Option<f64>,
        baseline: Option<f64>,
        gate: String,
        result: &'static str,
    ) {
        self.checks.push(Check {
            name: name.to_owned(),
            canary,
            baseline,
            gate,
            result,
        });
    }

    /// A sample-size requirement; `true` if met.
    fn need(&mut self, name: &str, who: &str, have: f64, need: f64) -> bool {
        let ok = have >= need;
        if !ok {
            self.hold
                .push(format!("{who}: {have:.0} {name}, {need:.0} needed"));
        }
        ok
    }

    /// A point estimate against a limit (`max`: the value must not exceed it).
    fn limit(
        &mut self,
        name: &str,
        unit: &str,
        value: Option<f64>,
        baseline: Option<f64>,
        limit: f64,
        max: bool,
    ) {
        let Some(v) = value else {
            self.check(name, None, baseline, "no data".to_owned(), "not judged");
            return;
        };
        let fail = if max { v > limit } else { v < limit };
        let op = if max { "≤" } else { "≥" };
        self.check(
            name,
            Some(v),
            baseline,
            format!("{op} {limit} {unit}"),
            if fail { "fail" } else { "ok" },
        );
        if fail {
            let base = baseline.map_or(String::new(), |b| format!(" (baseline {b:.3} {unit})"));
            let side = if max { "over" } else { "under" };
            self.rollback.push(format!(
                "{name} is {v:.3} {unit}, {side} the gate {op} {limit} {unit}{base}"
            ));
        }
    }

    /// A proportion `x / n` that must not be significantly over `max`: it fails when
    /// this many or more would happen with probability under `alpha` at a true `max`.
    fn proportion(&mut self, name: &str, x: f64, n: f64, baseline: Option<f64>, max: f64) {
        if n <= 0.0 {
            self.check(name, None, baseline, format!("≤ {max}"), "not judged");
            return;
        }
        let p = binomial_tail(x, n, max);
        let fail = p < self.gates.alpha;
        self.check(
            name,
            Some(x / n),
            baseline,
            format!("not significantly over {max} (p < {})", self.gates.alpha),
            if fail { "fail" } else { "ok" },
        );
        if fail {
            self.rollback.push(format!(
                "{name} is {:.4} ({x:.0} of {n:.0}); at a true {max}, this many or more has \
                 probability {p:.2e} < {}",
                x / n,
                self.gates.alpha
            ));
        }
    }

    /// A per-session distribution compared with the baseline's. `higher_is_worse`: the
    /// canary is worse when its values are larger (frame time) or smaller (frame rate).
    fn compare(
        &mut self,
        name: &str,
        unit: &str,
        scale: f64,
        (canary, baseline): (&Binned, &Binned),
        deff: f64,
        higher_is_worse: bool,
    ) {
        let (Some(c), Some(b)) = (canary.quantile(0.5), baseline.quantile(0.5)) else {
            self.check(name, None, None, "no data".into(), "not judged");
            return;
        };
        let worse_by = if higher_is_worse {
            c / b - 1.0
        } else {
            b / c - 1.0
        };
        let z = if higher_is_worse {
            mann_whitney_z(canary, baseline, deff)
        } else {
            mann_whitney_z(baseline, canary, deff)
        }
        .unwrap_or(0.0);
        // Two relative checks share the level (Bonferroni).
        let z_crit = normal_quantile(1.0 - self.gates.alpha / 2.0);
        let tol = self.gates.regression_max;
        let fail = worse_by > tol && z > z_crit;
        self.check(
            name,
            Some(c * scale),
            Some(b * scale),
            format!("not worse by > {:.0} % with z > {z_crit:.2}", 100.0 * tol),
            if fail { "fail" } else { "ok" },
        );
        if fail {
            self.rollback.push(format!(
                "{name}: {:.2} {unit} against {:.2} {unit} on the baseline ({:+.1} %, more than {:.0} %), \
                 Mann-Whitney z = {z:.2} with design effect {deff:.1} > {z_crit:.2}",
                c * scale,
                b * scale,
                100.0 * worse_by * if higher_is_worse { 1.0 } else { -1.0 },
                100.0 * tol
            ));
        }
    }
}

/// Judges `canary` against `baseline`.
pub fn decide(gates: &Gates, canary: &ReleaseData, baseline: &ReleaseData) -> Verdict {
    let mut j = Judge {
        gates,
        rollback: Vec::new(),
        hold: Vec::new(),
        checks: Vec::new(),
    };
    let enough = |j: &mut Judge<'_>, who: &str, d: &ReleaseData| {
        let a = j.need("sessions", who, d.sessions, gates.min_sessions);
        let b = j.need(
            "session windows",
            who,
            d.session_p95.total(),
            gates.min_session_windows,
        );
        let c = j.need("frames", who, d.frames, gates.min_frames);
        a && b && c
    };
    let canary_ok = enough(&mut j, "canary", canary);
    let baseline_ok = enough(&mut j, "baseline", baseline);
    let ratio = |x: f64, n: f64| (n > 0.0).then(|| x / n);

    // Proportions: valid at any sample size.
    j.proportion(
        "session failure rate",
        canary.failed,
        canary.sessions,
        ratio(baseline.failed, baseline.sessions),
        gates.error_rate_max,
    );
    j.proportion(
        "HTTP 5xx rate",
        canary.http_5xx,
        canary.http.total(),
        ratio(baseline.http_5xx, baseline.http.total()),
        gates.http_5xx_rate_max,
    );

    if canary_ok {
        let fps = |d: &ReleaseData| ratio(d.frames, d.frame_seconds);
        j.limit(
            "frame rate",
            "fps",
            fps(canary),
            fps(baseline),
            gates.fps_min,
            false,
        );
        let p95_ms = |h: &Binned| h.quantile(0.95).map(|s| s * 1000.0);
        j.limit(
            "p95 frame time",
            "ms",
            p95_ms(&canary.frame_time),
            p95_ms(&baseline.frame_time),
            gates.frame_time_p95_ms_max,
            true,
        );
        let mb = |h: &Binned| h.quantile(0.95).map(|b| b / 1e6);
        j.limit(
            "p95 session peak memory",
            "MB",
            mb(&canary.memory),
            mb(&baseline.memory),
            gates.memory_p95_mb_max,
            true,
        );
        if j.need(
            "HTTP requests",
            "canary",
            canary.http.total(),
            gates.min_http_requests,
        ) {
            j.limit(
                "HTTP p95",
                "ms",
                p95_ms(&canary.http),
                p95_ms(&baseline.http),
                gates.http_p95_ms_max,
                true,
            );
        }
        if baseline_ok {
            let deff = canary.design_effect().max(baseline.design_effect());
            j.compare(
                "median session p95 frame time",
                "ms",
                1000.0,
                (&canary.session_p95, &baseline.session_p95),
                deff,
                true,
            );
            j.compare(
                "median session frame rate",
                "fps",
                1.0,
                (&canary.session_fps, &baseline.session_fps),
                deff,
                false,
            );
        }
    }
    let (decision, reasons) = if !j.rollback.is_empty() {
        (Decision::Rollback, j.rollback)
    } else if !j.hold.is_empty() {
        (Decision::Hold, j.hold)
    } else {
        (Decision::Promote, vec!["every gate passed".to_owned()])
    };
    Verdict {
        decision,
        reasons,
        checks: j.checks,
    }
}

/// One instant query; the result vector as (labels, value).
async fn query(
    client: &reqwest::Client,
    base: &str,
    q: &str,
) -> anyhow::Result<Vec<(HashMap<String, String>, f64)>> {
    let url = format!("{}/api/v1/query", base.trim_end_matches('/'));
    let response = client
        .get(&url)
        .query(&[("query", q)])
        .send()
        .await
        .with_context(|| format!("querying {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .context("reading Prometheus's answer")?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("Prometheus answered {status} with something not JSON"))?;
    if v["status"] != "success" {
        bail!(
            "Prometheus refused {q:?}: {} {}",
            v["errorType"],
            v["error"]
        );
    }
    let Some(result) = v["data"]["result"].as_array() else {
        bail!("Prometheus's answer to {q:?} has no result vector");
    };
    result
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .with_context(|| format!("a sample of {q:?} has no value"))?;
            Ok((labels, value))
        })
        .collect()
}

/// A scalar (`sum(…)`), 0 when the vector is empty.
async fn scalar(client: &reqwest::Client, base: &str, q: &str) -> anyhow::Result<f64> {
    Ok(query(client, base, q)
        .await?
        .first()
        .map_or(0.0, |(_, v)| if v.is_finite() { *v } else { 0.0 }))
}

/// A histogram: `sum by (le) (increase(NAME_bucket{SELECTOR}[RANGE]))`.
async fn histogram(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    selector: &str,
    range: &str,
) -> anyhow::Result<Binned> {
    let q = format!("sum by (le) (increase({name}_bucket{{{selector}}}[{range}]))");
    let pairs = query(client, base, &q)
        .await?
        .into_iter()
        .filter_map(|(labels, v)| {
            let le = labels.get("le")?.parse::<f64>().ok()?;
            Some((le, v))
        })
        .collect();
    Ok(Binned::from_cumulative(pairs))
}

/// Reads one release's series from Prometheus.
pub async fn fetch(
    client: &reqwest::Client,
    base: &str,
    release: &str,
    range: &str,
) -> anyhow::Result<ReleaseData> {
    // The pattern allows no quote or backslash, so the selector cannot be escaped.
    if !valid_release(release) {
        bail!("{release:?} is not a release id");
    }
    let sel = format!("release=\"{release}\"");
    let sum = |name: &str, extra: &str| format!("sum(increase({name}{{{sel}{extra}}}[{range}]))");
    Ok(ReleaseData {
        frames: scalar(
            client,
            base,
            &sum("candlefish_frame_time_seconds_count", ""),
        )
        .await?,
        frame_seconds: scalar(client, base, &sum("candlefish_frame_time_seconds_sum", "")).await?,
        frame_time: histogram(client, base, "candlefish_frame_time_seconds", &sel, range).await?,
        session_p95: histogram(
            client,
            base,
            "candlefish_session_frame_time_p95_seconds",
            &sel,
            range,
        )
        .await?,
        session_fps: histogram(client, base, "candlefish_fps", &sel, range).await?,
        memory: histogram(client, base, "candlefish_memory_usage_bytes", &sel, range).await?,
        sessions: scalar(client, base, &sum("candlefish_sessions_total", "")).await?,
        failed: scalar(client, base, &sum("candlefish_sessions_failed_total", "")).await?,
        http: histogram(
            client,
            base,
            "candlefish_http_request_duration_seconds",
            &sel,
            range,
        )
        .await?,
        http_5xx: scalar(
            client,
            base,
            &sum(
                "candlefish_http_request_duration_seconds_count",
                ",class=\"5xx\"",
            ),
        )
        .await?,
    })
}

/// Runs the verdict for `args`.
pub async fn run(args: &VerdictArgs) -> anyhow::Result<Verdict> {
    let mut gates = match &args.config {
        Some(path) => Gates::read(path)?,
        None => Gates::default(),
    };
    if let Some(range) = &args.range {
        gates.range.clone_from(range);
    }
    gates.check()?;
    if !args.prometheus.starts_with("http://") {
        bail!(
            "--prometheus must be an http:// URL (this build has no TLS): {:?}",
            args.prometheus
        );
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let canary = fetch(&client, &args.prometheus, &args.canary, &gates.range).await?;
    let baseline = fetch(&client, &args.prometheus, &args.baseline, &gates.range).await?;
    Ok(decide(&gates, &canary, &baseline))
}

/// The verdict as text: the decision, the reasons, then every check.
pub fn render(v: &Verdict, args: &VerdictArgs, range: &str) -> String {
    let mut out = String::new();
    let decision = match v.decision {
        Decision::Promote => "promote",
        Decision::Hold => "hold",
        Decision::Rollback => "rollback",
    };
    let _ = writeln!(
        out,
        "verdict: {decision} (canary {} against baseline {}, last {range})",
        args.canary, args.baseline
    );
    for r in &v.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    let _ = writeln!(out, "checks:");
    let num = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |x| format!("{x:.3}"));
    for c in &v.checks {
        let _ = writeln!(
            out,
            "  {:<32} canary {:>12}  baseline {:>12}  {:<40} {}",
            c.name,
            num(c.canary),
            num(c.baseline),
            c.gate,
            c.result
        );
    }
    out
}

#[cfg(test)]
#[path = "verdict/tests.rs"]
mod tests;
