//! Label keys of aggregated series, and which releases get a label of their own.
//!
//! A release label comes from the server's side, never from first come first kept: a
//! release is labelled as itself only if it is on the `--releases` allow-list or is a
//! release the site serves (the `release` of `manifest.json`, the last
//! `--max-releases` of them). Everything else is counted as `other`, and `legacy` is
//! only ever the `performance` message's.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use candlefish_protocol::validate::{is_reserved_release, valid_release};

/// Release label of every release the server does not know.
pub const OTHER_RELEASE: &str = "other";
/// Release label of the legacy `performance` message.
pub const LEGACY_RELEASE: &str = "legacy";
/// Mode and preset label of the legacy message, and the release label of HTTP
/// metrics when the site names no release.
pub const UNKNOWN: &str = "unknown";

/// One aggregated series: release × render mode × preset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Release label.
    pub release: Arc<str>,
    /// Render mode label (fixed set, or `unknown`).
    pub mode: &'static str,
    /// Preset label (fixed set, or `unknown`).
    pub preset: &'static str,
}

/// The releases that keep their own label.
#[derive(Debug)]
pub struct ReleaseLabels {
    allowed: HashSet<Arc<str>>,
    served: Mutex<VecDeque<Arc<str>>>,
    max_served: usize,
    other: Arc<str>,
    legacy: Arc<str>,
}

impl ReleaseLabels {
    /// The allow-list `allowed` (already validated), remembering up to `max_served`
    /// served releases.
    pub fn new(allowed: &[String], max_served: usize) -> Self {
        Self {
            allowed: allowed.iter().map(|r| Arc::from(r.as_str())).collect(),
            served: Mutex::new(VecDeque::new()),
            max_served,
            other: OTHER_RELEASE.into(),
            legacy: LEGACY_RELEASE.into(),
        }
    }

    /// The label for a `frames` message's `release`: itself if allowed or served, else
    /// `other`.
    pub fn label(&self, release: &str) -> Arc<str> {
        if let Some(r) = self.allowed.get(release) {
            return r.clone();
        }
        let served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        served
            .iter()
            .find(|r| &***r == release)
            .cloned()
            .unwrap_or_else(|| self.other.clone())
    }

    /// The label of the legacy message.
    pub fn legacy(&self) -> Arc<str> {
        self.legacy.clone()
    }

    /// Notes that the site serves `release` (read from its manifest). Invalid or
    /// reserved ids are ignored.
    pub fn serve(&self, release: &str) {
        if !valid_release(release) || is_reserved_release(release) {
            return;
        }
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        if served.front().is_some_and(|r| &**r == release) {
            return;
        }
        served.retain(|r| &**r != release);
        served.push_front(release.into());
        served.truncate(self.max_served.max(1));
    }

    /// The release the site serves now (the last one its manifest named).
    pub fn current(&self) -> Option<Arc<str>> {
        self.served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .front()
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: the first 32 junk releases took every label slot until a restart.
    #[test]
    fn unknown_releases_never_take_a_label() {
        let l = ReleaseLabels::new(&["canary-2".to_owned()], 2);
        for junk in 0..100 {
            assert_eq!(&*l.label(&format!("junk-{junk}")), OTHER_RELEASE);
        }
        assert_eq!(&*l.label("canary-2"), "canary-2");
        assert_eq!(l.current(), None);
        l.serve("build-a");
        assert_eq!(&*l.label("build-a"), "build-a");
        l.serve("build-b");
        l.serve("build-c");
        assert_eq!(l.current().as_deref(), Some("build-c"));
        assert_eq!(&*l.label("build-b"), "build-b");
        assert_eq!(&*l.label("build-a"), OTHER_RELEASE, "past --max-releases");
        l.serve("other");
        l.serve("bad release");
        assert_eq!(l.current().as_deref(), Some("build-c"));
    }
}
