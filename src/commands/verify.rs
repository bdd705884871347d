//! `kubectl kapture verify`: quiet the load (with `--stop-load`), run the verifier Job, print
//! its verdict; exit 1 unless nothing acknowledged was lost or duplicated.
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, LogParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;

use crate::cli::verify::VerifyArgs;
use crate::cli::GlobalArgs;
use crate::component::Component;
use crate::diagnose;
use crate::error::KaptureError;
use crate::k8s::errors::explain;
use crate::k8s::wait::{self, Wait};
use crate::k8s::{self, Cluster};
use crate::manifests::{FIELD_MANAGER, LABEL_COMPONENT, SELECTOR};
use crate::output;
use crate::verdict::Report;
use crate::verifier;

/// How often the wait for the verifier looks again without a change (a stuck image pull).
const RECHECK: Duration = Duration::from_secs(5);

pub async fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<()> {
    let cluster = k8s::connect(&global.cluster()).await?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());

    let sink_postgres = workload(&cluster, Component::SinkPostgres).await?;
    let mut other_sinks = vec![workload(&cluster, Component::SinkRedis).await?];
    // Mongo is opt-in: verified when its sink is deployed.
    other_sinks.extend(deployment(&cluster, Component::SinkMongo).await?);
    quiet_the_load(&cluster, args.stop_load, left()).await?;

    let name = format!("kapture-verify-{:08x}", rand::random::<u32>());
    let job = verifier::job(&name, &sink_postgres, &other_sinks, args.settle, left())?;
    let jobs: Api<Job> = cluster.api();
    let create = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    jobs.create(&create, &job)
        .await
        .map_err(|e| explain(&cluster, "create", "jobs", e))?;
    eprintln!("verifier Job {name} started");
    let outcome = tokio::select! {
        report = verdict(&cluster, &name, left()) => report,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    if args.keep_job {
        eprintln!(
            "kept Job {name}: kubectl logs -n {} job/{name}",
            cluster.namespace
        );
    } else if let Err(e) = jobs.delete(&name, &DeleteParams::background()).await {
        eprintln!(
            "warning: {}",
            explain(&cluster, "delete", &format!("jobs/{name}"), e)
        );
    }
    let report = outcome?;
    output::print(global.output, &report)?;
    if report.ok {
        Ok(())
    } else {
        let mongo = match (report.mongo_lost, report.mongo_states_match) {
            (0, Some(false)) => "; MongoDB's per-state counts differ from Postgres".to_string(),
            (0, _) => String::new(),
            (lost, _) => format!("; {lost} not in MongoDB"),
        };
        Err(anyhow!(
            "integrity check failed: of {} acknowledged transactions {} lost, {} duplicated{}{mongo}",
            report.acked,
            report.lost,
            report.duplicated,
            match report.aggregates_match {
                Some(false) => "; the Redis aggregates differ from Postgres",
                _ => "",
            }
        ))
    }
}

/// A component's Deployment, if it is deployed.
async fn deployment(cluster: &Cluster, component: Component) -> Result<Option<Deployment>> {
    cluster
        .api::<Deployment>()
        .get_opt(&component.object_name())
        .await
        .map_err(|e| explain(cluster, "get", "deployments", e))
}

/// The Deployment of a workload role the verifier is built from.
async fn workload(cluster: &Cluster, component: Component) -> Result<Deployment> {
    let name = component.object_name();
    deployment(cluster, component).await?.ok_or_else(|| {
        KaptureError::NotFound(format!(
            "the workload is not deployed in namespace {:?} (context {}): no Deployment \
                 {name}; run kubectl kapture deploy",
            cluster.namespace, cluster.context
        ))
        .into()
    })
}

/// Makes sure no load generator pod runs: verifying while acknowledgements still arrive would
/// count the transactions in flight as lost.
async fn quiet_the_load(cluster: &Cluster, stop_load: bool, timeout: Duration) -> Result<()> {
    let name = Component::Loadgen.object_name();
    let deployments: Api<Deployment> = cluster.api();
    let loadgen = deployments
        .get_opt(&name)
        .await
        .map_err(|e| explain(cluster, "get", "deployments", e))?;
    let replicas = loadgen
        .and_then(|d| d.spec)
        .and_then(|s| s.replicas)
        .unwrap_or(0);
    if replicas > 0 {
        if !stop_load {
            return Err(KaptureError::InvalidInput(format!(
                "the load generator runs ({replicas} replicas): transactions in flight would \
                 count as lost; pass --stop-load to scale it to 0 first (kubectl kapture deploy \
                 resumes it)"
            ))
            .into());
        }
        eprintln!("stopping the load generator ({replicas} replicas)");
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        let zero = json!({ "spec": { "replicas": 0 } });
        deployments
            .patch_scale(&name, &params, &Patch::Merge(&zero))
            .await
            .map_err(|e| explain(cluster, "patch", &format!("deployments/{name}/scale"), e))?;
    }
    // Also with 0 replicas: pods of an earlier scale-down may still be finishing.
    let selector = format!("{SELECTOR},{LABEL_COMPONENT}={}", Component::Loadgen.name());
    let (pods, changes) = wait::watch(
        cluster.api::<Pod>(),
        watcher::Config::default().labels(&selector),
        (),
    );
    let mut wait = Wait::new("the load generator's pods to finish", timeout, changes);
    loop {
        wait.changed().await?;
        let running: Vec<String> = pods.state().iter().map(|p| p.name_any()).collect();
        if running.is_empty() {
            return Ok(());
        }
        wait.waiting(running.join(", "));
    }
}

/// Waits for the verifier's pod to end and reads the verdict from its log.
async fn verdict(cluster: &Cluster, job: &str, timeout: Duration) -> Result<Report> {
    let (pods, changes) = wait::watch(
        cluster.api::<Pod>(),
        watcher::Config::default().labels(&format!("job-name={job}")),
        (),
    );
    let changes = futures::stream::select(changes, wait::ticks(RECHECK).skip(1));
    let mut wait = Wait::new(format!("verifier Job {job} to finish"), timeout, changes);
    let no_probes = BTreeMap::new();
    let pod = loop {
        wait.changed().await?;
        let state = pods.state();
        let Some(pod) = state.first() else {
            wait.waiting("no pod yet".to_string());
            continue;
        };
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            break pod.name_any();
        }
        match diagnose::pod(pod, &no_probes, jiff::Timestamp::now()) {
            Some(d) if d.stuck => {
                let hint = d
                    .hint
                    .as_ref()
                    .map(|h| format!(": {h}"))
                    .unwrap_or_default();
                anyhow::bail!("the verifier cannot run: {}{hint}", d.line());
            }
            Some(d) => wait.waiting(d.line()),
            None => wait.waiting(format!("{} {phase}", pod.name_any())),
        }
    };
    let params = LogParams {
        container: Some(verifier::CONTAINER.to_string()),
        ..LogParams::default()
    };
    let log = cluster
        .api::<Pod>()
        .logs(&pod, &params)
        .await
        .map_err(|e| explain(cluster, "get", &format!("pods/{pod}/log"), e))?;
    verifier::verdict_from_log(&log).map_err(|e| anyhow!("verifier Job {job}: {e}"))
}
