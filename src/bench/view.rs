//! The bench's tables: the plan of a dry run and the report of a run.
use serde::Serialize;

use super::{millis, percent, rate, Report, Step, Target};
use crate::output::Tabular;

/// What `bench --dry-run` prints: the steps, nothing changed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub context: String,
    pub namespace: String,
    pub before: Target,
    pub steps: Vec<Target>,
    /// Warm-up and measured time of all steps, rollouts not counted.
    pub at_least_seconds: f64,
}

impl Tabular for PlanView {
    fn header(&self) -> Vec<&'static str> {
        vec!["STEP", "GENERATORS", "RATE/GENERATOR", "OFFERED/S"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    (i + 1).to_string(),
                    t.generators.to_string(),
                    t.rate_per_generator.to_string(),
                    rate(t.offered()),
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        vec![
            String::new(),
            format!(
                "{} step(s), at least {:.0}s plus the rollouts; the load generator is now {} \
                 and is put back afterwards",
                self.steps.len(),
                self.at_least_seconds,
                self.before.label()
            ),
            "dry run: nothing was changed".to_string(),
        ]
    }
}

fn or_dash(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_string(), show)
}

/// `steady`, or the roles whose lag grew: `router +12400`.
fn lag_cell(step: &Step) -> String {
    let growing: Vec<String> = step
        .lag
        .iter()
        .filter(|l| l.grows)
        .map(|l| format!("{} +{:.0}", l.role, l.growth))
        .collect();
    match (growing.is_empty(), step.lag.is_empty()) {
        (_, true) => "-".to_string(),
        (true, false) => "steady".to_string(),
        (false, false) => growing.join(", "),
    }
}

impl Report {
    fn result_cell(&self, step: &Step) -> String {
        let chosen = self
            .sustainable
            .as_ref()
            .is_some_and(|s| s.step == step.step);
        match (step.sustainable, chosen) {
            (true, true) => "ok (sustainable)".to_string(),
            (true, false) => "ok".to_string(),
            (false, _) if !step.complete => "cut short".to_string(),
            (false, _) => "breaks".to_string(),
        }
    }

    /// The headline: the sustainable throughput, or why there is none.
    pub fn headline(&self) -> String {
        match &self.sustainable {
            Some(s) => format!(
                "sustainable throughput: {}/s acknowledged at step {} ({}, {}/s offered), p99 {}",
                or_dash(s.acknowledged_per_second, rate),
                s.step,
                Target {
                    generators: s.generators,
                    rate_per_generator: s.rate_per_generator
                }
                .label(),
                rate(s.offered_per_second),
                or_dash(s.p99_seconds, millis)
            ),
            None if self.steps.is_empty() => "no step was measured".to_string(),
            None => "no sustainable step: every measured step broke the rule".to_string(),
        }
    }

    /// The rule, in one line.
    pub fn rule_line(&self) -> String {
        let rules = &self.parameters.rules;
        format!(
            "rule: acknowledged >= {} of offered, p99 under {}, consumer lag not growing over the step",
            percent(rules.min_acknowledged),
            millis(rules.slo_p99_seconds)
        )
    }
}

/// `step 2/5  2 x 200/s = 400/s offered: 398.7/s acknowledged (99.7%), p99 23.1 ms, errors
/// 0.0%, lag steady: ok`.
pub fn step_line(step: &Step, of: usize) -> String {
    let target = Target {
        generators: step.generators,
        rate_per_generator: step.rate_per_generator,
    };
    let verdict = if step.sustainable {
        "ok".to_string()
    } else {
        format!("breaks: {}", step.reasons.join("; "))
    };
    format!(
        "step {}/{of}  {} = {}/s offered: {}/s acknowledged ({}), p99 {}, errors {}, lag {}: {verdict}",
        step.step,
        target.label(),
        rate(step.offered_per_second),
        or_dash(step.acknowledged_per_second, rate),
        or_dash(step.acknowledged_ratio, percent),
        or_dash(step.latency.p99_seconds, millis),
        or_dash(step.error_rate, percent),
        lag_cell(step),
    )
}

impl Tabular for Report {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "STEP",
            "LOAD",
            "OFFERED/S",
            "ATTEMPTED/S",
            "ACKED/S",
            "ACKED",
            "ERRORS",
            "P50",
            "P99",
            "LAG",
            "CPU",
            "RESULT",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .map(|s| {
                let cpu: f64 = s.resources.iter().map(|u| u.cpu_cores).sum();
                vec![
                    s.step.to_string(),
                    Target {
                        generators: s.generators,
                        rate_per_generator: s.rate_per_generator,
                    }
                    .label(),
                    rate(s.offered_per_second),
                    or_dash(s.attempted_per_second, rate),
                    or_dash(s.acknowledged_per_second, rate),
                    or_dash(s.acknowledged_ratio, percent),
                    or_dash(s.error_rate, percent),
                    or_dash(s.latency.p50_seconds, millis),
                    or_dash(s.latency.p99_seconds, millis),
                    lag_cell(s),
                    if s.resources.is_empty() {
                        "-".to_string()
                    } else {
                        format!("{cpu:.2}")
                    },
                    self.result_cell(s),
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        let mut lines = vec![String::new(), self.headline(), self.rule_line()];
        lines.push(format!("latency: {}", self.parameters.latency_source));
        if self.steps.iter().any(|s| !s.resources.is_empty()) {
            lines
                .push("cpu: cores of all Kapture pods, mean over the step (metrics.k8s.io)".into());
        }
        for step in self.steps.iter().filter(|s| !s.sustainable) {
            lines.push(format!("step {}: {}", step.step, step.reasons.join("; ")));
        }
        if let Some(why) = &self.stopped_early {
            lines.push(format!("stopped early: {why}"));
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines.push(if self.restored {
            format!("kapture-loadgen put back to {}", self.before.label())
        } else {
            format!(
                "warning: kapture-loadgen was NOT put back to {} (see the error below)",
                self.before.label()
            )
        });
        lines
    }
}
