//! A report's index.html (pure): the table, its notes and the charts beside it; no JavaScript
//! and relative image paths, so it opens from disk.
use minijinja::{context, Environment};
use serde::Serialize;

use super::compare::Comparison;
use super::{percent, rate, Report};
use crate::output::Tabular;

const TEMPLATE: &str = include_str!("index.html");

/// A chart in the same directory.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub file: String,
    pub alt: String,
}

/// A line of the run's details: `Kubernetes` `v1.20.2`.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub name: String,
    pub value: String,
}

fn detail(name: &str, value: impl Into<String>) -> Detail {
    Detail {
        name: name.to_string(),
        value: value.into(),
    }
}

/// A page of `summary` lines, `table` with its footer as notes, the images and the details.
fn page(
    title: &str,
    summary: &[String],
    table: &impl Tabular,
    images: &[Image],
    details: &[Detail],
) -> Result<String, String> {
    let notes: Vec<String> = table
        .footer()
        .into_iter()
        .filter(|line| !line.is_empty() && !summary.contains(line))
        .collect();
    let mut env = Environment::new();
    // The name ends in .html: minijinja escapes every value for HTML.
    env.add_template("index.html", TEMPLATE)
        .map_err(|e| e.to_string())?;
    env.get_template("index.html")
        .and_then(|t| {
            t.render(context! {
                title, summary, notes, images, details,
                header => table.header(),
                rows => table.rows(),
            })
        })
        .map_err(|e| format!("rendering index.html: {e}"))
}

/// The charts a bench report directory holds.
pub const BENCH_IMAGES: [(&str, &str); 3] = [
    (
        "throughput.svg",
        "offered and acknowledged throughput per step",
    ),
    ("latency.svg", "p50 and p99 request latency per step"),
    ("lag.svg", "consumer lag per step"),
];

/// The charts a comparison directory holds.
pub const COMPARE_IMAGES: [(&str, &str); 2] = [
    ("throughput.svg", "acknowledged throughput of each run"),
    ("latency.svg", "p99 request latency of each run"),
];

fn images(list: &[(&str, &str)]) -> Vec<Image> {
    list.iter()
        .map(|(file, alt)| Image {
            file: file.to_string(),
            alt: alt.to_string(),
        })
        .collect()
}

/// The index.html of a bench report.
pub fn bench(report: &Report) -> Result<String, String> {
    let p = &report.parameters;
    let cluster = &report.cluster;
    let nodes = match cluster.node_count {
        Some(count) => format!(
            "{count}: {} CPU, {} GiB allocatable",
            cluster
                .allocatable_cpu_cores
                .map_or_else(|| "?".into(), |c| format!("{c:.1}")),
            cluster
                .allocatable_memory_bytes
                .map_or_else(|| "?".into(), |m| format!("{:.1}", m / 1_073_741_824.0))
        ),
        None => "not listed".to_string(),
    };
    let details = [
        detail("label", report.label.clone().unwrap_or_default()),
        detail(
            "context / namespace",
            format!("{} / {}", report.context, report.namespace),
        ),
        detail(
            "started / finished",
            format!("{} / {}", report.started, report.finished),
        ),
        detail(
            "Kubernetes",
            cluster.version.clone().unwrap_or_else(|| "?".into()),
        ),
        detail("nodes", nodes),
        detail("Kapture", report.kapture_version.clone()),
        detail("image", report.image.clone().unwrap_or_default()),
        detail("before the bench", report.before.label()),
        detail(
            "steps",
            format!(
                "{} planned, {} measured; {:.0}s each after a {:.0}s warm-up, sampled every {:.1}s",
                report.planned.len(),
                report.steps.len(),
                p.step_duration_seconds,
                p.warm_up_seconds,
                p.sample_interval_seconds
            ),
        ),
        detail(
            "rule",
            format!(
                "acknowledged >= {}, p99 < {:.0} ms, lag steady",
                percent(p.rules.min_acknowledged),
                p.rules.slo_p99_seconds * 1000.0
            ),
        ),
    ];
    let title = match &report.label {
        Some(label) => format!("Kapture bench: {label}"),
        None => format!("Kapture bench: {} / {}", report.context, report.namespace),
    };
    page(
        &title,
        &[report.headline(), report.rule_line()],
        report,
        &images(&BENCH_IMAGES),
        &details,
    )
}

/// The index.html of a comparison.
pub fn comparison(comparison: &Comparison) -> Result<String, String> {
    let summary: Vec<String> = comparison
        .runs
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r.label,
                r.sustainable_per_second.map_or_else(
                    || "no sustainable step".to_string(),
                    |s| format!("sustainable {}/s", rate(s))
                )
            )
        })
        .collect();
    page(
        "Kapture bench comparison",
        &summary,
        comparison,
        &images(&COMPARE_IMAGES),
        &[],
    )
}
