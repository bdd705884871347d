//! Token bucket that paces the load generator. Time is passed in, so it is testable.
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// `rate` permits per second; the bucket holds 100 ms worth of permits (at least one) so
    /// a coarse timer (tokio sleeps in 1 ms steps) or a scheduling hiccup on a busy machine
    /// does not lose permits.
    pub fn new(rate: f64, now: Duration) -> Self {
        assert!(rate > 0.0, "rate must be positive");
        let burst = (rate / 10.0).max(1.0);
        // Start with one permit, not a full bucket, so a run does not open with a burst.
        Self {
            rate,
            burst,
            tokens: 1.0,
            last: now,
        }
    }

    /// Takes one permit at `now` and returns how long the caller must wait before using it.
    /// Permits are reserved even when the bucket is empty (the balance goes negative), so
    /// the long-run rate is exact whatever the caller's timer resolution.
    pub fn reserve(&mut self, now: Duration) -> Duration {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the bucket for `secs` seconds with a caller whose sleeps last at least `tick`.
    fn permits_in(rate: f64, secs: f64, tick: Duration) -> u64 {
        let mut now = Duration::ZERO;
        let mut bucket = TokenBucket::new(rate, now);
        let end = Duration::from_secs_f64(secs);
        let mut n = 0;
        loop {
            let wait = bucket.reserve(now);
            if !wait.is_zero() {
                now += wait.max(tick);
            }
            if now >= end {
                return n;
            }
            n += 1;
        }
    }

    #[test]
    fn holds_the_rate_within_two_percent() {
        for (rate, tick) in [
            (10.0, Duration::ZERO),
            (1_000.0, Duration::from_millis(1)),
            (50_000.0, Duration::from_millis(1)),
            (200_000.0, Duration::from_millis(2)),
            (5_000.0, Duration::from_millis(50)),
        ] {
            let n = permits_in(rate, 10.0, tick) as f64;
            let expected = rate * 10.0;
            assert!(
                (n - expected).abs() / expected < 0.02,
                "rate {rate}: {n} permits, expected {expected}"
            );
        }
    }

    #[test]
    fn idle_time_does_not_allow_an_unbounded_burst() {
        let mut b = TokenBucket::new(1_000.0, Duration::ZERO);
        let now = Duration::from_secs(60);
        let free = (0..1000).take_while(|_| b.reserve(now).is_zero()).count();
        assert_eq!(free, 100, "burst is 100 ms worth of permits");
    }

    #[test]
    fn waits_grow_with_the_deficit() {
        let mut b = TokenBucket::new(100.0, Duration::ZERO);
        assert_eq!(b.reserve(Duration::ZERO), Duration::ZERO);
        let w1 = b.reserve(Duration::ZERO);
        let w2 = b.reserve(Duration::ZERO);
        assert!((w1.as_secs_f64() - 0.01).abs() < 1e-9);
        assert!((w2.as_secs_f64() - 0.02).abs() < 1e-9);
    }
}
