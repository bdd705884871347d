//! Workload impact of a chaos run (pure): parse the workload's Prometheus text, keep a time
//! series of scrapes, and turn it into throughput, error rate and consumer lag per window
//! (before / during / after the disruption) plus what the counters can say about integrity.
//!
//! The text parser is a small one for the plain `name{labels} value` lines the workload
//! exposes (counters and gauges); histograms and exemplars are skipped. A crate would add a
//! dependency for a few lines that we need and can test here.
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
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = split_name(line) else {
            continue;
        };
        // The value is the first field after the labels; a timestamp may follow.
        let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|x| x.is_finite())
        else {
            continue;
        };
        match name {
            "kapture_messages_produced_total" => v.produced += value,
            "kapture_messages_consumed_total" => v.consumed += value,
            "kapture_messages_failed_total" => v.failed += value,
            "kapture_requests_rejected_total" => v.rejected += value,
            "kapture_consumer_lag" => *v.lag.get_or_insert(0.0) += value,
            _ => {}
        }
    }
    v
}

/// `name{labels} rest` or `name rest` -> (name, rest after the labels).
fn split_name(line: &str) -> Option<(&str, &str)> {
    let end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let (name, rest) = line.split_at(end);
    let rest = if rest.starts_with('{') {
        // Label values may contain '}' inside quotes: find the closing brace outside quotes.
        let mut quoted = false;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        &rest[close? + 1..]
    } else {
        rest
    };
    Some((name, rest))
}

/// One pod's part of a sample: its values, or why they could not be had.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    /// A worker role ([`Component::is_worker_role`]).
    pub role: Component,
    pub pod: String,
    pub values: Result<Values, String>,
}

/// Every workload pod scraped at one moment; `at` is seconds since the sampler started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    pub at: f64,
    pub pods: Vec<PodSample>,
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
struct Increase {
    produced: f64,
    consumed: f64,
    failed: f64,
    rejected: f64,
    /// Whether any pod of the role contributed (scraped twice, or born and scraped once).
    observed: bool,
}

/// The increase of a counter from `last` to `now`; a drop is a restart that began at 0.
fn delta(last: f64, now: f64) -> f64 {
    if now >= last {
        now - last
    } else {
        now
    }
}

/// Walks the samples once and adds each pod's counter increases to the window in which the
/// later scrape falls. A pod seen for the first time after the first sample was born during the
/// run, so its first scrape counts in full; a pod already there at the first sample gives its
/// baseline with its first successful scrape.
fn increases(samples: &[Sample], bounds: &Bounds) -> BTreeMap<(Window, Component), Increase> {
    let mut out: BTreeMap<(Window, Component), Increase> = BTreeMap::new();
    let initial: BTreeSet<&str> = samples
        .first()
        .map(|s| s.pods.iter().map(|p| p.pod.as_str()).collect())
        .unwrap_or_default();
    let mut last: BTreeMap<&str, Values> = BTreeMap::new();
    for sample in samples {
        let Some(window) = Window::of(sample.at, bounds) else {
            continue;
        };
        for pod in &sample.pods {
            let Ok(now) = &pod.values else { continue };
            let before = match last.get(pod.pod.as_str()) {
                Some(v) => Some(*v),
                None if !initial.contains(pod.pod.as_str()) => Some(Values::default()),
                None => None,
            };
            last.insert(&pod.pod, *now);
            let Some(before) = before else { continue };
            let inc = out.entry((window, pod.role)).or_default();
            inc.produced += delta(before.produced, now.produced);
            inc.consumed += delta(before.consumed, now.consumed);
            inc.failed += delta(before.failed, now.failed);
            inc.rejected += delta(before.rejected, now.rejected);
            inc.observed = true;
        }
    }
    out
}

/// Why a role has no figures in `window`: the last reason seen in it, else a generic one.
fn why_not(samples: &[Sample], bounds: &Bounds, window: Window, role: Component) -> String {
    let mut reason = None;
    let mut seen = 0;
    for s in samples
        .iter()
        .filter(|s| Window::of(s.at, bounds) == Some(window))
    {
        seen += 1;
        if let Some(r) = s.missing.get(&role) {
            reason = Some(format!("{role}: {r}"));
        }
        for p in s.pods.iter().filter(|p| p.role == role) {
            if let Err(e) = &p.values {
                reason = Some(format!("{role}: scrape of {} failed: {e}", p.pod));
            }
        }
    }
    reason.unwrap_or_else(|| match seen {
        // Not the role's fault: say it once for the window.
        0 => format!(
            "no scrape in the {} window (shorter than --sample-interval)",
            window.as_str()
        ),
        _ => format!("{role}: fewer than two scrapes in this window"),
    })
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
