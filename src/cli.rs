//! Command-line grammar. Parsing and validation only: no I/O happens here.
//!
//! kubectl passes no flags to plugins, so the kubectl habits (`--kubeconfig`, `--context`,
//! `-n`, `-o`) are parsed here and accepted before or after the subcommand.
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::chaos::FailOn;
use crate::k8s::ClusterChoice;
use crate::manifests::{KafkaMode, PullPolicy, ResourcePreset, Storage, DEFAULT_NAMESPACE};
use crate::output::OutputFormat;

pub mod bench;
pub mod chaos;
pub mod delete;
pub mod deploy;
pub mod scale;
pub mod status;
pub mod topics;
pub mod verify;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-kapture",
    bin_name = "kubectl kapture",
    version,
    about = "Deploy a simulated enterprise data flow (microservices against Kafka) and break it on purpose",
    long_about = "Kapture deploys Kafka, Redis, Postgres and a retail-transaction workload into the \
current kubectl context, reports their state, runs pod chaos against them and scales Kafka.\n\n\
Every object it creates carries app.kubernetes.io/part-of=kapture, so `kubectl kapture delete` \
removes exactly what deploy created.",
    after_help = "Examples:\n  kubectl kapture deploy --brokers 3 --wait\n  kubectl kapture status -o json\n  \
kubectl kapture chaos --kill kafka --evict --dry-run\n  kubectl kapture verify --stop-load\n  \
kubectl kapture bench --steps 5 --report bench-out\n  kubectl kapture delete --yes"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace that holds the Kapture deployment.
    #[arg(short = 'n', long, global = true, default_value = DEFAULT_NAMESPACE, value_name = "NAME")]
    pub namespace: String,
    /// Output format of results (stdout); logs and progress go to stderr.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Assume yes at every prompt (required for destructive actions without a terminal).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// The cluster and namespace these flags choose.
    pub fn cluster(&self) -> ClusterChoice {
        ClusterChoice {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

/// Lets clap parse a domain enum by the names the domain gives its values, so the domain needs
/// no clap; `$help` is what `--help` says a value means.
macro_rules! domain_values {
    ($($type:ty => $help:expr;)*) => {$(
        impl ValueEnum for $type {
            fn value_variants<'a>() -> &'a [Self] {
                <$type>::ALL
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                let help: fn($type) -> Option<&'static str> = $help;
                let value = PossibleValue::new(self.name());
                Some(match help(*self) {
                    Some(text) => value.help(text),
                    None => value,
                })
            }
        }
    )*};
}

domain_values! {
    KafkaMode => |mode| Some(match mode {
        KafkaMode::Kraft => "Kafka 4 with a KRaft controller quorum",
        KafkaMode::Zookeeper => "Kafka 3.x with a ZooKeeper ensemble",
    });
    Storage => |_| None;
    PullPolicy => |_| None;
    ResourcePreset => |_| None;
    FailOn => |fail_on| Some(match fail_on {
        FailOn::NotRecovered => "A removed pod had no Ready replacement within --recovery-timeout",
        FailOn::Blocked => "An eviction was blocked by a PodDisruptionBudget",
        FailOn::Any => "Any of the above, or an action that was not found, forbidden or failed",
        FailOn::Never => "Always exit 0 once the run completes",
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Render locally and print what would be sent; nothing is written (deploy -o yaml|json
    /// reads the Postgres Secret to keep its password).
    Client,
    /// Send every request with dryRun=All: the API server validates and defaults, stores nothing.
    Server,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the embedded manifests (server-side apply) into the namespace.
    Deploy(deploy::DeployArgs),
    /// Show one row per component: replicas, restarts, age, state.
    Status(status::StatusArgs),
    /// Remove everything Kapture deployed in the namespace.
    Delete(delete::DeleteArgs),
    /// Kill or evict Kapture pods and measure how the system recovers.
    Chaos(chaos::ChaosArgs),
    /// Scale Kafka brokers and keep topic partitions balanced across them.
    Scale(scale::ScaleArgs),
    /// List Kafka topics with their partitions, replicas and leaders; alter partition counts.
    Topics(topics::TopicsArgs),
    /// Check that every acknowledged transaction landed exactly once (runs a verifier Job).
    Verify(verify::VerifyArgs),
    /// Ramp the load step by step and find the sustainable throughput; compare runs.
    Bench(bench::BenchArgs),
}

/// A duration flag such as `90s`, `5m` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 30s, 5m, 1h30m)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-kapture",
            "status",
            "-n",
            "team-a",
            "--context",
            "kind-kind",
            "-o",
            "json",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.global.namespace, "team-a");
        assert_eq!(cli.global.context.as_deref(), Some("kind-kind"));
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.verbose, 2);
    }

    #[test]
    fn namespace_defaults_to_kapture() {
        let cli = Cli::try_parse_from(["kubectl-kapture", "status"]).unwrap();
        assert_eq!(cli.global.namespace, DEFAULT_NAMESPACE);
    }

    #[test]
    fn usage_names_the_plugin_as_kubectl_sees_it() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("kubectl kapture"), "{help}");
    }

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert!(parse_duration("soon").unwrap_err().contains("examples"));
    }
}
