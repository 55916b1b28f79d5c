//! Rate limiting with `governor` (GCRA, equivalent to a token bucket of `burst` tokens
//! refilled at `rate` per second): per key (client IP) or per connection.
//!
//! The keyed limiter sweeps out the state of keys that are back to a full burst every
//! [`SWEEP_EVERY`] checks, so its memory stays bounded by the recently active clients.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

/// Checks between sweeps of idle keys.
pub const SWEEP_EVERY: u32 = 4096;

/// The quota for `rate` per second with a burst of `burst`: rates are clamped to
/// [1 per day, 1e9 per second] and bursts to [1, `u32::MAX`].
fn quota(rate: f64, burst: f64) -> Quota {
    let rate = if rate.is_finite() { rate } else { 1e9 };
    let period = Duration::from_secs_f64(1.0 / rate.clamp(1.0 / 86_400.0, 1e9));
    let burst =
        NonZeroU32::new(burst.clamp(1.0, f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

/// One rate limit (for one connection).
#[derive(Debug)]
pub struct Limiter {
    inner: DefaultDirectRateLimiter,
}

impl Limiter {
    /// `rate` per second with a burst of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            inner: DefaultDirectRateLimiter::direct(quota(rate, burst)),
        }
    }

    /// Takes one unit. `Err` carries how long until the next is available.
    pub fn check(&self) -> Result<(), Duration> {
        self.inner
            .check()
            .map_err(|n| n.wait_time_from(self.inner.clock().now()))
    }
}

/// Rate limits keyed by `K`, each starting with a full burst.
#[derive(Debug)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    inner: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `limit` requests per `period`, with a burst of the whole `limit`.
    pub fn per_period(limit: u32, period: Duration) -> Self {
        let limit = f64::from(limit.max(1));
        Self::new(limit / period.as_secs_f64().max(1e-3), limit)
    }

    /// `rate` requests per second with a burst of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        let inner = DefaultKeyedRateLimiter::keyed(quota(rate, burst));
        Self {
            clock: inner.clock().clone(),
            inner,
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one unit for `key`. `Err` carries how long until the next is available.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.inner.retain_recent();
            self.inner.shrink_to_fit();
        }
        self.inner
            .check_key(key)
            .map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// Number of keys held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The rate-limit key of a client address: the address itself for IPv4, the /64
/// prefix for IPv6 (one subscriber usually holds a whole /64).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// `Retry-After` seconds for a wait: whole seconds, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_burst_then_refuses() {
        let l = Limiter::new(1.0, 3.0);
        assert!(l.check().is_ok());
        assert!(l.check().is_ok());
        assert!(l.check().is_ok());
        let wait = l.check().unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
    }

    #[test]
    fn keyed_limiter_separates_keys() {
        let l = KeyedLimiter::per_period(2, Duration::from_secs(300));
        assert!(l.check(&1).is_ok());
        assert!(l.check(&1).is_ok());
        let wait = l.check(&1).unwrap_err();
        assert!(wait > Duration::from_secs(140) && wait <= Duration::from_secs(150));
        assert!(l.check(&2).is_ok());
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn extreme_rates_do_not_panic() {
        for (rate, burst) in [
            (0.0, 0.0),
            (1e12, 2e12),
            (f64::NAN, f64::INFINITY),
            (-1.0, -5.0),
        ] {
            let l = Limiter::new(rate, burst);
            assert!(l.check().is_ok());
        }
    }

    #[test]
    fn ipv6_keys_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        let m: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ip_key(m), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
