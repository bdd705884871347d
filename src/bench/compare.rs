//! `kubectl kapture bench compare` (pure): runs side by side, the first as the baseline.
use serde::Serialize;

use super::{millis, rate, Report};
use crate::output::Tabular;

/// One compared run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub label: String,
    /// The bench.json it was read from.
    pub file: String,
    pub started: String,
    pub kapture_version: String,
    pub cluster_version: Option<String>,
    pub node_count: Option<usize>,
    pub steps: usize,
    /// Acknowledged per second at the sustainable step.
    pub sustainable_per_second: Option<f64>,
    /// Against the baseline, in percent (+10.0: a tenth more).
    pub sustainable_change_percent: Option<f64>,
    /// The loadgen's p99 at the sustainable step.
    pub p99_seconds: Option<f64>,
    pub p99_change_percent: Option<f64>,
    /// The most acknowledged in any step, sustainable or not.
    pub peak_acknowledged_per_second: Option<f64>,
}

/// What `bench compare` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub runs: Vec<Run>,
    pub notes: Vec<String>,
}

/// `(now - then) / then` in percent; `None` without both or from zero.
fn change(then: Option<f64>, now: Option<f64>) -> Option<f64> {
    match (then, now) {
        (Some(a), Some(b)) if a != 0.0 => Some((b - a) / a * 100.0),
        _ => None,
    }
}

/// The runs side by side; `labelled` pairs each report with its label and file.
pub fn compare(labelled: &[(String, String, Report)]) -> Comparison {
    let figures = |report: &Report| {
        let best = report.sustainable.as_ref();
        (
            best.and_then(|s| s.acknowledged_per_second),
            best.and_then(|s| s.p99_seconds),
        )
    };
    let baseline = labelled.first().map(|(_, _, r)| figures(r));
    let runs = labelled
        .iter()
        .map(|(label, file, report)| {
            let (sustainable, p99) = figures(report);
            Run {
                label: label.clone(),
                file: file.clone(),
                started: report.started.clone(),
                kapture_version: report.kapture_version.clone(),
                cluster_version: report.cluster.version.clone(),
                node_count: report.cluster.node_count,
                steps: report.steps.len(),
                sustainable_per_second: sustainable,
                sustainable_change_percent: baseline.and_then(|b| change(b.0, sustainable)),
                p99_seconds: p99,
                p99_change_percent: baseline.and_then(|b| change(b.1, p99)),
                peak_acknowledged_per_second: report
                    .steps
                    .iter()
                    .filter_map(|s| s.acknowledged_per_second)
                    .reduce(f64::max),
            }
        })
        .collect::<Vec<_>>();
    let mut notes = Vec::new();
    let versions: Vec<&Option<String>> = runs.iter().map(|r| &r.cluster_version).collect();
    if versions.windows(2).any(|w| w[0] != w[1]) {
        notes.push("the runs measured different Kubernetes versions".to_string());
    }
    let rules: Vec<_> = labelled
        .iter()
        .map(|(_, _, r)| r.parameters.rules)
        .collect();
    if rules.windows(2).any(|w| w[0] != w[1]) {
        notes.push(
            "the runs used different rules (--slo-p99, --min-acknowledged): their sustainable \
             points answer different questions"
                .to_string(),
        );
    }
    Comparison { runs, notes }
}

/// Runs whose sustainable throughput fell more than `percent` below the baseline's (or that
/// have none where the baseline had one), one line each.
pub fn regressions(comparison: &Comparison, percent: f64) -> Vec<String> {
    let Some((baseline, later)) = comparison.runs.split_first() else {
        return Vec::new();
    };
    later
        .iter()
        .filter_map(
            |run| match (baseline.sustainable_per_second, run.sustainable_per_second) {
                (Some(_), None) => Some(format!(
                    "{}: no sustainable step, {} had {}/s",
                    run.label,
                    baseline.label,
                    rate(baseline.sustainable_per_second.unwrap_or_default())
                )),
                (Some(_), Some(_)) => run
                    .sustainable_change_percent
                    .filter(|c| *c < -percent)
                    .map(|c| {
                        format!(
                            "{}: sustainable throughput {c:+.1}% against {}",
                            run.label, baseline.label
                        )
                    }),
                (None, _) => None,
            },
        )
        .collect()
}

fn signed(change: Option<f64>) -> String {
    change.map_or_else(|| "-".to_string(), |c| format!("{c:+.1}%"))
}

impl Tabular for Comparison {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "RUN",
            "STARTED",
            "SUSTAINABLE/S",
            "CHANGE",
            "P99",
            "CHANGE",
            "PEAK ACKED/S",
            "STEPS",
            "KUBERNETES",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let dash = || "-".to_string();
        self.runs
            .iter()
            .map(|r| {
                vec![
                    r.label.clone(),
                    r.started.clone(),
                    r.sustainable_per_second.map_or_else(dash, rate),
                    signed(r.sustainable_change_percent),
                    r.p99_seconds.map_or_else(dash, millis),
                    signed(r.p99_change_percent),
                    r.peak_acknowledged_per_second.map_or_else(dash, rate),
                    r.steps.to_string(),
                    r.cluster_version.clone().unwrap_or_else(dash),
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(baseline) = self.runs.first() {
            lines.push(String::new());
            lines.push(format!(
                "changes are against {} (the first report); a p99 change below zero is faster",
                baseline.label
            ));
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines
    }
}
