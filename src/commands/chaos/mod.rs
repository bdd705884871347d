//! `kubectl kapture chaos`: choose victims, confirm, delete or evict them round by round, wait
//! for their replacements to be Ready, report. Decisions live in `crate::chaos`.
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};

use crate::chaos::{
    self, ActionRecord, Candidate, Group, Measurement, Method, Outcome, Plan, PlanRow, Recovery,
    RecoveryTracker, Report, RoundRecord, Selection,
};
use crate::cli::chaos::{ChaosArgs, ImpactMode};
use crate::cli::GlobalArgs;
use crate::diagnose::is_ready;
use crate::error::KaptureError;
use crate::impact::{self, Bounds, Sample};
use crate::k8s::pods::{self, PodEvent, PodWatch};
use crate::k8s::{self, metrics, Cluster};
use crate::output;

mod view;

/// Bound on the initial list of the recovery watches.
const WATCH_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Bound on one scrape of one pod's metrics.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(global: &GlobalArgs, args: ChaosArgs) -> Result<()> {
    args.validate()?;
    let offsets = args.schedule()?;
    let groups = chaos::groups(&args.components(), args.selector.as_deref());
    // connect() turns kube's client-side retry off: an eviction's 429 is reported at once as
    // the PodDisruptionBudget that blocked it.
    let cluster = k8s::connect(&global.cluster()).await?;
    if args.names_kafka() {
        k8s::workloads::refuse_external_kafka(&cluster, "chaos --kill kafka").await?;
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let method = args.method();
    let eviction_version = match method {
        Method::Evict => Some(pods::eviction_version(&cluster).await?),
        Method::Delete => None,
    };

    let first = choose(&cluster, &groups, &args, &mut rng).await?;
    let plan = plan(&cluster, &args, &groups, seed, &offsets, &first);
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    if args.dry_run {
        return output::print(global.output, &plan);
    }
    if plan.victims.is_empty() {
        return Err(KaptureError::NotFound(format!(
            "nothing to disrupt in namespace {:?} ({}); is Kapture deployed there? (kubectl kapture status)",
            cluster.namespace,
            plan.notes.join("; ")
        ))
        .into());
    }
    crate::prompt::confirm(&question(&cluster, &plan), global.yes)?;

    let (stop, ctrl_c) = stop_on_ctrl_c();
    let mut run = Run {
        cluster: &cluster,
        args: &args,
        eviction_version,
        pdb_version: None,
        stop,
        report: Report {
            context: cluster.context.clone(),
            namespace: cluster.namespace.clone(),
            seed,
            actions: Vec::new(),
            rounds: Vec::new(),
            summary: Default::default(),
            notes: plan.notes.clone(),
            interrupted: false,
            impact: None,
        },
    };
    if method == Method::Evict {
        run.pdb_version = pods::pdb_version(&cluster).await?;
    }
    let sampler = match args.impact {
        ImpactMode::Off => None,
        ImpactMode::On => Some(Sampler::start(&cluster, args.sample_interval)),
        ImpactMode::Auto => metrics::workload_present(&cluster)
            .await?
            .then(|| Sampler::start(&cluster, args.sample_interval)),
    };
    let outcome = match &sampler {
        Some(sampler) => run
            .measured(sampler, &groups, &offsets, first, &mut rng)
            .await
            .map(Some),
        None => run
            .rounds(&groups, &offsets, first, &mut rng)
            .await
            .map(|()| None),
    };
    ctrl_c.abort();
    let mut report = run.report;
    if let Some(sampler) = sampler {
        report.impact = Some(impact_of(sampler, outcome.as_ref().ok().copied().flatten()).await);
    }
    report.summary = chaos::summarize(&report.actions);
    output::print(global.output, &report)?;
    outcome?;
    verdict(&report, &args)
}

/// A stop flag set by the first Ctrl-C (the run finishes its current action and reports).
fn stop_on_ctrl_c() -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (stop_tx, stop) = watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Ctrl-C: stopping after the current action");
            let _ = stop_tx.send(true);
        }
        // Keep the sender alive: a dropped sender would read as a stop request.
        std::future::pending::<()>().await
    });
    (stop, ctrl_c)
}

/// The workload impact of what `sampler` saw. After a failed round (no `bounds`) it still
/// covers what was sampled until then.
async fn impact_of(sampler: Sampler, bounds: Option<Bounds>) -> impact::Impact {
    let samples = sampler.finish().await;
    let bounds = bounds.unwrap_or_else(|| {
        let end = samples.last().map_or(0.0, |s| s.at);
        Bounds {
            disruption_start: end,
            disruption_end: end,
            end,
        }
    });
    impact::analyze(&samples, &bounds)
}

/// The run's exit: interrupted, failed by `--fail-on`, or fine.
fn verdict(report: &Report, args: &ChaosArgs) -> Result<()> {
    if report.interrupted {
        return Err(anyhow!(
            "interrupted by Ctrl-C after {} action(s)",
            report.summary.actions
        ));
    }
    match chaos::verdict(&report.summary, &args.fail_on) {
        Some(reason) => Err(anyhow!(
            "chaos verdict: {reason} (--fail-on decides what fails a run)"
        )),
        None => Ok(()),
    }
}

/// One group's pods and victims at the start of a round.
struct GroupRound {
    pods: Vec<Candidate>,
    selection: Selection,
}

async fn choose(
    cluster: &Cluster,
    groups: &[Group],
    args: &ChaosArgs,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<GroupRound>> {
    let now = jiff::Timestamp::now();
    let mut rounds = Vec::with_capacity(groups.len());
    for group in groups {
        let pods: Vec<Candidate> = pods::list(cluster, &group.selector)
            .await?
            .iter()
            .map(pods::candidate)
            .collect();
        let selection = chaos::select(group, &pods, args.radius(), args.minimum_age, now, rng);
        rounds.push(GroupRound { pods, selection });
    }
    Ok(rounds)
}

fn plan(
    cluster: &Cluster,
    args: &ChaosArgs,
    groups: &[Group],
    seed: u64,
    offsets: &[Duration],
    first: &[GroupRound],
) -> Plan {
    let now = jiff::Timestamp::now();
    let victims = groups
        .iter()
        .zip(first)
        .flat_map(|(group, round)| {
            round.selection.victims.iter().map(move |v| PlanRow {
                component: group.name.clone(),
                pod: v.name.clone(),
                method: args.method(),
                kapture: v.is_kapture(),
                ready: v.ready,
                age_seconds: v
                    .created
                    .and_then(|c| u64::try_from(now.duration_since(c).as_secs()).ok()),
            })
        })
        .collect();
    Plan {
        context: cluster.context.clone(),
        namespace: cluster.namespace.clone(),
        seed,
        method: args.method(),
        grace_period_seconds: args.grace_period(),
        round_offsets_seconds: offsets.iter().map(Duration::as_secs).collect(),
        victims,
        notes: chaos::notes(groups.iter().zip(first.iter().map(|r| &r.selection))),
    }
}

fn question(cluster: &Cluster, plan: &Plan) -> String {
    let verb = match plan.method {
        Method::Delete => "Delete",
        Method::Evict => "Evict",
    };
    let victims: Vec<String> = plan
        .victims
        .iter()
        .map(|v| {
            format!(
                "{} ({}{})",
                v.pod,
                v.component,
                if v.kapture { "" } else { ", NOT a Kapture pod" }
            )
        })
        .collect();
    let later = match plan.round_offsets_seconds.len() {
        1 => String::new(),
        n => format!(" Then {} more round(s) with fresh victims.", n - 1),
    };
    format!(
        "{verb} {} pod(s) in context {:?}, namespace {:?}: {}?{later}",
        victims.len(),
        cluster.context,
        cluster.namespace,
        victims.join(", ")
    )
}

/// Scrapes the workload's metrics every interval in the background until finished.
struct Sampler {
    started: Instant,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(cluster: &Cluster, interval: Duration) -> Self {
        let started = Instant::now();
        let (stop, mut stopped) = watch::channel(false);
        let cluster = cluster.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                samples.push(metrics::sample(&cluster, started, SCRAPE_TIMEOUT).await);
            }
            samples
        });
        Sampler {
            started,
            stop,
            task,
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Stops the sampler and returns its samples.
    async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(samples) => samples,
            Err(e) => {
                eprintln!("warning: the metrics sampler failed: {e}");
                Vec::new()
            }
        }
    }
}

/// The state of a run in progress.
struct Run<'a> {
    cluster: &'a Cluster,
    args: &'a ChaosArgs,
    eviction_version: Option<String>,
    pdb_version: Option<String>,
    stop: watch::Receiver<bool>,
    report: Report,
}

impl Run<'_> {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps, or less on Ctrl-C.
    async fn pause(&self, duration: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }

    /// The rounds between a baseline and a settle time of sampling; returns when the
    /// disruption started and ended on the sampler's clock.
    async fn measured(
        &mut self,
        sampler: &Sampler,
        groups: &[Group],
        offsets: &[Duration],
        first: Vec<GroupRound>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Bounds> {
        eprintln!(
            "sampling workload metrics: {:?} of baseline first",
            self.args.baseline
        );
        self.pause(self.args.baseline).await;
        let disruption_start = sampler.elapsed();
        if self.stopped() {
            self.report.interrupted = true;
        } else {
            self.rounds(groups, offsets, first, rng).await?;
        }
        let disruption_end = sampler.elapsed();
        if !self.stopped() {
            eprintln!(
                "sampling workload metrics: {:?} to settle",
                self.args.settle
            );
            self.pause(self.args.settle).await;
        }
        if self.stopped() {
            self.report.interrupted = true;
        }
        Ok(Bounds {
            disruption_start,
            disruption_end,
            end: sampler.elapsed(),
        })
    }

    async fn rounds(
        &mut self,
        groups: &[Group],
        offsets: &[Duration],
        first: Vec<GroupRound>,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let start = Instant::now();
        let mut next = Some(first);
        for (index, offset) in offsets.iter().enumerate() {
            if index > 0 {
                let mut stop = self.stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep_until((start + *offset).into()) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
            if self.stopped() {
                self.report.interrupted = true;
                break;
            }
            let chosen = match next.take() {
                Some(chosen) => chosen,
                None => {
                    let chosen = choose(self.cluster, groups, self.args, rng).await?;
                    let selections = chosen.iter().map(|r| &r.selection);
                    for note in chaos::notes(groups.iter().zip(selections)) {
                        if !self.report.notes.contains(&note) {
                            eprintln!("note: round {}: {note}", index + 1);
                            self.report.notes.push(note);
                        }
                    }
                    chosen
                }
            };
            self.round(index as u32 + 1, groups, chosen).await?;
        }
        Ok(())
    }

    async fn round(
        &mut self,
        number: u32,
        groups: &[Group],
        chosen: Vec<GroupRound>,
    ) -> Result<()> {
        let started = jiff::Timestamp::now().to_string();
        let wait = self.args.wait_recovery;
        let (tx, mut rx) = mpsc::channel(256);
        // Watches start (and finish their initial list) before the first action, so no
        // replacement can be missed and every pod present before is known.
        let mut watches: Vec<Option<PodWatch>> = Vec::new();
        let mut trackers: Vec<RecoveryTracker> = Vec::new();
        for (tag, (group, round)) in groups.iter().zip(&chosen).enumerate() {
            let watched = wait && !round.selection.victims.is_empty();
            watches
                .push(watched.then(|| pods::watch(self.cluster, &group.selector, tag, tx.clone())));
            trackers.push(RecoveryTracker::new(
                round.pods.iter().map(|p| p.uid.clone()),
            ));
        }
        drop(tx);
        let mut listing = watches.iter().filter(|w| w.is_some()).count();
        let deadline = tokio::time::Instant::now() + WATCH_START_TIMEOUT;
        while listing > 0 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((tag, at, event))) => {
                    if event == PodEvent::Listed {
                        listing -= 1;
                    } else {
                        apply(&mut trackers[tag], &event, at, true);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    return Err(anyhow!(
                        "the pod watch did not list pods within {WATCH_START_TIMEOUT:?}"
                    ))
                }
            }
        }

        let first_action = self.report.actions.len();
        let mut last_action = Instant::now();
        'groups: for (tag, (group, round)) in groups.iter().zip(&chosen).enumerate() {
            for victim in &round.selection.victims {
                if self.stopped() {
                    self.report.interrupted = true;
                    break 'groups;
                }
                let time = jiff::Timestamp::now().to_string();
                let outcome = self.act(victim).await?;
                last_action = Instant::now();
                if outcome.removed() && watches[tag].is_some() {
                    trackers[tag].expect(
                        self.report.actions.len(),
                        &victim.name,
                        victim.owner_kind.as_deref(),
                        last_action,
                    );
                }
                eprintln!(
                    "{} {}: {}",
                    self.args.method().as_str(),
                    victim.name,
                    outcome.label()
                );
                self.report.actions.push(ActionRecord {
                    round: number,
                    time,
                    component: group.name.clone(),
                    pod: victim.name.clone(),
                    method: self.args.method(),
                    outcome,
                    recovery: Recovery::NotWaited,
                    recovery_seconds: None,
                });
            }
        }

        if wait {
            self.await_recovery(&mut rx, &mut trackers, last_action)
                .await;
        }
        let measurements = self
            .ready_after(groups, &chosen, &trackers, &watches, first_action)
            .await?;
        self.report.rounds.push(RoundRecord {
            round: number,
            started,
            measurements,
        });
        Ok(())
    }

    /// Ready pods per group before and after the round: from the recovery watch where there
    /// was one, else a fresh list where the round acted, else the count at its start.
    async fn ready_after(
        &self,
        groups: &[Group],
        chosen: &[GroupRound],
        trackers: &[RecoveryTracker],
        watches: &[Option<PodWatch>],
        first_action: usize,
    ) -> Result<Vec<Measurement>> {
        let mut measurements = Vec::new();
        for (tag, (group, round)) in groups.iter().zip(chosen).enumerate() {
            let before = round.pods.iter().filter(|p| p.ready).count();
            let after = if watches[tag].is_some() {
                trackers[tag].ready_count()
            } else if self.report.actions[first_action..]
                .iter()
                .any(|a| a.component == group.name)
            {
                pods::list(self.cluster, &group.selector)
                    .await?
                    .iter()
                    .filter(|p| is_ready(p))
                    .count()
            } else {
                before
            };
            measurements.push(Measurement {
                component: group.name.clone(),
                metric: "ready".into(),
                before: before as f64,
                after: after as f64,
            });
        }
        Ok(measurements)
    }

    async fn act(&mut self, victim: &Candidate) -> Result<Outcome> {
        let grace = self.args.grace_period();
        let method = self.args.method();
        let result = match (&self.eviction_version, method) {
            (Some(version), Method::Evict) => {
                pods::evict(self.cluster, version, &victim.name, grace).await?
            }
            _ => pods::delete(self.cluster, &victim.name, grace).await?,
        };
        let mut outcome = chaos::classify(method, result.as_ref().map(|_| ()));
        if let Outcome::BlockedByPdb { pdb } = &mut outcome {
            *pdb = pods::blocking_pdb(
                self.cluster,
                self.pdb_version.as_deref(),
                &victim.labels,
                pdb.as_deref(),
            )
            .await?;
        }
        Ok(outcome)
    }

    /// Feeds watch events to the trackers until every removed pod has a Ready replacement,
    /// the recovery timeout passes, or Ctrl-C.
    async fn await_recovery(
        &mut self,
        rx: &mut mpsc::Receiver<(usize, Instant, PodEvent)>,
        trackers: &mut [RecoveryTracker],
        last_action: Instant,
    ) {
        let timeout = self.args.recovery_timeout;
        let deadline = tokio::time::Instant::from_std(last_action + timeout);
        let mut stop = self.stop.clone();
        while trackers.iter().any(|t| t.pending() > 0) {
            tokio::select! {
                event = rx.recv() => {
                    let Some((tag, at, event)) = event else { break };
                    for (action, took) in apply(&mut trackers[tag], &event, at, false) {
                        let record = &mut self.report.actions[action];
                        if took <= timeout {
                            record.recovery = Recovery::Recovered;
                            record.recovery_seconds = Some(took.as_secs_f64());
                        } else {
                            record.recovery = Recovery::NotRecovered;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = stop.wait_for(|s| *s) => {
                    self.report.interrupted = true;
                    return;
                }
            }
        }
        for tracker in trackers.iter() {
            for action in tracker.pending_actions() {
                self.report.actions[action].recovery = Recovery::NotRecovered;
            }
        }
    }
}

/// Applies a watch event to a tracker; `initial` events describe pods present before the actions.
fn apply(
    tracker: &mut RecoveryTracker,
    event: &PodEvent,
    at: Instant,
    initial: bool,
) -> Vec<(usize, Duration)> {
    match event {
        PodEvent::Seen { name, uid, ready } => {
            if initial {
                tracker.know(uid);
            }
            tracker.observe(name, uid, *ready, at)
        }
        PodEvent::Gone { uid } => {
            tracker.remove(uid);
            Vec::new()
        }
        PodEvent::Listed => Vec::new(),
    }
}
