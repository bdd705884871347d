//! `kubectl kapture bench` (pure): the step plan, per-step figures from recorded samples, the
//! sustainable-point rule and the report. Time is injected: samples carry their time in
//! seconds since the bench started, and the caller gives the timestamps.
//!
//! Counters are read as the chaos impact reads them ([`impact::pairs`]): per pod, from its
//! first scrape in the step, a restart counting from zero. Rates divide each pod's increase by
//! the time between its own first and last reads ([`Read::at`], the middle of each round
//! trip), not by the samples' start times: an answer through the API server's pod proxy can
//! take most of a second (a new connection to a new pod), which over a short step would move a
//! rate by several percent.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::component::Component;
use crate::impact::{self, Histogram, Increase, PodSample, Sample, Scrape};

pub mod compare;
pub mod html;
pub mod ownership;
pub mod plot;
pub mod resources;
mod view;

pub use resources::UsageSample;
pub use view::{step_line, PlanView};

/// The most load generators one step may ask for.
pub const MAX_GENERATORS: u32 = 1000;

/// Where the latency figures come from; the report says so.
pub const LATENCY_SOURCE: &str = "loadgen request latency (kapture_latency_seconds of the \
load generators: from sending a transaction to the order service's answer, which comes after \
Kafka acknowledged it; what a client sees), p50/p99 interpolated in buckets that double";

/// A consumer may fall behind by this many seconds of the offered load over a step before its
/// lag counts as growing: librdkafka reports lag every 5 s and the consumers work in batches,
/// so a steady flow still shows lag readings that jump by about that much.
const LAG_NOISE_SECONDS: f64 = 1.0;

/// What one step asks of the load generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub generators: u32,
    /// KAPTURE_RATE: transactions per second each generator attempts.
    pub rate_per_generator: u32,
}

impl Target {
    /// What the generators attempt together, per second.
    pub fn offered(self) -> f64 {
        f64::from(self.generators) * f64::from(self.rate_per_generator)
    }

    /// `2 x 200/s`.
    pub fn label(self) -> String {
        format!("{} x {}/s", self.generators, self.rate_per_generator)
    }
}

/// The ramp: the first step, what each further step adds, how many steps, and a cap on the
/// offered load of all generators together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ramp {
    pub first: Target,
    pub rate_step: u32,
    pub generators_step: u32,
    pub steps: u32,
    pub max_rate: Option<u32>,
}

/// The steps of a ramp, in order. Steps offering more than `max_rate` are left out; a first
/// step above it, or a step needing more than [`MAX_GENERATORS`], is refused.
pub fn plan(ramp: &Ramp) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for i in 0..ramp.steps {
        let grow = |first: u32, step: u32| {
            step.checked_mul(i)
                .and_then(|added| first.checked_add(added))
        };
        let (Some(generators), Some(rate)) = (
            grow(ramp.first.generators, ramp.generators_step),
            grow(ramp.first.rate_per_generator, ramp.rate_step),
        ) else {
            return Err(format!(
                "step {} asks for more than {} generators or transactions/s per generator",
                i + 1,
                u32::MAX
            ));
        };
        let target = Target {
            generators,
            rate_per_generator: rate,
        };
        if let Some(max) = ramp
            .max_rate
            .filter(|max| target.offered() > f64::from(*max))
        {
            if i == 0 {
                return Err(format!(
                    "the first step ({}) offers {}/s, more than --max-rate {max}",
                    target.label(),
                    target.offered(),
                ));
            }
            break;
        }
        if generators > MAX_GENERATORS {
            return Err(format!(
                "step {} needs {generators} load generators, more than {MAX_GENERATORS}: \
                 use a smaller --generators-step or fewer --steps",
                i + 1
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Thresholds of the sustainable-point rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rules {
    /// Least share of the offered load that must be acknowledged (0.98).
    pub min_acknowledged: f64,
    /// The loadgen's p99 request latency must stay under this, in seconds.
    pub slo_p99_seconds: f64,
}

impl Rules {
    /// A step breaks clearly when it misses by twice the margin: twice the allowed loss
    /// (acknowledged under 96% at the default 98%), or a p99 of twice the SLO.
    fn clearly_broken(&self, ratio: Option<f64>, p99: Option<f64>) -> bool {
        let loss = 1.0 - self.min_acknowledged;
        ratio.is_some_and(|r| r < 1.0 - 2.0 * loss)
            || p99.is_some_and(|p| p >= 2.0 * self.slo_p99_seconds)
    }
}

/// A latency distribution's summary over a step, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    /// Observations the quantiles come from.
    pub observations: f64,
}

impl Latency {
    fn of(histogram: &Histogram) -> Latency {
        Latency {
            p50_seconds: histogram.quantile(0.5),
            p99_seconds: histogram.quantile(0.99),
            observations: histogram.total(),
        }
    }
}

/// A consumer role's lag (messages not yet consumed) over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lag {
    pub role: String,
    pub first: f64,
    pub last: f64,
    pub peak: f64,
    /// The rise of the least-squares line through the readings over the step.
    pub growth: f64,
    /// The most it may rise and still count as steady.
    pub allowed: f64,
    pub grows: bool,
}

/// CPU and memory of one component's pods over a step (from metrics.k8s.io).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub component: String,
    /// Mean over the step's readings of the pods' summed CPU.
    pub cpu_cores: f64,
    /// Highest reading of the pods' summed memory (working set).
    pub memory_bytes: f64,
}

/// A pod's scrape and when it was read: the middle of its round trip, in seconds since the
/// bench started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Read {
    pub at: f64,
    pub scrape: Scrape,
}

/// One pod's scrape as bench.json keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    pub role: String,
    pub pod: String,
    /// When it was read: the middle of its round trip (seconds since the bench started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<ValuesRecord>,
    /// Why the scrape failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The counters and the latency histogram of one scrape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuesRecord {
    pub produced: f64,
    pub consumed: f64,
    pub failed: f64,
    pub rejected: f64,
    pub lag: Option<f64>,
    /// Cumulative (upper bound in seconds, count) of the finite buckets.
    pub latency_buckets: Vec<(f64, f64)>,
    /// Observations in all (the +Inf bucket, which JSON cannot write as a bound).
    pub latency_count: f64,
}

/// One sample of every workload pod, as bench.json keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleRecord {
    /// When the sample started, in seconds since the bench started.
    pub at: f64,
    pub pods: Vec<PodRecord>,
    /// Roles that had nothing to scrape, with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub missing: BTreeMap<String, String>,
}

impl From<&Sample<Read>> for SampleRecord {
    fn from(sample: &Sample<Read>) -> Self {
        let record = |p: &PodSample<Read>| {
            let (read_at, values, error) = match &p.values {
                Ok(Read { at, scrape: s }) => (
                    Some(*at),
                    Some(ValuesRecord {
                        produced: s.values.produced,
                        consumed: s.values.consumed,
                        failed: s.values.failed,
                        rejected: s.values.rejected,
                        lag: s.values.lag,
                        latency_buckets: s
                            .latency
                            .buckets
                            .iter()
                            .copied()
                            .filter(|(bound, _)| bound.is_finite())
                            .collect(),
                        latency_count: s.latency.total(),
                    }),
                    None,
                ),
                Err(e) => (None, None, Some(e.clone())),
            };
            PodRecord {
                role: p.role.name().to_string(),
                pod: p.pod.clone(),
                read_at,
                values,
                error,
            }
        };
        let pods = sample.pods.iter().map(record).collect();
        SampleRecord {
            at: sample.at,
            pods,
            missing: sample
                .missing
                .iter()
                .map(|(role, why)| (role.name().to_string(), why.clone()))
                .collect(),
        }
    }
}

/// One measured step: what it offered, what the flow made of it, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// 1-based, in plan order.
    pub step: u32,
    pub generators: u32,
    pub rate_per_generator: u32,
    /// Target rate x generators.
    pub offered_per_second: f64,
    /// Measured time: first to last sample.
    pub seconds: f64,
    /// False when Ctrl-C cut the step short.
    pub complete: bool,
    /// What the generators attempted (answered or failed), from their counters.
    pub attempted_per_second: Option<f64>,
    /// Transactions the order service acknowledged to the generators.
    pub acknowledged_per_second: Option<f64>,
    /// Acknowledged / offered.
    pub acknowledged_ratio: Option<f64>,
    /// Failed / attempted, as the generators saw it.
    pub error_rate: Option<f64>,
    /// What the order service had acknowledged by Kafka (its own counter).
    pub order_service_acknowledged_per_second: Option<f64>,
    /// (failed + rejected) / received of the order service.
    pub order_service_error_rate: Option<f64>,
    /// The loadgen's request latency (see [`LATENCY_SOURCE`]).
    pub latency: Latency,
    /// The order service's Kafka produce latency.
    pub order_service_latency: Latency,
    pub lag: Vec<Lag>,
    /// Empty when the cluster does not serve metrics.k8s.io.
    pub resources: Vec<Usage>,
    pub sustainable: bool,
    pub clearly_broken: bool,
    /// Why the step is not sustainable.
    pub reasons: Vec<String>,
    pub samples: Vec<SampleRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_samples: Vec<UsageSample>,
}

/// What [`measure`] needs of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    pub step: u32,
    pub target: Target,
    /// The step's samples, its baseline first.
    pub samples: &'a [Sample<Read>],
    /// Its CPU/memory readings, when the cluster serves them.
    pub usage: &'a [UsageSample],
    pub complete: bool,
}

/// What one pod counted over a step, and the time it took.
#[derive(Debug, Default)]
struct PodTotals {
    counters: Increase,
    /// Between its first and last answers.
    seconds: f64,
    /// Born during the step: its first answer counted from zero.
    born: bool,
    last_at: f64,
}

/// Counters and latency of one role over a step, and its rates: each pod's increase over its
/// own time, summed.
#[derive(Debug, Default)]
struct RoleTotals {
    counters: Increase,
    latency: Histogram,
    produced_per_second: f64,
    failed_per_second: f64,
}

/// Every role's totals. A pod born during the step has no first answer to start from: its
/// time runs from the step's start.
fn role_totals(samples: &[Sample<Read>]) -> BTreeMap<Component, RoleTotals> {
    let start = samples.first().map_or(0.0, |s| s.at);
    let mut roles: BTreeMap<Component, RoleTotals> = BTreeMap::new();
    let mut pods: BTreeMap<(Component, &str), PodTotals> = BTreeMap::new();
    let zero = Read::default();
    impact::pairs(
        samples,
        |_| Some(()),
        |(), role, pod, before, now: &Read| {
            let earlier = before.unwrap_or(&zero);
            let (was, is) = (&earlier.scrape, &now.scrape);
            let totals = roles.entry(role).or_default();
            totals.counters.add(&was.values, &is.values);
            totals.latency.add(&is.latency.increase_since(&was.latency));
            let pod = pods.entry((role, pod)).or_default();
            pod.counters.add(&was.values, &is.values);
            match before {
                Some(before) => pod.seconds += now.at - before.at,
                None => pod.born = true,
            }
            pod.last_at = now.at;
        },
    );
    for ((role, _), pod) in pods {
        let seconds = if pod.born {
            pod.last_at - start
        } else {
            pod.seconds
        };
        if seconds > 0.0 {
            let totals = roles.entry(role).or_default();
            totals.produced_per_second += pod.counters.produced / seconds;
            totals.failed_per_second += pod.counters.failed / seconds;
        }
    }
    roles
}

/// The figures and verdict of one step from its samples.
pub fn measure(input: StepInput<'_>, rules: &Rules) -> Step {
    let samples = input.samples;
    let seconds = match (samples.first(), samples.last()) {
        (Some(first), Some(last)) => last.at - first.at,
        _ => 0.0,
    };
    let totals = role_totals(samples);
    let observed = |role: Component| {
        totals
            .get(&role)
            .filter(|t| t.counters.observed && seconds > 0.0)
    };
    let offered = input.target.offered();

    let loadgen = observed(Component::Loadgen);
    let attempts = loadgen.map(|t| t.counters.produced + t.counters.failed);
    let acknowledged = loadgen.map(|t| t.produced_per_second);
    let order = observed(Component::OrderService);
    let mut step = Step {
        step: input.step,
        generators: input.target.generators,
        rate_per_generator: input.target.rate_per_generator,
        offered_per_second: offered,
        seconds,
        complete: input.complete,
        attempted_per_second: loadgen.map(|t| t.produced_per_second + t.failed_per_second),
        acknowledged_per_second: acknowledged,
        acknowledged_ratio: acknowledged.filter(|_| offered > 0.0).map(|a| a / offered),
        error_rate: loadgen
            .zip(attempts)
            .filter(|(_, n)| *n > 0.0)
            .map(|(t, n)| t.counters.failed / n),
        order_service_acknowledged_per_second: order.map(|t| t.produced_per_second),
        order_service_error_rate: order
            .filter(|t| t.counters.consumed > 0.0)
            .map(|t| (t.counters.failed + t.counters.rejected) / t.counters.consumed),
        latency: loadgen.map_or_else(Latency::default, |t| Latency::of(&t.latency)),
        order_service_latency: order.map_or_else(Latency::default, |t| Latency::of(&t.latency)),
        lag: Vec::new(),
        resources: resources::summarize(input.usage),
        sustainable: false,
        clearly_broken: false,
        reasons: Vec::new(),
        samples: samples.iter().map(SampleRecord::from).collect(),
        usage_samples: input.usage.to_vec(),
    };
    let mut lag_unknown = Vec::new();
    for role in Component::ALL.into_iter().filter(|c| c.consumes_kafka()) {
        if !samples
            .iter()
            .any(|s| s.pods.iter().any(|p| p.role == role))
        {
            continue; // not deployed, or never Ready: its figures are not the step's to judge
        }
        match lag(role, samples, offered, seconds, rules) {
            Some(lag) => step.lag.push(lag),
            None => lag_unknown.push(role),
        }
    }
    step.reasons = judge(&step, samples, &lag_unknown, rules);
    step.sustainable = step.reasons.is_empty();
    step.clearly_broken = rules.clearly_broken(step.acknowledged_ratio, step.latency.p99_seconds);
    step
}

/// A role's lag readings over the step (summed over its pods), and whether they grow.
fn lag(
    role: Component,
    samples: &[Sample<Read>],
    offered: f64,
    seconds: f64,
    rules: &Rules,
) -> Option<Lag> {
    let readings: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| {
            let reads: Vec<(f64, f64)> = s
                .pods
                .iter()
                .filter(|p| p.role == role)
                .filter_map(|p| {
                    let read = p.values.as_ref().ok()?;
                    Some((read.at, read.scrape.values.lag?))
                })
                .collect();
            let n = reads.len() as f64;
            (!reads.is_empty()).then(|| {
                let at = reads.iter().map(|r| r.0).sum::<f64>() / n;
                (at, reads.iter().map(|r| r.1).sum())
            })
        })
        .collect();
    let (first, last) = (readings.first()?.1, readings.last()?.1);
    if readings.len() < 2 {
        return None;
    }
    let growth = slope(&readings) * seconds;
    let allowed =
        (offered * LAG_NOISE_SECONDS).max((1.0 - rules.min_acknowledged) * offered * seconds);
    Some(Lag {
        role: role.name().to_string(),
        first,
        last,
        peak: readings.iter().map(|r| r.1).fold(f64::MIN, f64::max),
        growth,
        allowed,
        grows: growth > allowed,
    })
}

/// The least-squares slope of `points` (per second); 0 when they share one time.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if spread == 0.0 {
        return 0.0;
    }
    points
        .iter()
        .map(|p| (p.0 - mean_x) * (p.1 - mean_y))
        .sum::<f64>()
        / spread
}

/// Why a step is not sustainable; empty when it is.
fn judge(
    step: &Step,
    samples: &[Sample<Read>],
    lag_unknown: &[Component],
    rules: &Rules,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if !step.complete {
        reasons.push(format!("cut short by Ctrl-C after {:.0}s", step.seconds));
    }
    let why_no_loadgen = || {
        impact::why_missing(samples, Component::Loadgen)
            .unwrap_or_else(|| "loadgen: fewer than two scrapes in this step".to_string())
    };
    match step.acknowledged_ratio {
        Some(ratio) if ratio < rules.min_acknowledged => reasons.push(format!(
            "acknowledged {} of the {}/s offered (needs {})",
            percent(ratio),
            rate(step.offered_per_second),
            percent(rules.min_acknowledged)
        )),
        Some(_) => {}
        None => reasons.push(format!("no acknowledged figure: {}", why_no_loadgen())),
    }
    match step.latency.p99_seconds {
        Some(p99) if p99 >= rules.slo_p99_seconds => reasons.push(format!(
            "p99 {} is not under the SLO {}",
            millis(p99),
            millis(rules.slo_p99_seconds)
        )),
        Some(_) => {}
        None if step.acknowledged_ratio.is_some() => {
            reasons.push("no latency figure: the generators got no answer".to_string())
        }
        None => {}
    }
    for lag in step.lag.iter().filter(|l| l.grows) {
        reasons.push(format!(
            "{} lag grew by {:.0} messages (steady allows {:.0})",
            lag.role, lag.growth, lag.allowed
        ));
    }
    for role in lag_unknown {
        reasons.push(format!("{role}: fewer than two lag readings"));
    }
    reasons
}

/// `98.0%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// `12.5` below 100, `1996` above.
pub fn rate(per_second: f64) -> String {
    if per_second.abs() < 100.0 {
        format!("{per_second:.1}")
    } else {
        format!("{per_second:.0}")
    }
}

/// `41.2 ms`.
pub fn millis(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

/// The step the bench found sustainable, in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sustainable {
    pub step: u32,
    pub generators: u32,
    pub rate_per_generator: u32,
    pub offered_per_second: f64,
    pub acknowledged_per_second: Option<f64>,
    pub p99_seconds: Option<f64>,
}

/// The sustainable step: of the steps that pass the rule, the one offering the most (the
/// later of equals).
pub fn sustainable(steps: &[Step]) -> Option<Sustainable> {
    steps
        .iter()
        .filter(|s| s.sustainable)
        .max_by(|a, b| a.offered_per_second.total_cmp(&b.offered_per_second))
        .map(|s| Sustainable {
            step: s.step,
            generators: s.generators,
            rate_per_generator: s.rate_per_generator,
            offered_per_second: s.offered_per_second,
            acknowledged_per_second: s.acknowledged_per_second,
            p99_seconds: s.latency.p99_seconds,
        })
}

/// A node of the cluster and what it can give pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub name: String,
    pub kubelet_version: String,
    pub allocatable_cpu_cores: Option<f64>,
    pub allocatable_memory_bytes: Option<f64>,
}

/// What the bench ran against.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// The API server's gitVersion.
    pub version: Option<String>,
    /// `None` when the nodes could not be listed (see the report's notes).
    pub node_count: Option<usize>,
    pub nodes: Vec<Node>,
    pub allocatable_cpu_cores: Option<f64>,
    pub allocatable_memory_bytes: Option<f64>,
}

impl ClusterInfo {
    /// The cluster from its version and nodes (`None`: they could not be listed).
    pub fn new(version: Option<String>, nodes: Option<Vec<Node>>) -> ClusterInfo {
        let total = |pick: fn(&Node) -> Option<f64>, nodes: &[Node]| -> Option<f64> {
            nodes.iter().map(pick).sum()
        };
        match nodes {
            Some(nodes) => ClusterInfo {
                version,
                node_count: Some(nodes.len()),
                allocatable_cpu_cores: total(|n| n.allocatable_cpu_cores, &nodes),
                allocatable_memory_bytes: total(|n| n.allocatable_memory_bytes, &nodes),
                nodes,
            },
            None => ClusterInfo {
                version,
                ..ClusterInfo::default()
            },
        }
    }
}

/// The run's settings, as given or defaulted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    pub ramp: Ramp,
    pub rules: Rules,
    pub step_duration_seconds: f64,
    pub warm_up_seconds: f64,
    pub sample_interval_seconds: f64,
    pub rollout_timeout_seconds: f64,
    pub stop_on_break: bool,
    pub latency_source: String,
}

/// What `kubectl kapture bench` reports, and bench.json holds. Field names are stable API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub kapture_version: String,
    pub label: Option<String>,
    pub context: String,
    pub namespace: String,
    /// RFC 3339.
    pub started: String,
    pub finished: String,
    pub cluster: ClusterInfo,
    /// The worker image of the load generator.
    pub image: Option<String>,
    pub parameters: Parameters,
    /// The load generator as the bench found it, and left it.
    pub before: Target,
    pub planned: Vec<Target>,
    pub steps: Vec<Step>,
    pub sustainable: Option<Sustainable>,
    pub interrupted: bool,
    /// Why the ramp ended before its last step (`--stop-on-break`).
    pub stopped_early: Option<String>,
    /// Whether the load generator was put back (replicas, KAPTURE_RATE, field ownership).
    pub restored: bool,
    pub notes: Vec<String>,
}

impl Report {
    /// Decides the sustainable point once the steps are in, and notes what a reader should
    /// know about it.
    pub fn conclude(&mut self) {
        self.sustainable = sustainable(&self.steps);
        if let Some(best) = &self.sustainable {
            let below: Vec<String> = self
                .steps
                .iter()
                .filter(|s| !s.sustainable && s.complete)
                .filter(|s| s.offered_per_second < best.offered_per_second)
                .map(|s| s.step.to_string())
                .collect();
            if !below.is_empty() {
                self.notes.push(format!(
                    "step(s) {} below the sustainable step {} did not pass: the cluster is noisy \
                     at these loads; longer --step-duration steps measure it better",
                    below.join(", "),
                    best.step
                ));
            }
        }
        let measured = self.steps.len();
        if self.interrupted && measured < self.planned.len() {
            self.notes.push(format!(
                "interrupted by Ctrl-C: {measured} of {} steps measured",
                self.planned.len()
            ));
        }
    }
}

#[cfg(test)]
mod tests;
