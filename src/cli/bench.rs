//! Arguments of `kubectl kapture bench` and `bench compare`. Validation only.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse_duration;
use crate::bench::{Ramp, Rules, Target, MAX_GENERATORS};
use crate::error::KaptureError;

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Ramps the load on a deployed Kapture and finds the sustainable throughput: the \
highest step where at least 98% of the offered load was acknowledged, the load generators' p99 \
request latency stayed under --slo-p99 and the consumer lag of the router and the sinks did not \
grow.\n\n\
Each step sets Deployment kapture-loadgen: the number of generators through the scale \
subresource, their rate through KAPTURE_RATE (which rolls their pods). The bench waits for the \
rollout and a warm-up, then samples every workload pod's metrics through the API server's pod \
proxy, and CPU/memory from metrics.k8s.io where the cluster serves it. Afterwards, also on \
errors and Ctrl-C, it puts the load generator back as it found it, field ownership included: \
the next `kubectl kapture deploy` neither conflicts nor changes anything.\n\n\
Examples:\n  \
kubectl kapture bench --dry-run\n  \
kubectl kapture bench --rate 100 --steps 5 --step-duration 1m\n  \
kubectl kapture bench --rate 500 --load-generators 1 --generators-step 1 --steps 4\n  \
kubectl kapture bench --rate 200 --max-rate 5000 --steps 20 --stop-on-break --report monday\n  \
kubectl kapture bench -o json | jq '.sustainable'\n  \
kubectl kapture bench compare monday tuesday --report compared\n\n\
Exit code: 0 when the bench ran to its end (the verdicts are in the report), 1 on errors or \
Ctrl-C (the report of what was measured is printed first), 2 on invalid flags."
)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Compare bench reports: sustainable throughput and p99 side by side, with the change.
    Compare(CompareArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Transactions per second per load generator at the first step [default: the deployed
    /// KAPTURE_RATE].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: Option<u32>,
    /// Added to the rate per generator at each further step [default: --rate, so the steps
    /// offer 1x, 2x, 3x...; 0 when --generators-step is given].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_step: Option<u32>,
    /// Load generators at the first step [default: the deployed replicas, at least 1].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_GENERATORS)))]
    pub load_generators: Option<u32>,
    /// Load generators added at each further step.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_GENERATORS)))]
    pub generators_step: u32,
    /// Number of steps.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub steps: u32,
    /// Leave out the steps that would offer more than N transactions per second in all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rate: Option<u32>,
    /// Measured time of each step (after its rollout and warm-up).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub step_duration: Duration,
    /// Time between a step's rollout and its measurement, not counted.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub warm_up: Duration,
    /// Time between two scrapes of the workload's metrics.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub sample_interval: Duration,
    /// Bound on each wait for the load generator's rollout (also when putting it back).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "3m")]
    pub rollout_timeout: Duration,
    /// The p99 request latency a sustainable step stays under.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "250ms")]
    pub slo_p99: Duration,
    /// The share of the offered load a sustainable step gets acknowledged, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 98.0)]
    pub min_acknowledged: f64,
    /// Stop after a step that clearly breaks: acknowledged under twice the allowed loss (96%
    /// at the default) or a p99 of twice the SLO.
    #[arg(long)]
    pub stop_on_break: bool,
    /// Write bench.json (every sample), throughput.svg, latency.svg, lag.svg and index.html
    /// into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// A name for this run in its report and in `bench compare`.
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Print the steps and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each REPORT is a bench.json, or a directory holding one (what \
`bench --report DIR` wrote). The first is the baseline: the changes are against it.\n\n\
Examples:\n  \
kubectl kapture bench compare monday tuesday\n  \
kubectl kapture bench compare a/bench.json b/bench.json --plot throughput.svg\n  \
kubectl kapture bench compare baseline candidate --fail-on-regression 10"
)]
pub struct CompareArgs {
    /// The reports to compare, the baseline first.
    #[arg(value_name = "REPORT", num_args = 2.., required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the comparison as throughput.svg, latency.svg and index.html into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Write the overlaid throughput chart to this SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Exit 1 when a later run's sustainable throughput is more than PERCENT below the
    /// baseline's (or it has none).
    #[arg(long, value_name = "PERCENT")]
    pub fail_on_regression: Option<f64>,
}

impl RunArgs {
    /// The ramp, starting from the flags or, where they say nothing, from the load generator
    /// as it is deployed.
    pub fn ramp(&self, deployed: Target) -> Ramp {
        let first = Target {
            generators: self.load_generators.unwrap_or(deployed.generators.max(1)),
            rate_per_generator: self.rate.unwrap_or(deployed.rate_per_generator.max(1)),
        };
        let rate_step = self.rate_step.unwrap_or(if self.generators_step > 0 {
            0
        } else {
            first.rate_per_generator
        });
        Ramp {
            first,
            rate_step,
            generators_step: self.generators_step,
            steps: self.steps,
            max_rate: self.max_rate,
        }
    }

    pub fn rules(&self) -> Rules {
        Rules {
            min_acknowledged: self.min_acknowledged / 100.0,
            slo_p99_seconds: self.slo_p99.as_secs_f64(),
        }
    }

    /// Checks what clap cannot express. Call before touching the cluster.
    pub fn validate(&self) -> Result<(), KaptureError> {
        let invalid = |m: &str| Err(KaptureError::InvalidInput(m.to_string()));
        if self.sample_interval.is_zero() {
            return invalid("--sample-interval must be longer than 0s");
        }
        if self.step_duration < self.sample_interval {
            return invalid(
                "--step-duration must be at least one --sample-interval: a step needs two samples",
            );
        }
        if self.rollout_timeout.is_zero() {
            return invalid("--rollout-timeout must be longer than 0s");
        }
        if self.slo_p99.is_zero() {
            return invalid("--slo-p99 must be longer than 0s");
        }
        if !(self.min_acknowledged > 0.0 && self.min_acknowledged <= 100.0) {
            return invalid("--min-acknowledged is a percentage: more than 0, at most 100");
        }
        if self.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
            return invalid("--label must not be empty");
        }
        Ok(())
    }
}

impl CompareArgs {
    pub fn validate(&self) -> Result<(), KaptureError> {
        match self.fail_on_regression {
            Some(p) if !(0.0..=100.0).contains(&p) => Err(KaptureError::InvalidInput(
                "--fail-on-regression is a percentage from 0 to 100".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let mut argv = vec!["kubectl-kapture", "bench"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Bench(a) => a,
            other => panic!("parsed {other:?}"),
        })
    }

    const DEPLOYED: Target = Target {
        generators: 2,
        rate_per_generator: 150,
    };

    #[test]
    fn defaults_start_from_the_deployment_and_double_the_rate_each_step() {
        let a = parse(&[]).unwrap();
        assert!(a.command.is_none());
        let run = a.run;
        run.validate().unwrap();
        let ramp = run.ramp(DEPLOYED);
        assert_eq!(ramp.first, DEPLOYED);
        assert_eq!(
            (ramp.rate_step, ramp.generators_step, ramp.steps),
            (150, 0, 5)
        );
        assert_eq!(run.step_duration, Duration::from_secs(60));
        assert_eq!(run.warm_up, Duration::from_secs(10));
        assert_eq!(run.sample_interval, Duration::from_secs(2));
        assert_eq!(
            run.rules(),
            Rules {
                min_acknowledged: 0.98,
                slo_p99_seconds: 0.25
            }
        );
        // A load generator scaled to 0 (after verify --stop-load) starts at one.
        let stopped = Target {
            generators: 0,
            rate_per_generator: 100,
        };
        assert_eq!(run.ramp(stopped).first.generators, 1);
    }

    #[test]
    fn flags_shape_the_ramp() {
        let run = parse(&[
            "--rate",
            "500",
            "--load-generators",
            "1",
            "--generators-step",
            "1",
            "--steps",
            "4",
            "--max-rate",
            "1500",
            "--step-duration",
            "5s",
            "--sample-interval",
            "1s",
            "--slo-p99",
            "100ms",
            "--min-acknowledged",
            "99.5",
            "--stop-on-break",
            "--report",
            "out",
            "--label",
            "monday",
        ])
        .unwrap()
        .run;
        run.validate().unwrap();
        let ramp = run.ramp(DEPLOYED);
        assert_eq!(
            ramp.first,
            Target {
                generators: 1,
                rate_per_generator: 500
            }
        );
        assert_eq!((ramp.rate_step, ramp.generators_step), (0, 1));
        assert_eq!(ramp.max_rate, Some(1500));
        assert_eq!(crate::bench::plan(&ramp).unwrap().len(), 3);
        assert_eq!(run.rules().slo_p99_seconds, 0.1);
        assert!((run.rules().min_acknowledged - 0.995).abs() < 1e-12);
        assert!(run.stop_on_break);
        assert_eq!(run.label.as_deref(), Some("monday"));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--steps", "0"]).is_err());
        assert!(parse(&["--load-generators", "1001"]).is_err());
        assert!(parse(&["--step-duration", "soon"]).is_err());
        let invalid = |args: &[&str]| parse(args).unwrap().run.validate().is_err();
        assert!(invalid(&["--sample-interval", "0s"]));
        assert!(invalid(&[
            "--step-duration",
            "1s",
            "--sample-interval",
            "2s"
        ]));
        assert!(invalid(&["--min-acknowledged", "0"]));
        assert!(invalid(&["--min-acknowledged", "101"]));
        assert!(invalid(&["--slo-p99", "0s"]));
        assert!(invalid(&["--label", " "]));
    }

    #[test]
    fn compare_takes_two_reports_or_more() {
        let a = parse(&[
            "compare",
            "a.json",
            "b",
            "--plot",
            "p.svg",
            "--fail-on-regression",
            "5",
        ])
        .unwrap();
        let Some(BenchCommand::Compare(c)) = a.command else {
            panic!("no compare")
        };
        assert_eq!(c.reports.len(), 2);
        assert_eq!(c.fail_on_regression, Some(5.0));
        c.validate().unwrap();
        assert!(parse(&["compare", "a.json"]).is_err());
        assert!(parse(&["--rate", "5", "compare", "a", "b"]).is_err());
        let c = CompareArgs {
            fail_on_regression: Some(-1.0),
            ..c
        };
        assert!(c.validate().is_err());
    }
}
