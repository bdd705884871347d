//! Arguments of `kubectl kapture chaos`. Validation only.
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, ValueEnum};

use crate::chaos::{self, BlastRadius, FailOn, Method};
use crate::cli::parse_duration;
use crate::component::Component;
use crate::error::KaptureError;

#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
kubectl kapture chaos --kill kafka --dry-run\n  \
kubectl kapture chaos --kill kafka --evict --count 1 --yes\n  \
kubectl kapture chaos --kill router,sink-postgres --percent 50 --interval 1m --rounds 5 --seed 7 --yes\n  \
kubectl kapture chaos --selector app=my-app --count 1 --dry-run")]
pub struct ChaosArgs {
    /// Components to disrupt (comma-separated or repeated); `kafka` means the brokers.
    #[arg(
        long,
        value_parser = PossibleValuesParser::new(kill_choices()),
        value_delimiter = ',',
        value_name = "COMPONENT",
        required_unless_present = "selector"
    )]
    kill: Vec<String>,
    /// Label selector: narrows --kill, or alone targets any pods it matches (shown in the plan).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Use the Eviction API (honours PodDisruptionBudgets) instead of deleting pods.
    #[arg(long)]
    pub evict: bool,
    /// Pods to disrupt per component per round [default: 1].
    #[arg(long, value_name = "N", conflicts_with = "percent",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Percent of each component's pods to disrupt per round, rounded down.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub percent: Option<u8>,
    /// Seconds the pod gets to terminate (default: the pod's own terminationGracePeriodSeconds).
    #[arg(long, value_name = "SECONDS", conflicts_with = "force")]
    pub grace_period: Option<u32>,
    /// Terminate at once: grace period 0.
    #[arg(long)]
    pub force: bool,
    /// Time between the starts of rounds (with --rounds or --duration).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// Keep starting rounds every --interval until this much time has passed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "rounds")]
    pub duration: Option<Duration>,
    /// Number of rounds, --interval apart [default: 1].
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Seed of the victim choice; the report prints the one used, to repeat a run.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Skip pods younger than this.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub minimum_age: Duration,
    /// Print the plan and act on nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait for each removed pod's replacement to be Ready and report the time it took.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub wait_recovery: bool,
    /// How long to wait for a replacement before counting it as not recovered.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub recovery_timeout: Duration,
    /// What makes the exit code non-zero (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "WHAT",
        default_value = "not-recovered"
    )]
    pub fail_on: Vec<FailOn>,
    /// Measure the workload's impact from its pods' metrics (auto: when workload pods exist).
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub impact: ImpactMode,
    /// Metrics sampled before the first action, as the baseline of the impact.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub baseline: Duration,
    /// Metrics sampled after the last recovery, to see the workload settle.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub settle: Duration,
    /// Time between two scrapes of the workload's metrics.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub sample_interval: Duration,
}

/// When to measure the workload impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImpactMode {
    /// When the namespace has workload pods.
    Auto,
    On,
    Off,
}

/// What `--kill` calls a component whose pods can be disrupted: `kafka` for the brokers.
fn kill_choice(component: Component) -> Option<&'static str> {
    match component {
        Component::KafkaBroker => Some("kafka"),
        c if c.is_long_running() => Some(c.name()),
        _ => None,
    }
}

const KILL_ALL: &str = "all";

fn kill_choices() -> Vec<PossibleValue> {
    Component::ALL
        .into_iter()
        .filter_map(kill_choice)
        .map(|name| match name {
            "kafka" => PossibleValue::new(name)
                .alias("kafka-broker")
                .help("The Kafka brokers (component kafka-broker)"),
            _ => PossibleValue::new(name),
        })
        .chain([PossibleValue::new(KILL_ALL).help("Every component above")])
        .collect()
}

impl ChaosArgs {
    /// The components `--kill` names, in the order given (`all` in apply order).
    pub fn components(&self) -> Vec<Component> {
        let mut components = Vec::new();
        for value in &self.kill {
            components.extend(Component::ALL.into_iter().filter(|c| {
                kill_choice(*c)
                    .is_some_and(|choice| value == KILL_ALL || value == choice || value == c.name())
            }));
        }
        components
    }

    /// Whether a part of Kafka is named on purpose (`--kill kafka`, not only through `all`).
    pub fn names_kafka(&self) -> bool {
        self.kill.iter().any(|value| {
            value != KILL_ALL
                && Component::ALL
                    .into_iter()
                    .filter(|c| c.is_kafka())
                    .any(|c| kill_choice(c) == Some(value.as_str()) || c.name() == value)
        })
    }

    pub fn method(&self) -> Method {
        if self.evict {
            Method::Evict
        } else {
            Method::Delete
        }
    }

    pub fn radius(&self) -> BlastRadius {
        match (self.count, self.percent) {
            (_, Some(p)) => BlastRadius::Percent(p),
            (Some(n), None) => BlastRadius::Count(n),
            (None, None) => BlastRadius::Count(1),
        }
    }

    /// Grace period to send: 0 with --force, else --grace-period, else the pod's own.
    pub fn grace_period(&self) -> Option<u32> {
        if self.force {
            Some(0)
        } else {
            self.grace_period
        }
    }

    /// Round start offsets; fails on flag combinations that make no schedule.
    pub fn schedule(&self) -> Result<Vec<Duration>, KaptureError> {
        chaos::schedule(self.rounds, self.duration, self.interval)
            .map_err(KaptureError::InvalidInput)
    }

    /// Checks what clap cannot express. Call before touching the cluster.
    pub fn validate(&self) -> Result<(), KaptureError> {
        self.schedule()?;
        if self.wait_recovery && self.recovery_timeout.is_zero() {
            return Err(KaptureError::InvalidInput(
                "--recovery-timeout must be longer than 0s (or pass --wait-recovery=false)".into(),
            ));
        }
        if self.impact != ImpactMode::Off && self.sample_interval.is_zero() {
            return Err(KaptureError::InvalidInput(
                "--sample-interval must be longer than 0s (or pass --impact off)".into(),
            ));
        }
        if self
            .selector
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(KaptureError::InvalidInput(
                "--selector must not be empty".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ChaosArgs, clap::Error> {
        let mut argv = vec!["kubectl-kapture", "chaos"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Chaos(a) => a,
            other => panic!("parsed {other:?}"),
        })
    }

    #[test]
    fn kafka_is_named_on_purpose_only_when_it_is_named() {
        assert!(parse(&["--kill", "kafka"]).unwrap().names_kafka());
        assert!(parse(&["--kill", "router,kafka-controller"])
            .unwrap()
            .names_kafka());
        assert!(!parse(&["--kill", "all"]).unwrap().names_kafka());
        assert!(!parse(&["--kill", "router,redis"]).unwrap().names_kafka());
    }

    #[test]
    fn defaults() {
        let a = parse(&["--kill", "kafka"]).unwrap();
        assert_eq!(a.components(), [Component::KafkaBroker]);
        assert_eq!(a.method(), Method::Delete);
        assert_eq!(a.radius(), BlastRadius::Count(1));
        assert_eq!(a.grace_period(), None);
        assert!(a.wait_recovery);
        assert_eq!(a.recovery_timeout, Duration::from_secs(300));
        assert_eq!(a.fail_on, vec![FailOn::NotRecovered]);
        assert_eq!(a.impact, ImpactMode::Auto);
        assert_eq!(a.baseline, Duration::from_secs(10));
        assert_eq!(a.settle, Duration::from_secs(10));
        assert_eq!(a.sample_interval, Duration::from_secs(2));
        assert_eq!(a.schedule().unwrap(), vec![Duration::ZERO]);
        a.validate().unwrap();
    }

    #[test]
    fn kill_or_selector_is_required() {
        assert!(parse(&[]).is_err());
        let a = parse(&["--selector", "app=x"]).unwrap();
        assert!(a.components().is_empty());
    }

    #[test]
    fn lists_and_values() {
        let a = parse(&[
            "--kill",
            "kafka,kafka-controller",
            "--kill",
            "sink-redis",
            "--evict",
            "--percent",
            "50",
            "--force",
            "--interval",
            "30s",
            "--rounds",
            "3",
            "--seed",
            "9",
            "--minimum-age",
            "2m",
            "--wait-recovery=false",
            "--fail-on",
            "blocked,not-recovered",
        ])
        .unwrap();
        assert_eq!(
            a.components(),
            [
                Component::KafkaBroker,
                Component::KafkaController,
                Component::SinkRedis
            ]
        );
        assert_eq!(a.method(), Method::Evict);
        assert_eq!(a.radius(), BlastRadius::Percent(50));
        assert_eq!(a.grace_period(), Some(0));
        assert_eq!(a.schedule().unwrap().len(), 3);
        assert_eq!(a.minimum_age, Duration::from_secs(120));
        assert!(!a.wait_recovery);
        assert_eq!(a.fail_on, vec![FailOn::Blocked, FailOn::NotRecovered]);
        assert!(
            parse(&["--kill", "kafka", "--wait-recovery"])
                .unwrap()
                .wait_recovery
        );
    }

    #[test]
    fn all_is_every_disruptable_component() {
        let a = parse(&["--kill", "kafka-broker,all,redis"]).unwrap();
        let groups = chaos::groups(&a.components(), None);
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names.len(), 12, "{names:?}");
        assert_eq!(names[0], "kafka-broker");
        assert!(names.contains(&"zookeeper") && names.contains(&"kafka-controller"));
        assert!(
            !names.contains(&"kafka-topics"),
            "a Job has no pods to disrupt"
        );
        assert!(parse(&["--kill", "kafka-topics"]).is_err());
    }

    #[test]
    fn contradictions_are_rejected() {
        assert!(parse(&["--kill", "kafka", "--count", "1", "--percent", "5"]).is_err());
        assert!(parse(&["--kill", "kafka", "--force", "--grace-period", "5"]).is_err());
        assert!(parse(&["--kill", "kafka", "--rounds", "2", "--duration", "1m"]).is_err());
        assert!(parse(&["--kill", "kafka", "--percent", "0"]).is_err());
        assert!(parse(&["--kill", "kafka", "--percent", "101"]).is_err());
        assert!(parse(&["--kill", "kafka", "--count", "0"]).is_err());
        assert!(parse(&["--kill", "nothing"]).is_err());
        let a = parse(&["--kill", "kafka", "--rounds", "3"]).unwrap();
        assert!(
            matches!(a.validate(), Err(KaptureError::InvalidInput(m)) if m.contains("--interval"))
        );
        let a = parse(&["--kill", "kafka", "--recovery-timeout", "0s"]).unwrap();
        assert!(a.validate().is_err());
        let a = parse(&["--kill", "kafka", "--sample-interval", "0s"]).unwrap();
        assert!(a.validate().is_err());
        let a = parse(&[
            "--kill",
            "kafka",
            "--sample-interval",
            "0s",
            "--impact",
            "off",
        ])
        .unwrap();
        a.validate().unwrap();
        assert!(parse(&["--kill", "kafka", "--impact", "sometimes"]).is_err());
        let a = parse(&["--kill", "kafka", "--selector", " "]).unwrap();
        assert!(a.validate().is_err());
    }
}
