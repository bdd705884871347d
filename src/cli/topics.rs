//! Arguments of `kubectl kapture topics`.
use clap::{Args, Subcommand};

/// How to reach the Kafka brokers.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Broker address(es) reachable from here, HOST:PORT[,HOST:PORT], whose brokers advertise
    /// reachable addresses. Without it, Kapture port-forwards to the broker pods through the API
    /// server.
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT",
        env = "KAPTURE_BOOTSTRAP_SERVER"
    )]
    pub bootstrap_server: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
kubectl kapture topics --bootstrap-server localhost:9092\n  \
kubectl kapture topics -o json --internal\n  \
kubectl kapture topics alter transactions --partitions 12 --dry-run")]
pub struct TopicsArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Include Kafka's internal topics (names starting with `__`).
    #[arg(long)]
    pub internal: bool,
    #[command(subcommand)]
    pub command: Option<TopicsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Grow a topic's partition count (Kafka cannot shrink one). New partitions go to the
    /// least loaded brokers.
    Alter(AlterArgs),
}

#[derive(Debug, Args)]
pub struct AlterArgs {
    /// The topic to change.
    pub name: String,
    /// The new partition count (at least the current one).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub partitions: u32,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}
