//! `kubectl kapture bench`: ramp the load generators step by step, sample the flow at each
//! step, report the sustainable throughput, and always put the load generator back as it was.
//! Decisions live in `crate::bench`.
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use tokio::sync::watch;

use crate::bench::{
    self, html, plot, step_line, PlanView, Read, Report, Rules, StepInput, Target, UsageSample,
    LATENCY_SOURCE,
};
use crate::cli::bench::{BenchArgs, BenchCommand, RunArgs};
use crate::cli::GlobalArgs;
use crate::error::KaptureError;
use crate::impact::{self, Sample};
use crate::k8s::{self, metrics, Cluster};
use crate::output;

mod cluster;
mod compare;
mod loadgen;
mod progress;

use progress::StepProgress;

/// Bound on one scrape of one pod's metrics, and on one read of the metrics API.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(global: &GlobalArgs, args: BenchArgs) -> Result<()> {
    match args.command {
        Some(BenchCommand::Compare(compare)) => compare::run(global, &compare),
        None => measure(global, &args.run).await,
    }
}

async fn measure(global: &GlobalArgs, args: &RunArgs) -> Result<()> {
    args.validate()?;
    let cluster = k8s::connect(&global.cluster()).await?;
    let found = loadgen::read(&cluster).await?;
    let ramp = args.ramp(found.target());
    let planned = bench::plan(&ramp).map_err(KaptureError::InvalidInput)?;
    if args.dry_run {
        let per_step = (args.warm_up + args.step_duration).as_secs_f64();
        return output::print(
            global.output,
            &PlanView {
                context: cluster.context.clone(),
                namespace: cluster.namespace.clone(),
                before: found.target(),
                at_least_seconds: per_step * planned.len() as f64,
                steps: planned,
            },
        );
    }
    if let Some(dir) = &args.report {
        // Fail before the load changes, not after an hour of measuring.
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    }
    let ((info, mut notes), served) =
        tokio::join!(cluster::info(&cluster), metrics::usage_served(&cluster));
    let usage = match served {
        Ok(true) => true,
        Ok(false) => {
            notes.push(
                "CPU/memory: the cluster does not serve metrics.k8s.io (no metrics-server): \
                 no CPU/memory figures"
                    .to_string(),
            );
            false
        }
        Err(e) => {
            notes.push(format!(
                "CPU/memory: cannot tell whether metrics.k8s.io is served ({e}): no CPU/memory figures"
            ));
            false
        }
    };
    for note in &notes {
        eprintln!("note: {note}");
    }
    let rules = args.rules();
    let mut report = Report {
        kapture_version: env!("CARGO_PKG_VERSION").to_string(),
        label: args.label.clone(),
        context: cluster.context.clone(),
        namespace: cluster.namespace.clone(),
        started: jiff::Timestamp::now().to_string(),
        finished: String::new(),
        cluster: info,
        image: found.image.clone(),
        parameters: bench::Parameters {
            ramp,
            rules,
            step_duration_seconds: args.step_duration.as_secs_f64(),
            warm_up_seconds: args.warm_up.as_secs_f64(),
            sample_interval_seconds: args.sample_interval.as_secs_f64(),
            rollout_timeout_seconds: args.rollout_timeout.as_secs_f64(),
            stop_on_break: args.stop_on_break,
            latency_source: LATENCY_SOURCE.to_string(),
        },
        before: found.target(),
        planned: planned.clone(),
        steps: Vec::new(),
        sustainable: None,
        interrupted: false,
        stopped_early: None,
        restored: false,
        notes,
    };
    eprintln!(
        "bench: {} step(s) on Deployment kapture-loadgen (now {}), {}s each after a {}s warm-up",
        planned.len(),
        found.target().label(),
        args.step_duration.as_secs_f64(),
        args.warm_up.as_secs_f64()
    );
    let signals = Signals::listen();
    let mut run = Run {
        cluster: &cluster,
        args,
        rules,
        signals: &signals,
        usage,
        clock: Instant::now(),
        current: found.target(),
    };
    let outcome = run.steps(&planned, &mut report).await;
    let restored = loadgen::restore(&cluster, &found, args.rollout_timeout, signals.count(2))
        .await
        .with_context(|| {
            format!(
                "putting Deployment kapture-loadgen back to {} failed; `kubectl kapture deploy` \
                 with the flags it was deployed with (and --force-conflicts) restores it",
                found.target().label()
            )
        });
    report.restored = restored.is_ok();
    report.finished = jiff::Timestamp::now().to_string();
    report.conclude();
    output::print(global.output, &report)?;
    if let Some(dir) = &args.report {
        write_bench_report(dir, &report)?;
        eprintln!("report written to {}", dir.join("index.html").display());
    }
    outcome?;
    restored?;
    if report.interrupted {
        return Err(anyhow!(
            "interrupted by Ctrl-C after {} of {} step(s)",
            report.steps.len(),
            planned.len()
        ));
    }
    Ok(())
}

/// Writes `text` to `dir/name`.
fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// bench.json, the three charts and index.html.
fn write_bench_report(dir: &Path, report: &Report) -> Result<()> {
    let svg = |chart: bench::plot::Chart| plot::svg(&chart).map_err(|e| anyhow!(e));
    write(
        dir,
        "bench.json",
        &(serde_json::to_string_pretty(report)? + "\n"),
    )?;
    write(dir, "throughput.svg", &svg(plot::throughput(report))?)?;
    write(dir, "latency.svg", &svg(plot::latency(report))?)?;
    write(dir, "lag.svg", &svg(plot::lag(report))?)?;
    write(
        dir,
        "index.html",
        &html::bench(report).map_err(|e| anyhow!(e))?,
    )
}

/// Ctrl-C and SIGTERM, counted: the first stops the measuring (the load generator is then put
/// back), the second stops waiting for its rollback.
struct Signals {
    count: watch::Receiver<u32>,
    task: tokio::task::JoinHandle<()>,
}

impl Signals {
    fn listen() -> Self {
        let (tx, count) = watch::channel(0);
        let task = tokio::spawn(async move {
            let Ok(mut terminate) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return std::future::pending().await;
            };
            for seen in 1.. {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                eprintln!(
                    "{}",
                    match seen {
                        1 => "Ctrl-C: stopping; the load generator is put back (Ctrl-C again: do not wait for its rollout)",
                        _ => "Ctrl-C again: not waiting for the load generator's rollout",
                    }
                );
                let _ = tx.send(seen);
            }
        });
        Signals { count, task }
    }

    fn stopped(&self) -> bool {
        *self.count.borrow() > 0
    }

    /// Resolves once `n` signals came.
    fn count(&self, n: u32) -> impl std::future::Future<Output = ()> + 'static {
        let mut count = self.count.clone();
        async move {
            if count.wait_for(|c| *c >= n).await.is_err() {
                // The listener is gone (it never ends by itself): never resolve.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A bench in progress.
struct Run<'a> {
    cluster: &'a Cluster,
    args: &'a RunArgs,
    rules: Rules,
    signals: &'a Signals,
    /// Whether to read CPU/memory from metrics.k8s.io.
    usage: bool,
    /// The bench's clock: samples are timed from its start.
    clock: Instant,
    /// What the load generator runs now.
    current: Target,
}

impl Run<'_> {
    /// Sleeps, or less on Ctrl-C; false when interrupted.
    async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.signals.count(1) => false,
        }
    }

    async fn steps(&mut self, planned: &[Target], report: &mut Report) -> Result<()> {
        for (index, target) in planned.iter().enumerate() {
            let number = index as u32 + 1;
            if self.signals.stopped() {
                report.interrupted = true;
                break;
            }
            let progress =
                StepProgress::start(number, planned.len(), *target, self.args.step_duration);
            progress.phase("rolling out");
            loadgen::set(self.cluster, *target, &mut self.current).await?;
            let rolled_out = loadgen::wait_rollout(
                self.cluster,
                target.generators,
                self.args.rollout_timeout,
                self.signals.count(1),
                |state| progress.phase(&format!("rolling out: {state}")),
            )
            .await?;
            progress.phase("warming up");
            if !rolled_out || !self.pause(self.args.warm_up).await {
                report.interrupted = true;
                break;
            }
            let (samples, usage, complete) = self.sample(number, *target, &progress).await;
            if samples.len() < 2 {
                // Ctrl-C before the step measured anything: nothing to report of it.
                report.interrupted = true;
                break;
            }
            let input = StepInput {
                step: number,
                target: *target,
                samples: &samples,
                usage: &usage,
                complete,
            };
            let step = bench::measure(input, &self.rules);
            progress.finish(&step_line(&step, planned.len()));
            let clearly_broken = step.clearly_broken;
            report.steps.push(step);
            if !complete {
                report.interrupted = true;
                break;
            }
            if self.args.stop_on_break && clearly_broken && index + 1 < planned.len() {
                report.stopped_early = Some(format!(
                    "step {number} broke clearly (--stop-on-break): {} of {} steps measured",
                    number,
                    planned.len()
                ));
                break;
            }
        }
        Ok(())
    }

    /// Samples the workload from the step's start to its end, every interval; false as the
    /// third value when Ctrl-C cut it short.
    async fn sample(
        &self,
        number: u32,
        target: Target,
        progress: &StepProgress,
    ) -> (Vec<Sample<Read>>, Vec<UsageSample>, bool) {
        let start = tokio::time::Instant::now();
        let (duration, interval) = (self.args.step_duration, self.args.sample_interval);
        let mut samples = Vec::new();
        let mut usage = Vec::new();
        for tick in 0u32.. {
            let into = interval.saturating_mul(tick).min(duration);
            tokio::select! {
                _ = tokio::time::sleep_until(start + into) => {}
                _ = self.signals.count(1) => return (samples, usage, false),
            }
            let at = self.clock.elapsed().as_secs_f64();
            // Rates run between a pod's own answers, each timed halfway through its round
            // trip: the pod read its counters somewhere in there.
            let read = |text: &str, took: Duration| Read {
                at: self.clock.elapsed().saturating_sub(took / 2).as_secs_f64(),
                scrape: impact::parse_scrape(text),
            };
            let ((pods, missing), reading) = tokio::join!(
                metrics::scrape_all(self.cluster, SCRAPE_TIMEOUT, &read),
                self.read_usage(at)
            );
            samples.push(Sample { at, pods, missing });
            usage.extend(reading);
            let so_far = StepInput {
                step: number,
                target,
                samples: &samples,
                usage: &[],
                complete: true,
            };
            progress.measured(into, &bench::measure(so_far, &self.rules));
            if into >= duration {
                break;
            }
        }
        (samples, usage, true)
    }

    async fn read_usage(&self, at: f64) -> Option<UsageSample> {
        if !self.usage {
            return None;
        }
        Some(
            match metrics::pod_usage(self.cluster, SCRAPE_TIMEOUT).await {
                Ok(pods) => UsageSample {
                    at,
                    pods,
                    error: None,
                },
                Err(e) => UsageSample {
                    at,
                    pods: Vec::new(),
                    error: Some(e),
                },
            },
        )
    }
}
