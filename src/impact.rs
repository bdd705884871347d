//! Workload impact of a chaos run (pure): parse the workload's Prometheus text, keep a time
//! series of scrapes, and turn it into throughput, error rate and consumer lag per window
//! (before / during / after the disruption) plus what the counters can say about integrity.
//!
//! The text parser is a small one for the plain `name{labels} value` lines the workload
//! exposes: counters and gauges, and with [`parse_scrape`] the buckets of the latency
//! histogram; exemplars are skipped. A crate would add a dependency for a few lines that we
//! need and can test here.
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::component::Component;

/// The values of one scrape of one pod that the impact needs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Values {
    pub produced: f64,
    pub consumed: f64,
    /// `kapture_messages_failed_total`, all reasons.
    pub failed: f64,
    /// `kapture_requests_rejected_total`, all reasons.
    pub rejected: f64,
    /// `kapture_consumer_lag`, when exposed.
    pub lag: Option<f64>,
}

/// Parses Prometheus text exposition into [`Values`]; labelled series are summed.
pub fn parse(text: &str) -> Values {
    let mut v = Values::default();
    for (name, _, value) in series(text) {
        count(&mut v, name, value);
    }
    v
}

/// The histogram every role exposes: loadgen request, order-service produce, router and sink
/// batch latency.
const LATENCY_BUCKET: &str = "kapture_latency_seconds_bucket";

/// A scrape with the latency histogram as well (what `kubectl kapture bench` reads).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrape {
    pub values: Values,
    pub latency: Histogram,
}

/// Parses Prometheus text exposition into [`Values`] and the latency histogram.
pub fn parse_scrape(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for (name, labels, value) in series(text) {
        if name == LATENCY_BUCKET {
            if let Some(bound) = label(labels, "le").and_then(|le| le.parse::<f64>().ok()) {
                scrape.latency.add_bucket(bound, value);
            }
        } else {
            count(&mut scrape.values, name, value);
        }
    }
    scrape
}

fn count(v: &mut Values, name: &str, value: f64) {
    match name {
        "kapture_messages_produced_total" => v.produced += value,
        "kapture_messages_consumed_total" => v.consumed += value,
        "kapture_messages_failed_total" => v.failed += value,
        "kapture_requests_rejected_total" => v.rejected += value,
        "kapture_consumer_lag" => *v.lag.get_or_insert(0.0) += value,
        _ => {}
    }
}

/// Every `name{labels} value` line with a finite value: (name, labels between the braces,
/// value). Comments and lines that do not parse are skipped.
fn series(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (name, labels, rest) = split_name(line)?;
        // The value is the first field after the labels; a timestamp may follow.
        let value = rest
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|x| x.is_finite())?;
        Some((name, labels, value))
    })
}

/// `name{labels} rest` or `name rest` -> (name, labels, rest after the labels).
fn split_name(line: &str) -> Option<(&str, &str, &str)> {
    let end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let (name, rest) = line.split_at(end);
    if !rest.starts_with('{') {
        return Some((name, "", rest));
    }
    // Label values may contain '}' inside quotes: find the closing brace outside quotes.
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some((name, &rest[1..i], &rest[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The value of label `key` in `a="x",b="y"` (escapes kept as written: the bounds need none).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = labels;
    loop {
        let (name, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let mut escaped = false;
        let close = after.char_indices().find_map(|(i, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            '"' => Some(i),
            _ => None,
        })?;
        if name.trim() == key {
            return Some(&after[..close]);
        }
        rest = after[close + 1..].trim_start_matches([',', ' ']);
    }
}

/// A histogram's cumulative bucket counts by upper bound (`le`, +Inf last), summed over its
/// labelled series and pods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// (upper bound in seconds, observations at or below it), ascending by bound.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    fn add_bucket(&mut self, bound: f64, value: f64) {
        match self.buckets.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, count)) => *count += value,
            None => {
                self.buckets.push((bound, value));
                self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
    }

    /// Adds another histogram's counts bucket by bucket.
    pub fn add(&mut self, other: &Histogram) {
        for (bound, count) in &other.buckets {
            self.add_bucket(*bound, *count);
        }
    }

    /// Observations in all (the +Inf bucket).
    pub fn total(&self) -> f64 {
        self.buckets.last().map_or(0.0, |(_, count)| *count)
    }

    /// The observations since `before`; a smaller total is a restarted process, whose
    /// counts began at 0 (as counters do in [`analyze`]).
    pub fn increase_since(&self, before: &Histogram) -> Histogram {
        if self.total() < before.total() {
            return self.clone();
        }
        let earlier = |bound: f64| {
            before
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |(_, c)| *c)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|(bound, count)| (*bound, (count - earlier(*bound)).max(0.0)))
                .collect(),
        }
    }

    /// The `q` quantile (0.99 = p99) in seconds, interpolated linearly inside its bucket as
    /// Prometheus' `histogram_quantile` does: the first bucket starts at 0, and a quantile in
    /// the +Inf bucket is the highest finite bound. `None` without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for (bound, count) in &self.buckets {
            if *count >= rank {
                if bound.is_infinite() {
                    return Some(lower);
                }
                let inside = count - below;
                let fraction = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return Some(lower + (bound - lower) * fraction);
            }
            (lower, below) = (*bound, *count);
        }
        Some(lower)
    }
}

/// One pod's part of a sample: its values ([`Values`], or a [`Scrape`]), or why they could not
/// be had.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample<V = Values> {
    /// A worker role ([`Component::is_worker_role`]).
    pub role: Component,
    pub pod: String,
    pub values: Result<V, String>,
}

/// Every workload pod scraped at one moment; `at` is seconds since the sampler started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample<V = Values> {
    pub at: f64,
    pub pods: Vec<PodSample<V>>,
    /// Roles that had nothing to scrape, with the reason ("no ready pods").
    pub missing: BTreeMap<Component, String>,
}

/// Window bounds in seconds since the sampler started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// First action (end of the baseline).
    pub disruption_start: f64,
    /// Last recovery, or the end of the rounds.
    pub disruption_end: f64,
    /// End of the settle window.
    pub end: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Window {
    Before,
    During,
    After,
}

impl Window {
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Before => "before",
            Window::During => "during",
            Window::After => "after",
        }
    }

    fn of(at: f64, b: &Bounds) -> Option<Window> {
        if at <= b.disruption_start {
            Some(Window::Before)
        } else if at <= b.disruption_end {
            Some(Window::During)
        } else if at <= b.end {
            Some(Window::After)
        } else {
            None
        }
    }
}

/// A figure, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_data: Option<String>,
}

impl Figure {
    fn some(value: f64) -> Self {
        Figure {
            value: Some(value),
            no_data: None,
        }
    }

    fn none(reason: impl Into<String>) -> Self {
        Figure {
            value: None,
            no_data: Some(reason.into()),
        }
    }
}

/// Figures of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowImpact {
    pub window: Window,
    pub seconds: f64,
    /// Transactions acknowledged by Kafka to the order service, per second.
    pub order_service_produced_per_second: Figure,
    /// Messages the router wrote to the per-state topics, per second.
    pub router_produced_per_second: Figure,
    /// Messages the Postgres sink consumed, per second.
    pub sink_postgres_consumed_per_second: Figure,
    /// Messages the Redis sink consumed, per second.
    pub sink_redis_consumed_per_second: Figure,
    /// Messages the MongoDB sink consumed, per second, when it is deployed (it is opt-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink_mongo_consumed_per_second: Option<Figure>,
    /// (failed + rejected) / consumed of the order service.
    pub order_service_error_rate: Figure,
}

/// Peak consumer lag of one role during and after the disruption.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LagPeak {
    pub role: Component,
    pub peak: Figure,
}

/// What the counters say about lost messages; the full check is `kapture-worker verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integrity {
    /// Transactions the order service had acknowledged by Kafka over the sampled time.
    pub acknowledged: Option<f64>,
    /// Rows the Postgres sink newly inserted over the sampled time.
    pub written: Option<f64>,
    /// acknowledged - written: in flight, or lost; the counters cannot tell which.
    pub gap: Option<f64>,
    pub verdict: String,
}

/// The impact section of the chaos report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    pub samples: usize,
    pub windows: Vec<WindowImpact>,
    pub lag_peaks: Vec<LagPeak>,
    pub integrity: Integrity,
    /// Why a role has no figures (no pods, scrape errors), one line each.
    pub notes: Vec<String>,
}

/// Counter increases of one role over some pairs of samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Increase {
    pub produced: f64,
    pub consumed: f64,
    pub failed: f64,
    pub rejected: f64,
    /// Whether any pod of the role contributed (scraped twice, or born and scraped once).
    pub observed: bool,
}

impl Increase {
    /// Adds what one pod counted from `before` to `now`.
    pub fn add(&mut self, before: &Values, now: &Values) {
        self.produced += delta(before.produced, now.produced);
        self.consumed += delta(before.consumed, now.consumed);
        self.failed += delta(before.failed, now.failed);
        self.rejected += delta(before.rejected, now.rejected);
        self.observed = true;
    }
}

/// The increase of a counter from `last` to `now`; a drop is a restart that began at 0.
fn delta(last: f64, now: f64) -> f64 {
    if now >= last {
        now - last
    } else {
        now
    }
}

/// Walks the samples once and hands each pair of a pod's successful scrapes that counts to
/// `add`: the key of the later scrape's time (`None` skips it), the role, the pod, the earlier
/// values and the later ones. A pod seen for the first time after the first sample was born
/// during the run, so its first scrape counts in full: its earlier values are `None` (zero).
/// A pod already there at the first sample gives its baseline with its first successful
/// scrape.
pub fn pairs<'a, V, K: Copy>(
    samples: &'a [Sample<V>],
    key: impl Fn(f64) -> Option<K>,
    mut add: impl FnMut(K, Component, &'a str, Option<&'a V>, &'a V),
) {
    let initial: BTreeSet<&str> = samples
        .first()
        .map(|s| s.pods.iter().map(|p| p.pod.as_str()).collect())
        .unwrap_or_default();
    let mut last: BTreeMap<&str, &V> = BTreeMap::new();
    for sample in samples {
        let Some(key) = key(sample.at) else {
            continue;
        };
        for pod in &sample.pods {
            let Ok(now) = &pod.values else { continue };
            let before = last.insert(&pod.pod, now);
            if before.is_some() || !initial.contains(pod.pod.as_str()) {
                add(key, pod.role, &pod.pod, before, now);
            }
        }
    }
}

/// Counter increases per window and role.
fn increases(samples: &[Sample], bounds: &Bounds) -> BTreeMap<(Window, Component), Increase> {
    let mut out: BTreeMap<(Window, Component), Increase> = BTreeMap::new();
    pairs(
        samples,
        |at| Window::of(at, bounds),
        |window, role, _, before, now| {
            let before = before.copied().unwrap_or_default();
            out.entry((window, role)).or_default().add(&before, now)
        },
    );
    out
}

/// Why a role has no figures in `window`: the last reason seen in it, else a generic one.
fn why_not(samples: &[Sample], bounds: &Bounds, window: Window, role: Component) -> String {
    let in_window: Vec<&Sample> = samples
        .iter()
        .filter(|s| Window::of(s.at, bounds) == Some(window))
        .collect();
    why_missing(in_window.iter().copied(), role).unwrap_or_else(|| match in_window.len() {
        // Not the role's fault: say it once for the window.
        0 => format!(
            "no scrape in the {} window (shorter than --sample-interval)",
            window.as_str()
        ),
        _ => format!("{role}: fewer than two scrapes in this window"),
    })
}

/// The last reason in `samples` why `role` could not be scraped (no pods, a failed scrape).
pub fn why_missing<'a, V: 'a>(
    samples: impl IntoIterator<Item = &'a Sample<V>>,
    role: Component,
) -> Option<String> {
    let mut reason = None;
    for s in samples {
        if let Some(r) = s.missing.get(&role) {
            reason = Some(format!("{role}: {r}"));
        }
        for p in s.pods.iter().filter(|p| p.role == role) {
            if let Err(e) = &p.values {
                reason = Some(format!("{role}: scrape of {} failed: {e}", p.pod));
            }
        }
    }
    reason
}

/// Computes the impact of a run from its samples.
pub fn analyze(samples: &[Sample], bounds: &Bounds) -> Impact {
    let inc = increases(samples, bounds);
    // An opt-in role without a pod in any sample is not deployed: it gets no figures and no
    // "no data" notes.
    let reported = |role: Component| {
        role.in_default_set()
            || samples
                .iter()
                .any(|s| s.pods.iter().any(|p| p.role == role))
    };
    let mut notes = BTreeSet::new();
    let mut windows = Vec::new();
    for window in [Window::Before, Window::During, Window::After] {
        let ats: Vec<f64> = samples
            .iter()
            .filter(|s| Window::of(s.at, bounds) == Some(window))
            .map(|s| s.at)
            .collect();
        // Increases fall in the window of their later scrape, so the time they cover starts
        // at the sample before the window's first one.
        let start = ats.first().map(|first| {
            samples
                .iter()
                .map(|s| s.at)
                .filter(|at| at < first)
                .reduce(f64::max)
                .unwrap_or(*first)
        });
        let seconds = match (start, ats.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        let mut rate = |role: Component, pick: fn(&Increase) -> f64| -> Figure {
            match inc.get(&(window, role)) {
                Some(i) if i.observed && seconds > 0.0 => Figure::some(pick(i) / seconds),
                _ => {
                    let reason = why_not(samples, bounds, window, role);
                    notes.insert(reason.clone());
                    Figure::none(reason)
                }
            }
        };
        let order = rate(Component::OrderService, |i| i.produced);
        let router = rate(Component::Router, |i| i.produced);
        let postgres = rate(Component::SinkPostgres, |i| i.consumed);
        let redis = rate(Component::SinkRedis, |i| i.consumed);
        let mongo =
            reported(Component::SinkMongo).then(|| rate(Component::SinkMongo, |i| i.consumed));
        let error_rate = match inc.get(&(window, Component::OrderService)) {
            Some(i) if i.observed && i.consumed > 0.0 => {
                Figure::some((i.failed + i.rejected) / i.consumed)
            }
            Some(i) if i.observed => Figure::none("order-service received no requests"),
            _ => Figure::none(why_not(samples, bounds, window, Component::OrderService)),
        };
        windows.push(WindowImpact {
            window,
            seconds,
            order_service_produced_per_second: order,
            router_produced_per_second: router,
            sink_postgres_consumed_per_second: postgres,
            sink_redis_consumed_per_second: redis,
            sink_mongo_consumed_per_second: mongo,
            order_service_error_rate: error_rate,
        });
    }

    let lag_peaks = Component::ALL
        .into_iter()
        .filter(|&c| c.consumes_kafka() && reported(c))
        .map(|role| {
            let peak = samples
                .iter()
                .filter(|s| s.at > bounds.disruption_start && s.at <= bounds.end)
                .flat_map(|s| s.pods.iter())
                .filter(|p| p.role == role)
                .filter_map(|p| p.values.as_ref().ok().and_then(|v| v.lag))
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            LagPeak {
                role,
                peak: match peak {
                    Some(v) => Figure::some(v),
                    None => {
                        let reason = why_not(samples, bounds, Window::During, role);
                        notes.insert(reason.clone());
                        Figure::none(reason)
                    }
                },
            }
        })
        .collect();

    Impact {
        samples: samples.len(),
        windows,
        lag_peaks,
        integrity: integrity(&inc),
        notes: notes.into_iter().collect(),
    }
}

fn integrity(inc: &BTreeMap<(Window, Component), Increase>) -> Integrity {
    let total = |role: Component, pick: fn(&Increase) -> f64| -> Option<f64> {
        let parts: Vec<&Increase> = inc
            .iter()
            .filter(|((_, r), i)| *r == role && i.observed)
            .map(|(_, i)| i)
            .collect();
        (!parts.is_empty()).then(|| parts.iter().map(|i| pick(i)).sum())
    };
    let acknowledged = total(Component::OrderService, |i| i.produced);
    let written = total(Component::SinkPostgres, |i| i.produced);
    let (gap, verdict) = match (acknowledged, written) {
        (Some(a), Some(w)) => {
            let gap = a - w;
            let verdict = if gap <= 0.0 {
                "no gap: the Postgres sink wrote at least as many new rows as the order service had acknowledged".to_string()
            } else {
                format!(
                    "{gap:.0} acknowledged transaction(s) not yet written by the Postgres sink: in flight or lost; run `kapture-worker verify` to tell"
                )
            };
            (Some(gap), verdict)
        }
        (None, _) => (
            None,
            "unknown: no order-service counters were scraped".to_string(),
        ),
        (_, None) => (
            None,
            "unknown: no sink-postgres counters were scraped".to_string(),
        ),
    };
    Integrity {
        acknowledged,
        written,
        gap,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(produced: f64, consumed: f64, failed: f64, lag: Option<f64>) -> Values {
        Values {
            produced,
            consumed,
            failed,
            rejected: 0.0,
            lag,
        }
    }

    fn pod(role: &str, name: &str, v: Values) -> PodSample {
        PodSample {
            role: Component::from_name(role).expect("a role"),
            pod: name.into(),
            values: Ok(v),
        }
    }

    fn sample(at: f64, pods: Vec<PodSample>) -> Sample {
        Sample {
            at,
            pods,
            missing: BTreeMap::new(),
        }
    }

    const BOUNDS: Bounds = Bounds {
        disruption_start: 2.0,
        disruption_end: 4.0,
        end: 6.0,
    };

    fn window(impact: &Impact, w: Window) -> &WindowImpact {
        impact.windows.iter().find(|x| x.window == w).unwrap()
    }

    #[test]
    fn parses_counters_gauges_labels_and_skips_the_rest() {
        let text = r#"# HELP kapture_messages_produced_total Messages acknowledged
# TYPE kapture_messages_produced_total counter
kapture_messages_produced_total{role="order-service"} 12
kapture_messages_consumed_total{role="order-service"} 15 1700000000000
kapture_messages_failed_total{role="order-service",reason="kafka"} 2
kapture_messages_failed_total{role="order-service",reason="odd } \" label"} 1
kapture_requests_rejected_total{role="order-service",reason="invalid"} 3.5
kapture_consumer_lag{role="order-service"} 7
kapture_latency_seconds_bucket{role="order-service",le="0.1"} 99
kapture_latency_seconds_count{role="order-service"} 99
kapture_messages_produced_total{role="x"} NaN
garbage line
# EOF
"#;
        let v = parse(text);
        assert_eq!(v.produced, 12.0);
        assert_eq!(v.consumed, 15.0);
        assert_eq!(v.failed, 3.0);
        assert_eq!(v.rejected, 3.5);
        assert_eq!(v.lag, Some(7.0));
        assert_eq!(parse("").lag, None);
        assert_eq!(parse("kapture_messages_consumed_total 4").consumed, 4.0);
    }

    #[test]
    fn parse_scrape_keeps_the_latency_buckets_summed_over_series() {
        let text = r#"# TYPE kapture_latency_seconds histogram
kapture_latency_seconds_sum{role="loadgen"} 1.5
kapture_latency_seconds_count{role="loadgen"} 100
kapture_latency_seconds_bucket{le="0.001",role="loadgen"} 10
kapture_latency_seconds_bucket{role="loadgen",le="0.002"} 60
kapture_latency_seconds_bucket{role="loadgen",le="+Inf"} 100
kapture_latency_seconds_bucket{role="other",le="0.002"} 40
kapture_latency_seconds_bucket{role="other",le="+Inf"} 40
kapture_latency_seconds_bucket{role="loadgen"} 5
kapture_messages_produced_total{role="loadgen"} 100
"#;
        let scrape = parse_scrape(text);
        assert_eq!(scrape.values.produced, 100.0);
        assert_eq!(scrape.values, parse(text));
        assert_eq!(
            scrape.latency.buckets,
            [(0.001, 10.0), (0.002, 100.0), (f64::INFINITY, 140.0)]
        );
        assert_eq!(scrape.latency.total(), 140.0);
        assert_eq!(label(r#"a="x\"y",le="0.5""#, "le"), Some("0.5"));
        assert_eq!(label(r#"a="x""#, "le"), None);
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let h = Histogram {
            buckets: vec![
                (0.01, 50.0),
                (0.02, 90.0),
                (0.04, 100.0),
                (f64::INFINITY, 100.0),
            ],
        };
        assert_eq!(h.quantile(0.5), Some(0.01));
        assert!((h.quantile(0.7).unwrap() - 0.015).abs() < 1e-12);
        assert!((h.quantile(0.99).unwrap() - 0.038).abs() < 1e-12);
        assert!((h.quantile(0.25).unwrap() - 0.005).abs() < 1e-12);
        // Beyond the last finite bound: the bound, as Prometheus answers.
        let slow = Histogram {
            buckets: vec![(0.01, 1.0), (f64::INFINITY, 10.0)],
        };
        assert_eq!(slow.quantile(0.99), Some(0.01));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn histogram_increases_start_over_after_a_restart() {
        let before = Histogram {
            buckets: vec![(0.01, 5.0), (f64::INFINITY, 8.0)],
        };
        let now = Histogram {
            buckets: vec![(0.01, 9.0), (f64::INFINITY, 20.0)],
        };
        assert_eq!(
            now.increase_since(&before).buckets,
            [(0.01, 4.0), (f64::INFINITY, 12.0)]
        );
        let restarted = Histogram {
            buckets: vec![(0.01, 1.0), (f64::INFINITY, 2.0)],
        };
        assert_eq!(restarted.increase_since(&now), restarted);
        let mut sum = before.clone();
        sum.add(&now);
        assert_eq!(sum.buckets, [(0.01, 14.0), (f64::INFINITY, 28.0)]);
    }

    #[test]
    fn rates_per_window() {
        // order-service: 10/s throughout, consumed 12/s, failed 1/s during only.
        let s: Vec<Sample> = (0..=6)
            .map(|t| {
                let t = t as f64;
                let failed = (t - 2.0).clamp(0.0, 2.0);
                sample(
                    t,
                    vec![pod(
                        "order-service",
                        "o-1",
                        values(10.0 * t, 12.0 * t, failed, None),
                    )],
                )
            })
            .collect();
        let impact = analyze(&s, &BOUNDS);
        let before = window(&impact, Window::Before);
        assert_eq!(before.seconds, 2.0);
        assert_eq!(before.order_service_produced_per_second.value, Some(10.0));
        assert_eq!(before.order_service_error_rate.value, Some(0.0));
        let during = window(&impact, Window::During);
        assert_eq!(during.seconds, 2.0);
        assert_eq!(during.order_service_error_rate.value, Some(2.0 / 24.0));
        let after = window(&impact, Window::After);
        assert_eq!(after.order_service_produced_per_second.value, Some(10.0));
        assert_eq!(after.order_service_error_rate.value, Some(0.0));
        assert_eq!(impact.samples, 7);
    }

    #[test]
    fn the_mongo_sink_is_reported_only_when_it_is_deployed() {
        let run = |role: &str| -> Vec<Sample> {
            (0..=6)
                .map(|t| {
                    let t = t as f64;
                    let pods = vec![pod(role, "s-1", values(0.0, 5.0 * t, 0.0, Some(t)))];
                    sample(t, pods)
                })
                .collect()
        };
        let without = analyze(&run("sink-postgres"), &BOUNDS);
        assert!(without
            .windows
            .iter()
            .all(|w| w.sink_mongo_consumed_per_second.is_none()));
        assert!(!without
            .lag_peaks
            .iter()
            .any(|l| l.role == Component::SinkMongo));
        assert!(!without.notes.iter().any(|n| n.contains("sink-mongo")));
        let json = serde_json::to_string(&without).unwrap();
        assert!(!json.contains("sinkMongo"), "{json}");

        let with = analyze(&run("sink-mongo"), &BOUNDS);
        let during = window(&with, Window::During);
        assert_eq!(
            during
                .sink_mongo_consumed_per_second
                .as_ref()
                .unwrap()
                .value,
            Some(5.0)
        );
        let peak = with
            .lag_peaks
            .iter()
            .find(|l| l.role == Component::SinkMongo)
            .expect("a lag peak for the deployed sink");
        assert_eq!(peak.peak.value, Some(6.0));
    }

    #[test]
    fn a_counter_drop_is_a_restart_from_zero() {
        let s = vec![
            sample(
                0.0,
                vec![pod("router", "r-0", values(100.0, 0.0, 0.0, None))],
            ),
            sample(
                2.0,
                vec![pod("router", "r-0", values(120.0, 0.0, 0.0, None))],
            ),
            sample(3.0, vec![pod("router", "r-0", values(6.0, 0.0, 0.0, None))]),
            sample(
                4.0,
                vec![pod("router", "r-0", values(10.0, 0.0, 0.0, None))],
            ),
        ];
        let impact = analyze(&s, &BOUNDS);
        assert_eq!(
            window(&impact, Window::Before)
                .router_produced_per_second
                .value,
            Some(10.0)
        );
        // 6 after the reset + 4 = 10 over 2 s.
        assert_eq!(
            window(&impact, Window::During)
                .router_produced_per_second
                .value,
            Some(5.0)
        );
    }

    #[test]
    fn pods_are_summed_and_a_replacement_counts_from_zero() {
        let s = vec![
            sample(
                0.0,
                vec![
                    pod("order-service", "a", values(50.0, 50.0, 0.0, None)),
                    pod("order-service", "b", values(70.0, 70.0, 0.0, None)),
                ],
            ),
            sample(
                2.0,
                vec![
                    pod("order-service", "a", values(60.0, 60.0, 0.0, None)),
                    pod("order-service", "b", values(80.0, 80.0, 0.0, None)),
                ],
            ),
            // b is gone; c replaced it mid-window and has produced 4 since it started.
            sample(
                4.0,
                vec![
                    pod("order-service", "a", values(70.0, 70.0, 0.0, None)),
                    pod("order-service", "c", values(4.0, 4.0, 0.0, None)),
                ],
            ),
        ];
        let impact = analyze(&s, &BOUNDS);
        assert_eq!(
            window(&impact, Window::Before)
                .order_service_produced_per_second
                .value,
            Some(10.0)
        );
        assert_eq!(
            window(&impact, Window::During)
                .order_service_produced_per_second
                .value,
            Some(7.0)
        );
        assert_eq!(impact.integrity.acknowledged, Some(34.0));
    }

    #[test]
    fn a_pod_present_at_the_start_but_unscraped_gives_a_baseline_not_an_increase() {
        let failing = PodSample {
            role: Component::Router,
            pod: "r".into(),
            values: Err("503 Service Unavailable".into()),
        };
        let s = vec![
            sample(0.0, vec![failing.clone()]),
            sample(
                1.0,
                vec![pod("router", "r", values(1000.0, 0.0, 0.0, None))],
            ),
            sample(
                2.0,
                vec![pod("router", "r", values(1002.0, 0.0, 0.0, None))],
            ),
        ];
        let impact = analyze(&s, &BOUNDS);
        assert_eq!(
            window(&impact, Window::Before)
                .router_produced_per_second
                .value,
            Some(1.0)
        );
    }

    #[test]
    fn no_data_says_why() {
        let mut first = sample(
            0.0,
            vec![PodSample {
                role: Component::OrderService,
                pod: "o".into(),
                values: Err("503 Service Unavailable".into()),
            }],
        );
        first
            .missing
            .insert(Component::Router, "no ready pods".into());
        let mut second = first.clone();
        second.at = 1.0;
        let impact = analyze(&[first, second], &BOUNDS);
        let before = window(&impact, Window::Before);
        let order = before.order_service_produced_per_second.no_data.clone();
        assert_eq!(
            order.as_deref(),
            Some("order-service: scrape of o failed: 503 Service Unavailable")
        );
        assert_eq!(before.order_service_produced_per_second.value, None);
        assert_eq!(
            before.router_produced_per_second.no_data.as_deref(),
            Some("router: no ready pods")
        );
        assert!(before.order_service_error_rate.value.is_none());
        assert!(impact.notes.iter().any(|n| n == "router: no ready pods"));
        // Nothing sampled during or after.
        assert!(window(&impact, Window::During)
            .router_produced_per_second
            .no_data
            .as_deref()
            .unwrap()
            .contains("no scrape in the during window"));
        assert!(impact.integrity.verdict.starts_with("unknown"));
        assert_eq!(
            window(&impact, Window::During)
                .order_service_produced_per_second
                .no_data
                .as_deref(),
            Some("no scrape in the during window (shorter than --sample-interval)")
        );
    }

    #[test]
    fn no_requests_is_not_a_division_by_zero() {
        let s = vec![
            sample(
                0.0,
                vec![pod("order-service", "o", values(5.0, 5.0, 1.0, None))],
            ),
            sample(
                1.0,
                vec![pod("order-service", "o", values(5.0, 5.0, 1.0, None))],
            ),
        ];
        let impact = analyze(&s, &BOUNDS);
        let before = window(&impact, Window::Before);
        assert_eq!(before.order_service_produced_per_second.value, Some(0.0));
        assert_eq!(
            before.order_service_error_rate.no_data.as_deref(),
            Some("order-service received no requests")
        );
    }

    #[test]
    fn lag_peak_is_the_maximum_during_and_after_only() {
        let s = vec![
            sample(
                0.0,
                vec![pod("router", "r", values(0.0, 0.0, 0.0, Some(900.0)))],
            ),
            sample(
                2.5,
                vec![pod("router", "r", values(0.0, 0.0, 0.0, Some(40.0)))],
            ),
            sample(
                5.0,
                vec![
                    pod("router", "r", values(0.0, 0.0, 0.0, Some(12.0))),
                    pod("sink-redis", "s", values(0.0, 0.0, 0.0, Some(3.0))),
                ],
            ),
            sample(
                7.0,
                vec![pod("router", "r", values(0.0, 0.0, 0.0, Some(500.0)))],
            ),
        ];
        let impact = analyze(&s, &BOUNDS);
        let peak = |role: &str| {
            impact
                .lag_peaks
                .iter()
                .find(|l| l.role.name() == role)
                .unwrap()
                .peak
                .clone()
        };
        assert_eq!(peak("router").value, Some(40.0));
        assert_eq!(peak("sink-redis").value, Some(3.0));
        assert!(peak("sink-postgres").value.is_none());
        // The sample after the settle window is ignored for rates too.
        assert_eq!(window(&impact, Window::After).seconds, 2.5);
    }

    #[test]
    fn integrity_compares_acknowledged_and_written() {
        let s = vec![
            sample(
                0.0,
                vec![
                    pod("order-service", "o", values(100.0, 100.0, 0.0, None)),
                    pod("sink-postgres", "p", values(90.0, 90.0, 0.0, None)),
                ],
            ),
            sample(
                3.0,
                vec![
                    pod("order-service", "o", values(130.0, 130.0, 0.0, None)),
                    pod("sink-postgres", "p", values(115.0, 115.0, 0.0, None)),
                ],
            ),
        ];
        let i = analyze(&s, &BOUNDS).integrity;
        assert_eq!(i.acknowledged, Some(30.0));
        assert_eq!(i.written, Some(25.0));
        assert_eq!(i.gap, Some(5.0));
        assert!(i.verdict.contains("5 acknowledged"), "{}", i.verdict);
        assert!(i.verdict.contains("kapture-worker verify"));
    }
}
