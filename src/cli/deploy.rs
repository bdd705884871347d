//! Arguments of `kubectl kapture deploy`.
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::Args;

use super::{parse_duration, DryRun};
use crate::manifests::{Component, KafkaMode, PullPolicy, ResourcePreset, Storage};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
kubectl kapture deploy                                  # everything, 3 brokers, KRaft\n  \
kubectl kapture deploy --components kafka,redis --brokers 1 --controllers 1 --replication-factor 1\n  \
kubectl kapture deploy --dry-run=client -o yaml | kubectl apply --server-side -f -\n  \
kubectl kapture deploy --storage persistent --storage-class standard --wait --timeout 10m")]
pub struct DeployArgs {
    /// Components to deploy (comma-separated). `kafka` covers its controllers (or ZooKeeper) and brokers.
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = Component::all_selectable())]
    pub components: Vec<Component>,
    /// Kafka broker replicas.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub brokers: u16,
    /// KRaft controller quorum size (1 or 3); ZooKeeper ensemble size in zookeeper mode.
    #[arg(long, default_value = "3", value_parser = clap::builder::PossibleValuesParser::new(["1", "3"]).map(|v| v.parse::<u16>().expect("1 or 3")))]
    pub controllers: u16,
    /// Kafka metadata mode: kraft (Kafka 4) or zookeeper (Kafka 3.x estates).
    #[arg(long, value_enum, default_value_t = KafkaMode::Kraft)]
    pub kafka_mode: KafkaMode,
    /// Partitions of the `transactions` topic and the default for per-state topics.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub partitions: u32,
    /// Replication factor of Kapture's topics (at most --brokers).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub replication_factor: u16,
    /// ephemeral (emptyDir) or persistent (PersistentVolumeClaims).
    #[arg(long, value_enum, default_value_t = Storage::Ephemeral)]
    pub storage: Storage,
    /// StorageClass of the claims with --storage persistent (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,
    /// Size of each persistent volume.
    #[arg(long, default_value = "10Gi", value_name = "QUANTITY")]
    pub storage_size: String,
    /// Image of Kapture's own workload (kapture-worker).
    #[arg(long, default_value = crate::manifests::DEFAULT_WORKER_IMAGE, value_name = "IMAGE")]
    pub image: String,
    /// Pull policy for Kapture's own image.
    #[arg(long, value_enum, default_value_t = PullPolicy::IfNotPresent)]
    pub image_pull_policy: PullPolicy,
    /// Resource requests and limits: small fits a laptop cluster, large a real one.
    #[arg(long, value_enum, default_value_t = ResourcePreset::Small)]
    pub resources: ResourcePreset,
    /// Load generator replicas.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=100))]
    pub load_generators: u16,
    /// Transactions per second per load generator.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: u32,
    /// Show what would be applied instead of applying it.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: Option<DryRun>,
    /// Wait until every component is ready (default: on when stderr is a terminal).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub wait: Option<bool>,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Take over fields that another field manager owns instead of failing on the conflict.
    #[arg(long)]
    pub force_conflicts: bool,
}
