//! A small hand-written JSON writer (no serde, so the wasm runtime does not carry it),
//! the serialisation of [`Frames`] and [`Notice`], and a reader for notices, whose
//! flat shape needs no general parser.

use std::fmt::Write as _;

use crate::Reason;
use crate::message::{Frames, Notice};

/// Writes one JSON object, key by key. Non-finite numbers are written as `null` (JSON
/// has no NaN); callers that must not send `null` keep their numbers finite.
#[derive(Debug)]
pub struct JsonObject {
    out: String,
    empty: bool,
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decimals of a number written by [`write_f64`]: a microsecond for milliseconds, and
/// plenty for means of counts.
pub const DECIMALS: u32 = 3;

/// Largest magnitude written, times 10^decimals (within an i64, exact in an f64); any
/// value of the protocol is far below.
const MAX_SCALED: f64 = 9.0e15;

/// Appends `v` rounded to at most `decimals` (≤ 6) decimals, trailing zeros left out
/// (`null` if not finite). Written with integer arithmetic: core's float formatting
/// (Grisu and Dragon4) would add kilobytes to the browser bundles, which count every
/// one. Never an exponent, so always valid JSON.
pub fn write_fixed(out: &mut String, v: f64, decimals: u32) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    let decimals = decimals.min(6);
    let scale = 10u64.pow(decimals);
    let limit = MAX_SCALED / scale as f64;
    // max/min, not `clamp`: see `write_fixed`'s doc.
    let scaled = (v.max(-limit).min(limit) * scale as f64).round() as i64;
    if scaled < 0 {
        out.push('-');
    }
    let scaled = scaled.unsigned_abs();
    let _ = write!(out, "{}", scaled / scale);
    let mut frac = scaled % scale;
    if frac != 0 {
        let mut digits = decimals as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

/// Appends a number with at most [`DECIMALS`] decimals (`null` if not finite).
pub fn write_f64(out: &mut String, v: f64) {
    write_fixed(out, v, DECIMALS);
}

/// Appends an f32 with at most [`DECIMALS`] decimals (`null` if not finite).
pub fn write_f32(out: &mut String, v: f32) {
    write_fixed(out, f64::from(v), DECIMALS);
}

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
            empty: true,
        }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_str(&mut self.out, key);
        self.out.push(':');
        &mut self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        write_str(self.key(key), value);
        self
    }

    /// An f32 member.
    pub fn f32(&mut self, key: &str, value: f32) -> &mut Self {
        write_f32(self.key(key), value);
        self
    }

    /// An f64 member.
    pub fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        write_f64(self.key(key), value);
        self
    }

    /// A number member with at most `decimals` decimals, when `Some`.
    pub fn opt_fixed(&mut self, key: &str, value: Option<f32>, decimals: u32) -> &mut Self {
        if let Some(v) = value {
            write_fixed(self.key(key), f64::from(v), decimals);
        }
        self
    }

    /// An integer member.
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// An f32 member when `Some`.
    pub fn opt_f32(&mut self, key: &str, value: Option<f32>) -> &mut Self {
        if let Some(v) = value {
            self.f32(key, v);
        }
        self
    }

    /// An array of f32.
    pub fn f32s(&mut self, key: &str, values: &[f32]) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_f32(out, *v);
        }
        out.push(']');
        self
    }

    /// An array of integers.
    pub fn uints(&mut self, key: &str, values: impl IntoIterator<Item = u64>) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{v}");
        }
        out.push(']');
        self
    }

    /// A member whose value is already JSON (an object or array built elsewhere).
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// Whether no member was written.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

impl Frames {
    /// The message as JSON text, members in a fixed order, absent options left out.
    pub fn to_json(&self) -> String {
        let mut o = JsonObject::new();
        o.str("type", "frames")
            .uint("v", u64::from(self.v))
            .str("release", &self.release)
            .str("session", &self.session);
        if let Some(seq) = self.seq {
            o.uint("seq", seq);
        }
        o.str("mode", self.mode.as_str())
            .str("preset", self.preset.as_str())
            .str("adapter", &self.adapter);
        if let Some(t) = self.thread {
            o.str("thread", t.as_str());
        }
        o.opt_f32("span_ms", self.span_ms);
        if let Some(f) = &self.frame_ms {
            o.f32s("frame_ms", f);
        }
        if let Some(h) = &self.frame_hist {
            let mut hist = JsonObject::new();
            hist.f32s("le_ms", &h.le_ms)
                .uints("counts", h.counts.iter().map(|&c| u64::from(c)));
            o.raw("frame_hist", &hist.finish());
        }
        if let Some(cpu) = &self.cpu_ms {
            let mut phases = JsonObject::new();
            for (phase, v) in crate::Phase::ALL.iter().zip(cpu.to_array()) {
                phases.opt_f32(phase.as_str(), v);
            }
            o.raw("cpu_ms", &phases.finish());
        }
        o.opt_f32("gpu_ms", self.gpu_ms)
            .uint("dropped_frames", u64::from(self.dropped_frames));
        if let Some(m) = self.memory_bytes {
            o.uint("memory_bytes", m);
        }
        o.opt_f32("draw_calls", self.draw_calls);
        if let Some(t) = self.triangles {
            o.f64("triangles", t);
        }
        o.opt_f32("drawn", self.drawn);
        if let Some(l) = &self.load_ms {
            let mut load = JsonObject::new();
            load.opt_f32("fetch", l.fetch)
                .opt_f32("compile", l.compile)
                .opt_f32("init", l.init)
                .opt_f32("first_frame", l.first_frame);
            o.raw("load_ms", &load.finish());
        }
        if let Some(v) = &self.vitals {
            let mut vitals = JsonObject::new();
            vitals
                .opt_f32("lcp_ms", v.lcp_ms)
                .opt_f32("inp_ms", v.inp_ms)
                // A layout shift score: small values matter (0.1 is "poor").
                .opt_fixed("cls", v.cls, 5)
                .opt_f32("ttfb_ms", v.ttfb_ms);
            o.raw("vitals", &vitals.finish());
        }
        if !self.errors.is_empty() {
            let items: Vec<String> = self
                .errors
                .iter()
                .map(|e| {
                    let mut item = JsonObject::new();
                    item.str("kind", e.kind.as_str()).str("message", &e.message);
                    item.finish()
                })
                .collect();
            o.raw("errors", &format!("[{}]", items.join(",")));
        }
        if self.dropped_batches > 0 {
            o.uint("dropped_batches", u64::from(self.dropped_batches));
        }
        if !self.governor.is_empty() {
            let items: Vec<String> = self
                .governor
                .iter()
                .map(|g| {
                    let mut item = JsonObject::new();
                    item.str("from", &g.from)
                        .str("to", &g.to)
                        .str("reason", g.reason.as_str())
                        .opt_f32("p90_ms", g.p90_ms);
                    item.finish()
                })
                .collect();
            o.raw("governor", &format!("[{}]", items.join(",")));
        }
        o.finish()
    }
}

impl Notice {
    /// The notice as JSON text.
    pub fn to_json(&self) -> String {
        let mut o = JsonObject::new();
        match self {
            Self::Welcome {
                v,
                msg_rate,
                msg_burst,
            } => {
                o.str("type", "welcome")
                    .uint("v", u64::from(*v))
                    .f64("msg_rate", *msg_rate)
                    .uint("msg_burst", u64::from(*msg_burst));
            }
            Self::Ack { n } => {
                o.str("type", "ack").uint("n", *n);
            }
            Self::Refused {
                n,
                reason,
                retry_after_ms,
            } => {
                o.str("type", "refused")
                    .uint("n", *n)
                    .str("reason", reason.as_str());
                if let Some(ms) = retry_after_ms {
                    o.uint("retry_after_ms", *ms);
                }
            }
        }
        o.finish()
    }

    /// Reads a notice; `None` for anything else (a client ignores what it does not know).
    pub fn parse(text: &str) -> Option<Self> {
        let fields = flat_object(text)?;
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let num = |k: &str| match get(k) {
            Some(Value::Num(n)) => Some(*n),
            _ => None,
        };
        let int = |k: &str| {
            num(k)
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| n as u64)
        };
        let Some(Value::Str(kind)) = get("type") else {
            return None;
        };
        match kind.as_str() {
            "welcome" => Some(Self::Welcome {
                v: u32::try_from(int("v")?).ok()?,
                msg_rate: num("msg_rate")?,
                msg_burst: u32::try_from(int("msg_burst")?).ok()?,
            }),
            "ack" => Some(Self::Ack { n: int("n")? }),
            "refused" => {
                let Some(Value::Str(reason)) = get("reason") else {
                    return None;
                };
                Some(Self::Refused {
                    n: int("n")?,
                    reason: Reason::parse(reason)?,
                    retry_after_ms: int("retry_after_ms"),
                })
            }
            _ => None,
        }
    }
}

/// A scalar value of a flat JSON object.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Num(f64),
    Other,
}

/// Reads `{"k":scalar,…}` (strings, numbers, booleans, null); `None` for anything else,
/// nested values included.
fn flat_object(text: &str) -> Option<Vec<(String, Value)>> {
    let mut chars = text.trim().chars().peekable();
    let mut fields = Vec::new();
    let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while c.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            c.next();
        }
    };
    if chars.next()? != '{' {
        return None;
    }
    skip_ws(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
        return chars.next().is_none().then_some(fields);
    }
    loop {
        skip_ws(&mut chars);
        let key = read_string(&mut chars)?;
        skip_ws(&mut chars);
        if chars.next()? != ':' {
            return None;
        }
        skip_ws(&mut chars);
        let value = match *chars.peek()? {
            '"' => Value::Str(read_string(&mut chars)?),
            c if c == '-' || c.is_ascii_digit() => {
                let mut s = String::new();
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || "+-.eE".contains(*c))
                {
                    s.extend(chars.next());
                }
                Value::Num(s.parse().ok()?)
            }
            _ => {
                let mut s = String::new();
                while chars.peek().is_some_and(char::is_ascii_alphabetic) {
                    s.extend(chars.next());
                }
                if !matches!(s.as_str(), "true" | "false" | "null") {
                    return None;
                }
                Value::Other
            }
        };
        fields.push((key, value));
        skip_ws(&mut chars);
        match chars.next()? {
            ',' => continue,
            '}' => break,
            _ => return None,
        }
    }
    skip_ws(&mut chars);
    chars.next().is_none().then_some(fields)
}

fn read_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    if chars.next()? != '"' {
        return None;
    }
    let mut s = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(s),
            '\\' => match chars.next()? {
                '"' => s.push('"'),
                '\\' => s.push('\\'),
                '/' => s.push('/'),
                'n' => s.push('\n'),
                'r' => s.push('\r'),
                't' => s.push('\t'),
                'b' => s.push('\u{8}'),
                'f' => s.push('\u{c}'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    let code = u32::from_str_radix(&hex, 16).ok()?;
                    // A lone surrogate (or half a pair) is not a character: replace it.
                    s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                _ => return None,
            },
            c => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn numbers_are_json() {
        let mut o = JsonObject::new();
        o.f32("a", 16.6)
            .f64("b", 1e-7)
            .f32("c", f32::NAN)
            .uint("d", 7)
            .opt_fixed("e", Some(0.012_34), 5);
        assert_eq!(o.finish(), r#"{"a":16.6,"b":0,"c":null,"d":7,"e":0.01234}"#);
    }

    fn fixed(v: f64, decimals: u32) -> String {
        let mut s = String::new();
        write_fixed(&mut s, v, decimals);
        s
    }

    #[test]
    fn numbers_have_at_most_their_decimals_without_float_formatting() {
        assert_eq!(fixed(0.0, 3), "0");
        assert_eq!(fixed(16.6667, 3), "16.667");
        assert_eq!(fixed(-2.5, 3), "-2.5");
        assert_eq!(fixed(0.05, 3), "0.05");
        assert_eq!(fixed(1.0004, 3), "1");
        assert_eq!(fixed(-0.0004, 3), "0");
        assert_eq!(fixed(12000.0, 3), "12000");
        assert_eq!(
            fixed(f64::from(4.17f32), 3),
            "4.17",
            "an f32 edge reads back"
        );
        assert_eq!(fixed(1e10, 3), "10000000000", "triangles per frame");
        assert_eq!(fixed(0.000_012, 5), "0.00001");
        assert_eq!(fixed(0.5, 9), "0.5", "at most 6 decimals");
        assert_eq!(fixed(f64::NAN, 3), "null");
        assert_eq!(fixed(f64::INFINITY, 3), "null");
        assert_eq!(fixed(1e300, 3), "9000000000000");
        // What is written reads back within half a unit of the last decimal.
        for v in [0.001, 0.1234, 16.667, 33.4, 999.9995, 59_999.999] {
            let back: f64 = fixed(v, 3).parse().unwrap();
            assert!((back - v).abs() <= 0.0005 + 1e-9, "{v} -> {back}");
        }
    }

    #[test]
    fn notices_round_trip() {
        for n in [
            Notice::Welcome {
                v: 1,
                msg_rate: 10.0,
                msg_burst: 20,
            },
            Notice::Ack { n: 42 },
            Notice::Refused {
                n: 21,
                reason: Reason::RateLimited,
                retry_after_ms: Some(100),
            },
            Notice::Refused {
                n: 3,
                reason: Reason::Schema,
                retry_after_ms: None,
            },
        ] {
            assert_eq!(
                Notice::parse(&n.to_json()),
                Some(n.clone()),
                "{}",
                n.to_json()
            );
        }
        assert_eq!(
            Notice::parse(r#" { "type" : "ack" , "n" : 5 , "extra":null } "#),
            Some(Notice::Ack { n: 5 })
        );
        for bad in [
            "",
            "[]",
            "{",
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","n":-1}"#,
            r#"{"type":"ack","n":{"x":1}}"#,
            r#"{"type":"refused","n":1,"reason":"nope"}"#,
            r#"{"type":"ack","n":1} trailing"#,
        ] {
            assert_eq!(Notice::parse(bad), None, "{bad}");
        }
    }
}
