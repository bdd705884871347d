//! `kubectl kapture bench compare`: read bench reports, print them side by side, draw them
//! over each other. Decisions live in `crate::bench::compare`.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::write;
use crate::bench::compare::{self, Comparison};
use crate::bench::{html, plot, Report};
use crate::cli::bench::CompareArgs;
use crate::cli::GlobalArgs;
use crate::error::KaptureError;
use crate::output;

pub fn run(global: &GlobalArgs, args: &CompareArgs) -> Result<()> {
    args.validate()?;
    let labelled = args
        .reports
        .iter()
        .map(|path| read(path))
        .collect::<Result<Vec<_>>>()?;
    let comparison = compare::compare(&labelled);
    output::print(global.output, &comparison)?;
    let reports: Vec<Report> = labelled.into_iter().map(|(_, _, r)| r).collect();
    let throughput = || svg(&plot::compare_throughput(&comparison, &reports));
    if let Some(file) = &args.plot {
        std::fs::write(file, throughput()?)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
        write(dir, "throughput.svg", &throughput()?)?;
        write(
            dir,
            "latency.svg",
            &svg(&plot::compare_latency(&comparison, &reports))?,
        )?;
        write(dir, "index.html", &page(&comparison)?)?;
        eprintln!("comparison written to {}", dir.join("index.html").display());
    }
    match args.fail_on_regression {
        Some(percent) => match compare::regressions(&comparison, percent).as_slice() {
            [] => Ok(()),
            found => Err(anyhow!(
                "sustainable throughput fell more than {percent}%: {}",
                found.join("; ")
            )),
        },
        None => Ok(()),
    }
}

fn svg(chart: &plot::Chart) -> Result<String> {
    plot::svg(chart).map_err(|e| anyhow!(e))
}

fn page(comparison: &Comparison) -> Result<String> {
    html::comparison(comparison).map_err(|e| anyhow!(e))
}

/// A report with its label (its own, else the name of its directory or file) and its file.
fn read(path: &Path) -> Result<(String, String, Report)> {
    let file: PathBuf = if path.is_dir() {
        path.join("bench.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        KaptureError::InvalidInput(format!(
            "{} is not a report of kubectl kapture bench: {e}",
            file.display()
        ))
    })?;
    let label = report.label.clone().unwrap_or_else(|| {
        let named = match file.file_name().and_then(|n| n.to_str()) {
            Some("bench.json") => file.parent().and_then(Path::file_name),
            _ => file.file_stem(),
        };
        named.map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    Ok((label, file.display().to_string(), report))
}
