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

    pub fn nums(&mut self, key: &str, values: &[f32]) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            number(out, f64::from(*v));
        }
        out.push(']');
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

fn number(out: &mut String, v: f64) {
    if v.is_finite() {
        // Three decimals are plenty for milliseconds and keep batches small.
        let rounded = (v * 1000.0).round() / 1000.0;
        let _ = write!(out, "{rounded}");
    } else {
        out.push_str("null");
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
