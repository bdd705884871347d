//! Latency summaries (pure).
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Latency samples in microseconds (4 bytes each, so a million samples cost 4 MB).
#[derive(Debug, Default)]
pub struct Samples(Vec<u32>);

/// Samples kept at most; later ones are dropped so memory stays bounded on long runs.
pub const MAX_SAMPLES: usize = 2_000_000;

impl Samples {
    pub fn record(&mut self, d: Duration) {
        if self.0.len() < MAX_SAMPLES {
            self.0
                .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
        }
    }

    pub fn summary(&mut self) -> LatencySummary {
        let mut v: Vec<Duration> = self
            .0
            .iter()
            .map(|&us| Duration::from_micros(u64::from(us)))
            .collect();
        summarize(&mut v)
    }
}

/// Nearest-rank percentile of sorted samples (`q` in 0..=1).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarize(samples: &mut [Duration]) -> LatencySummary {
    if samples.is_empty() {
        return LatencySummary::default();
    }
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let total: Duration = samples.iter().sum();
    LatencySummary {
        count: samples.len(),
        mean_ms: ms(total) / samples.len() as f64,
        p50_ms: ms(percentile(samples, 0.50)),
        p90_ms: ms(percentile(samples, 0.90)),
        p99_ms: ms(percentile(samples, 0.99)),
        max_ms: ms(samples[samples.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = summarize(&mut v);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p90_ms, 90.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
    }

    #[test]
    fn samples_keep_microseconds() {
        let mut s = Samples::default();
        s.record(Duration::from_micros(1500));
        s.record(Duration::from_micros(500));
        let sum = s.summary();
        assert_eq!((sum.count, sum.p50_ms, sum.max_ms), (2, 0.5, 1.5));
    }

    #[test]
    fn single_and_empty_samples() {
        assert_eq!(summarize(&mut []), LatencySummary::default());
        let s = summarize(&mut [Duration::from_millis(7)]);
        assert_eq!((s.p50_ms, s.p99_ms), (7.0, 7.0));
    }
}
