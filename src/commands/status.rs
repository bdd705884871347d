//! `kubectl kapture status`: one row per component, optionally refreshed in place.
use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::status::StatusArgs;
use crate::cli::GlobalArgs;
use crate::diagnose::Diagnosis;
use crate::error::KaptureError;
use crate::k8s::{self, workloads};
use crate::output::{self, OutputFormat, Tabular};
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
    let cluster = k8s::connect(&global.cluster()).await?;
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
            output::write_stdout(&format!("\x1b[2J\x1b[H{text}"))?;
        } else {
            output::write_stdout(&format!("{text}\n"))?;
        }
    }
}

/// kubectl-style age: 45s, 12m, 5h, 3d.
fn format_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

impl Tabular for StatusReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "COMPONENT",
            "KIND",
            "NAME",
            "READY",
            "RESTARTS",
            "AGE",
            "STATE",
            "REASON",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.components
            .iter()
            .map(|c| {
                vec![
                    c.component.clone(),
                    c.kind.clone(),
                    c.name.clone(),
                    format!("{}/{}", c.ready, c.desired),
                    c.restarts.to_string(),
                    format_age(c.age_seconds),
                    format!("{:?}", c.state),
                    c.problems
                        .first()
                        .map(|d| d.reason.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        let s = &self.summary;
        let mut lines = vec![format!(
            "\n{}/{} components ready, {} restarts (context {}, namespace {})",
            s.ready, s.components, s.restarts, self.context, self.namespace
        )];
        let problems: Vec<&Diagnosis> = self
            .components
            .iter()
            .filter(|c| !c.state.is_settled())
            .flat_map(|c| &c.problems)
            .collect();
        if !problems.is_empty() {
            lines.push("Not ready:".to_string());
        }
        for problem in problems {
            lines.push(format!("  {}", problem.line()));
            if let Some(hint) = &problem.hint {
                lines.push(format!("    {hint}"));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ComponentStatus, State, Summary};

    #[test]
    fn the_table_reads_like_kubectl() {
        let report = StatusReport {
            context: "kind-kind".into(),
            namespace: "kapture".into(),
            components: vec![ComponentStatus {
                component: "kafka-broker".into(),
                kind: "StatefulSet".into(),
                name: "kapture-kafka-broker".into(),
                desired: 3,
                ready: 1,
                restarts: 0,
                age_seconds: 7200,
                state: State::Stuck,
                problems: vec![Diagnosis {
                    pod: "kapture-kafka-broker-1".into(),
                    container: Some("kafka".into()),
                    reason: "ImagePullBackOff".into(),
                    message: "Back-off pulling image \"apache/kafka:4.1.1\"".into(),
                    stuck: true,
                    hint: Some("load the image".into()),
                }],
            }],
            summary: Summary {
                deployed: true,
                components: 2,
                ready: 1,
                restarts: 0,
            },
        };
        let table = output::render(OutputFormat::Table, &report).unwrap();
        assert!(
            table.contains("kafka-broker") && table.contains("1/3") && table.contains("2h"),
            "{table}"
        );
        assert!(table.contains("1/2 components ready"), "{table}");
        assert!(table.contains("Stuck  ImagePullBackOff"), "{table}");
        assert!(
            table.contains(
                "Not ready:\n  kapture-kafka-broker-1/kafka: ImagePullBackOff (Back-off pulling image \"apache/kafka:4.1.1\")\n    load the image\n"
            ),
            "{table}"
        );
        let yaml = output::render(OutputFormat::Yaml, &report).unwrap();
        assert!(yaml.contains("age_seconds: 7200"), "{yaml}");
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(format_age(45), "45s");
        assert_eq!(format_age(12 * 60), "12m");
        assert_eq!(format_age(5 * 3600), "5h");
        assert_eq!(format_age(3 * 86400), "3d");
    }
}
