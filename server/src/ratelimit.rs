//! Token-bucket rate limiting, per key (client IP) or per connection.
//!
//! A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each
//! request takes one. The keyed limiter keeps one bucket per key in a mutex-guarded map
//! and sweeps out full (idle) buckets now and then so the map stays bounded by the
//! number of recently active clients.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens refilling at `rate` tokens per second.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        Self {
            tokens: burst,
            burst,
            rate: rate.max(f64::MIN_POSITIVE),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
    }

    /// Takes one token. `Err` carries how long until a token is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err(Duration::from_secs_f64(wait.min(86_400.0)))
        }
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// Token buckets keyed by `K`, created full on first use.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: f64,
    burst: f64,
    inner: Mutex<Inner<K>>,
}

#[derive(Debug)]
struct Inner<K> {
    buckets: HashMap<K, Bucket>,
    calls_since_sweep: u32,
}

/// Calls between sweeps of full buckets.
const SWEEP_EVERY: u32 = 4096;

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `limit` requests per `period`, with a burst of the whole `limit`.
    pub fn per_period(limit: u32, period: Duration) -> Self {
        let limit = f64::from(limit.max(1));
        Self::new(limit / period.as_secs_f64().max(1e-3), limit)
    }

    /// `rate` requests per second with a burst of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            inner: Mutex::new(Inner {
                buckets: HashMap::new(),
                calls_since_sweep: 0,
            }),
        }
    }

    /// Takes one token for `key`. `Err` carries how long until the next is available.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.calls_since_sweep += 1;
        if inner.calls_since_sweep >= SWEEP_EVERY {
            inner.calls_since_sweep = 0;
            inner.buckets.retain(|_, b| !b.is_full(now));
        }
        let (rate, burst) = (self.rate, self.burst);
        inner
            .buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(rate, burst, now))
            .take(now)
    }

    /// Number of buckets held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let now = Instant::now();
        let mut b = Bucket::new(1.0, 3.0, now);
        assert!(b.take(now).is_ok());
        assert!(b.take(now).is_ok());
        assert!(b.take(now).is_ok());
        let wait = b.take(now).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(b.take(now + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn keyed_limiter_separates_keys() {
        let l = KeyedLimiter::per_period(2, Duration::from_secs(300));
        assert!(l.check(&1).is_ok());
        assert!(l.check(&1).is_ok());
        assert!(l.check(&1).is_err());
        assert!(l.check(&2).is_ok());
        assert_eq!(l.len(), 2);
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
    }
}
