//! Arguments of `kubectl kapture scale`.
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse_duration;
use super::topics::KafkaArgs;

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(subcommand)]
    pub target: ScaleTarget,
}

#[derive(Debug, Subcommand)]
pub enum ScaleTarget {
    /// Change the number of Kafka brokers and spread topic replicas over them.
    #[command(
        after_help = "Scaling up waits for the new brokers, grows partitions where asked, then moves \
replicas so every broker holds a fair share (a throttled reassignment; --no-rebalance skips it).\n\
Scaling down refuses while the leaving brokers hold replicas; --drain moves them away first.\n\
The plan is shown before anything changes; on a terminal you confirm it, elsewhere pass --yes.\n\n\
Examples:\n  \
kubectl kapture scale kafka --brokers 5 --bootstrap-server localhost:9092 --dry-run\n  \
kubectl kapture scale kafka --brokers 6 --partitions-per-broker 2 --yes\n  \
kubectl kapture scale kafka --brokers 3 --drain --throttle 20MiB"
    )]
    Kafka(ScaleKafkaArgs),
}

#[derive(Debug, Args)]
pub struct ScaleKafkaArgs {
    /// The number of brokers wanted.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub brokers: u16,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Grow topics to at least this many partitions per broker (never shrinks).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with = "partitions")]
    pub partitions_per_broker: Option<u32>,
    /// Grow the topics named by --topic to exactly this many partitions.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000), requires = "topic")]
    pub partitions: Option<u32>,
    /// Topics whose partitions grow (comma-separated or repeated); default with
    /// --partitions-per-broker: every non-internal topic.
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub topic: Vec<String>,
    /// Do not move existing replicas (new partitions are still placed on the least loaded brokers).
    #[arg(long)]
    pub no_rebalance: bool,
    /// When scaling down, first move every replica off the brokers that go away.
    #[arg(long)]
    pub drain: bool,
    /// Replication throttle while replicas move, bytes per second (e.g. 50MiB, 800KiB; 0: none).
    #[arg(long, default_value = "50MiB", value_parser = parse_rate, value_name = "RATE")]
    pub throttle: u64,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Bound of each wait (brokers Ready, registration, reassignment).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `1048576`, `800KiB`, `50MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a rate (examples: 50MiB, 800KiB, 1000000)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "k" | "K" => 1000,
        "MB" | "M" => 1000 * 1000,
        "GB" | "G" => 1000 * 1000 * 1000,
        "KiB" | "Ki" => 1 << 10,
        "MiB" | "Mi" => 1 << 20,
        "GiB" | "Gi" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("50MiB").unwrap(), 50 * 1024 * 1024);
        assert_eq!(parse_rate("800KiB").unwrap(), 800 * 1024);
        assert_eq!(parse_rate("2MB").unwrap(), 2_000_000);
        assert_eq!(parse_rate("0").unwrap(), 0);
        assert!(parse_rate("fast").unwrap_err().contains("examples"));
        assert!(parse_rate("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
    }

    #[test]
    fn scale_kafka_parses_with_globals_anywhere() {
        let cli = Cli::try_parse_from([
            "kubectl-kapture",
            "scale",
            "kafka",
            "--brokers",
            "5",
            "-n",
            "team",
            "--bootstrap-server",
            "b:9092",
            "--topic",
            "a,b",
            "--partitions",
            "12",
            "--yes",
        ])
        .unwrap();
        let Command::Scale(ScaleArgs {
            target: ScaleTarget::Kafka(args),
        }) = cli.command
        else {
            panic!("not scale")
        };
        assert_eq!(args.brokers, 5);
        assert_eq!(args.topic, vec!["a", "b"]);
        assert_eq!(args.partitions, Some(12));
        assert_eq!(args.kafka.bootstrap_server.as_deref(), Some("b:9092"));
        assert_eq!(args.throttle, 50 * 1024 * 1024);
        assert!(cli.global.yes);
        assert_eq!(cli.global.namespace, "team");
    }

    #[test]
    fn partitions_needs_a_topic_and_excludes_per_broker() {
        let base = ["kubectl-kapture", "scale", "kafka", "--brokers", "3"];
        let with = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra).copied());
        assert!(with(&["--partitions", "6"]).is_err());
        assert!(with(&[
            "--partitions",
            "6",
            "--topic",
            "t",
            "--partitions-per-broker",
            "2"
        ])
        .is_err());
        assert!(with(&["--partitions-per-broker", "2"]).is_ok());
        assert!(with(&[]).is_ok());
        assert!(
            Cli::try_parse_from(["kubectl-kapture", "scale", "kafka"]).is_err(),
            "--brokers is required"
        );
    }

    #[test]
    fn topics_alter_parses() {
        let cli = Cli::try_parse_from([
            "kubectl-kapture",
            "topics",
            "alter",
            "t",
            "--partitions",
            "8",
            "--bootstrap-server",
            "x:1",
        ])
        .unwrap();
        let Command::Topics(t) = cli.command else {
            panic!("not topics")
        };
        assert_eq!(t.kafka.bootstrap_server.as_deref(), Some("x:1"));
        let Some(crate::cli::topics::TopicsCommand::Alter(a)) = t.command else {
            panic!("not alter")
        };
        assert_eq!((a.name.as_str(), a.partitions), ("t", 8));
    }
}
