//! Label keys of aggregated series and the release-label cardinality cap.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Release label used once the cap of distinct releases is reached.
pub const OTHER_RELEASE: &str = "other";

/// One aggregated series: release × render mode × preset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Release label (validated, capped).
    pub release: Arc<str>,
    /// Render mode label (fixed set).
    pub mode: &'static str,
    /// Preset label (fixed set).
    pub preset: &'static str,
}

/// Admits at most `cap` distinct release labels (plus `legacy` and `other`); every
/// later release maps to `other`, so a client cannot grow the label set without bound.
#[derive(Debug)]
pub struct ReleaseLabels {
    cap: usize,
    seen: Mutex<HashSet<Arc<str>>>,
}

impl ReleaseLabels {
    /// A cap of `cap` distinct releases.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label for `release`: itself if already admitted or if there is room, else
    /// [`OTHER_RELEASE`].
    pub fn label(&self, release: &str) -> Arc<str> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = seen.get(release) {
            return existing.clone();
        }
        if release == "legacy" || release == OTHER_RELEASE {
            let label: Arc<str> = release.into();
            seen.insert(label.clone());
            return label;
        }
        let counted = seen
            .iter()
            .filter(|r| &***r != "legacy" && &***r != OTHER_RELEASE)
            .count();
        if counted < self.cap {
            let label: Arc<str> = release.into();
            seen.insert(label.clone());
            label
        } else {
            OTHER_RELEASE.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_goes_to_other() {
        let l = ReleaseLabels::new(2);
        assert_eq!(&*l.label("a"), "a");
        assert_eq!(&*l.label("legacy"), "legacy");
        assert_eq!(&*l.label("b"), "b");
        assert_eq!(&*l.label("c"), OTHER_RELEASE);
        assert_eq!(&*l.label("a"), "a");
    }
}
