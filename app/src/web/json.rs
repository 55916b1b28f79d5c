//! A tiny JSON object writer. serde_json would add tens of kilobytes to a bundle whose
//! whole budget is 200 KB, for a handful of flat objects.

use std::fmt::Write;

/// Builds one JSON object.
pub struct Object {
    out: String,
}

impl Default for Object {
    fn default() -> Self {
        Self::new()
    }
}

impl Object {
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        string(&mut self.out, key);
        self.out.push(':');
        &mut self.out
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        string(out, value);
        self
    }

    /// Non-finite numbers become `null` (JSON has no NaN).
    pub fn num(&mut self, key: &str, value: f64) -> &mut Self {
        let out = self.key(key);
        number(out, value);
        self
    }

    pub fn opt(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value {
            Some(v) => self.num(key, v),
            None => self,
        }
    }

    pub fn boolean(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// Inserts already-encoded JSON.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    pub fn finish(&mut self) -> String {
        self.out.push('}');
        std::mem::take(&mut self.out)
    }
}

/// Largest magnitude written with decimals (beyond it, whole numbers).
const MAX_DECIMAL: f64 = 9.0e15 / 1000.0;

/// Writes `v` with at most three decimals (plenty for milliseconds, and batches stay
/// small), through integer arithmetic: core's float formatting (Grisu and Dragon4)
/// would add kilobytes to a bundle that counts every one.
fn number(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    let milli = (v.clamp(-MAX_DECIMAL, MAX_DECIMAL) * 1000.0).round() as i64;
    if milli < 0 {
        out.push('-');
    }
    let milli = milli.unsigned_abs();
    let _ = write!(out, "{}", milli / 1000);
    let mut frac = milli % 1000;
    if frac != 0 {
        out.push('.');
        let mut digits = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, "{frac:0digits$}");
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: f64) -> String {
        let mut s = String::new();
        number(&mut s, v);
        s
    }

    #[test]
    fn numbers_have_at_most_three_decimals_and_no_float_formatting() {
        assert_eq!(n(0.0), "0");
        assert_eq!(n(16.6667), "16.667");
        assert_eq!(n(-2.5), "-2.5");
        assert_eq!(n(0.05), "0.05");
        assert_eq!(n(1.0004), "1");
        assert_eq!(n(-0.0004), "0");
        assert_eq!(n(12000.0), "12000");
        assert_eq!(n(f64::NAN), "null");
        assert_eq!(n(f64::INFINITY), "null");
        assert_eq!(n(1e300), "9000000000000");
    }
}
