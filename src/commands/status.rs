//! `kubectl kapture status`: one row per component, optionally refreshed in place.
use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::status::StatusArgs;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::error::KaptureError;
use crate::k8s::{self, workloads};
use crate::output;
use crate::status::{self, StatusReport};

async fn current(cluster: &k8s::Cluster) -> Result<StatusReport> {
    let observed = workloads::observe(cluster).await?;
    Ok(status::report(
        &cluster.context,
        &cluster.namespace,
        &observed,
        jiff::Timestamp::now(),
    ))
}

fn absent(report: &StatusReport) -> anyhow::Error {
    KaptureError::NotFound(format!(
        "Kapture is not deployed in namespace {:?} (context {}): run kubectl kapture deploy",
        report.namespace, report.context
    ))
    .into()
}

pub async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let cluster = k8s::connect(global).await?;
    if !args.watch {
        let report = current(&cluster).await?;
        output::print(global.output, &report)?;
        return if report.summary.deployed {
            Ok(())
        } else {
            Err(absent(&report))
        };
    }
    let redraw = std::io::stdout().is_terminal() && global.output == OutputFormat::Table;
    let mut ticker = tokio::time::interval(args.interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let report = current(&cluster).await?;
        let text = output::render(global.output, &report)?;
        if redraw {
            // Clear the screen and home the cursor so the table refreshes in place.
            print!("\x1b[2J\x1b[H{text}");
        } else {
            println!("{text}");
        }
    }
}
