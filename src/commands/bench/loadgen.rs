//! Deployment kapture-loadgen: read it, set a step's generators (scale subresource) and rate
//! (KAPTURE_RATE), wait for the rollout, and put it back with its field ownership.
use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Result};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::bench::ownership::{self, BENCH_FIELD_MANAGER};
use crate::bench::Target;
use crate::component::Component;
use crate::contract::env;
use crate::error::KaptureError;
use crate::k8s::errors::explain;
use crate::k8s::wait::{self, TimedOut};
use crate::k8s::Cluster;

/// Tries at handing field ownership back: the Deployment controller writes status often, and
/// each write makes the guarded patch retry.
const HAND_BACK_ATTEMPTS: u32 = 8;

fn name() -> String {
    Component::Loadgen.object_name()
}

/// The load generator's container in the Deployment (as manifests/70-loadgen.yaml names it).
fn container() -> &'static str {
    Component::Loadgen.name()
}

/// The load generator as the bench found it.
#[derive(Debug, Clone)]
pub struct Found {
    pub replicas: u32,
    /// KAPTURE_RATE as written, put back as it was.
    pub rate: String,
    pub managed_fields: Vec<ManagedFieldsEntry>,
    pub image: Option<String>,
}

impl Found {
    /// What it runs, as a step would say it (a rate of `100.5` counts as 101).
    pub fn target(&self) -> Target {
        Target {
            generators: self.replicas,
            rate_per_generator: self.rate.parse::<f64>().map_or(0, |r| r.round() as u32),
        }
    }
}

fn api(cluster: &Cluster) -> Api<Deployment> {
    cluster.api()
}

async fn get(cluster: &Cluster) -> Result<Deployment> {
    api(cluster)
        .get_opt(&name())
        .await
        .map_err(|e| explain(cluster, "get", &format!("deployments/{}", name()), e))?
        .ok_or_else(|| {
            KaptureError::NotFound(format!(
                "the load generator is not deployed in namespace {:?} (context {}): no \
                 Deployment {}; run kubectl kapture deploy",
                cluster.namespace,
                cluster.context,
                name()
            ))
            .into()
        })
}

fn loadgen_container(deployment: &Deployment) -> Option<&k8s_openapi::api::core::v1::Container> {
    deployment
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == container())
}

/// KAPTURE_RATE of the load generator's container, when it is a plain value.
fn rate_of(deployment: &Deployment) -> Option<String> {
    loadgen_container(deployment)?
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == env::RATE)?
        .value
        .clone()
}

fn replicas_of(deployment: &Deployment) -> u32 {
    let replicas = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    u32::try_from(replicas).unwrap_or(0)
}

pub async fn read(cluster: &Cluster) -> Result<Found> {
    let deployment = get(cluster).await?;
    let rate = rate_of(&deployment)
        .filter(|r| r.parse::<f64>().is_ok_and(|r| r.is_finite() && r >= 0.0))
        .ok_or_else(|| {
            KaptureError::InvalidInput(format!(
                "Deployment {} has no numeric {} in container {}: the bench can only ramp the \
                 load generator kubectl kapture deploy made",
                name(),
                env::RATE,
                container()
            ))
        })?;
    Ok(Found {
        replicas: replicas_of(&deployment),
        rate,
        managed_fields: deployment
            .metadata
            .managed_fields
            .clone()
            .unwrap_or_default(),
        image: loadgen_container(&deployment).and_then(|c| c.image.clone()),
    })
}

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(BENCH_FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    }
}

/// Sets the number of load generators through the scale subresource.
async fn scale(cluster: &Cluster, replicas: u32) -> Result<()> {
    let body = json!({ "spec": { "replicas": replicas } });
    api(cluster)
        .patch_scale(&name(), &params(), &Patch::Merge(&body))
        .await
        .map_err(|e| {
            explain(
                cluster,
                "patch",
                &format!("deployments/{}/scale", name()),
                e,
            )
        })?;
    Ok(())
}

/// Sets KAPTURE_RATE of the load generator's container alone (a strategic merge patch keys
/// containers and env vars by name); the Deployment rolls its pods.
async fn set_rate(cluster: &Cluster, rate: &str) -> Result<()> {
    let body = json!({ "spec": { "template": { "spec": { "containers": [{
        "name": container(),
        "env": [{ "name": env::RATE, "value": rate }],
    }] } } } });
    api(cluster)
        .patch(&name(), &params(), &Patch::Strategic(&body))
        .await
        .map_err(|e| explain(cluster, "patch", &format!("deployments/{}", name()), e))?;
    Ok(())
}

/// Makes the load generator run `target`, changing only what differs from `current`.
pub async fn set(cluster: &Cluster, target: Target, current: &mut Target) -> Result<()> {
    if target.generators != current.generators {
        scale(cluster, target.generators).await?;
        current.generators = target.generators;
    }
    if target.rate_per_generator != current.rate_per_generator {
        set_rate(cluster, &target.rate_per_generator.to_string()).await?;
        current.rate_per_generator = target.rate_per_generator;
    }
    Ok(())
}

/// What the rollout to `replicas` pods still waits for; `None` once every pod is up to date
/// and available and no old one is left (what `kubectl rollout status` waits for).
fn rollout_pending(deployment: &Deployment, replicas: u32) -> Option<String> {
    let want = i32::try_from(replicas).unwrap_or(i32::MAX);
    let asked = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    if asked != want {
        return Some(format!("the Deployment asks for {asked} pods, not {want}"));
    }
    let status = deployment.status.clone().unwrap_or_default();
    if status.observed_generation < deployment.metadata.generation {
        return Some("the Deployment controller has not seen the change yet".to_string());
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let old = status.replicas.unwrap_or(0) - updated;
    (updated < want || available < want || old > 0)
        .then(|| format!("{updated}/{want} pods updated, {available} available, {old} old"))
}

/// Waits, watching, until the load generator runs `replicas` up-to-date available pods.
/// Returns false when `stop` came first.
pub async fn wait_rollout(
    cluster: &Cluster,
    replicas: u32,
    timeout: Duration,
    stop: impl Future<Output = ()>,
    mut show: impl FnMut(&str),
) -> Result<bool> {
    let this_one = watcher::Config::default().fields(&format!("metadata.name={}", name()));
    let (store, mut changes) = wait::watch(api(cluster), this_one, ());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stop = std::pin::pin!(stop);
    let mut state = "nothing seen yet".to_string();
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(change) => change?,
                None => return Err(anyhow!("the watch of Deployment {} ended", name())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(TimedOut {
                    what: format!("the load generator's rollout to {replicas} pod(s)"),
                    after: timeout,
                    state,
                }
                .into())
            }
            _ = &mut stop => return Ok(false),
        }
        state = match store.state().first() {
            None => format!("Deployment {} is gone", name()),
            Some(deployment) => match rollout_pending(deployment, replicas) {
                None => return Ok(true),
                Some(pending) => pending,
            },
        };
        show(&state);
    }
}

/// Puts the load generator back as `found`: its replicas and KAPTURE_RATE, then the field
/// ownership (see `bench::ownership`), then waits for the rollout unless `stop` comes first.
pub async fn restore(
    cluster: &Cluster,
    found: &Found,
    timeout: Duration,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    let deployment = get(cluster).await?;
    if replicas_of(&deployment) != found.replicas {
        scale(cluster, found.replicas).await?;
    }
    if rate_of(&deployment).as_deref() != Some(found.rate.as_str()) {
        set_rate(cluster, &found.rate).await?;
    }
    hand_back(cluster, &found.managed_fields).await?;
    let done = wait_rollout(cluster, found.replicas, timeout, stop, |_| {}).await?;
    if !done {
        eprintln!(
            "note: not waiting for Deployment {} to finish rolling back (its settings are back)",
            name()
        );
    }
    Ok(())
}

/// Writes managedFields with the bench's borrowed fields given back, guarded by the
/// resourceVersion it was computed from; retries when another writer came in between.
async fn hand_back(cluster: &Cluster, before: &[ManagedFieldsEntry]) -> Result<()> {
    let fields = ownership::borrowed_fields(container(), env::RATE);
    for _ in 0..HAND_BACK_ATTEMPTS {
        let deployment = get(cluster).await?;
        let now = deployment
            .metadata
            .managed_fields
            .clone()
            .unwrap_or_default();
        let wanted = ownership::hand_back(before, &now, &fields);
        if wanted == now {
            return Ok(());
        }
        let body = json!({ "metadata": {
            "resourceVersion": deployment.metadata.resource_version,
            "managedFields": wanted,
        } });
        match api(cluster)
            .patch(&name(), &params(), &Patch::Merge(&body))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => {
                return Err(explain(
                    cluster,
                    "patch",
                    &format!("deployments/{}", name()),
                    e,
                ))
            }
        }
    }
    Err(anyhow!(
        "Deployment {} kept changing: could not hand its fields back to kubectl-kapture in \
         {HAND_BACK_ATTEMPTS} tries",
        name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(spec: i32, generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": "kapture-loadgen", "generation": generation },
            "spec": {
                "replicas": spec,
                "selector": {},
                "template": { "spec": { "containers": [{
                    "name": "loadgen",
                    "env": [{ "name": "OTHER", "value": "x" }, { "name": "KAPTURE_RATE", "value": "150" }]
                }] } }
            },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_rollout_is_done_when_every_pod_is_new_and_available() {
        let done = json!({ "observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2 });
        assert_eq!(rollout_pending(&deployment(2, 3, done.clone()), 2), None);
        assert!(rollout_pending(&deployment(2, 3, done.clone()), 3)
            .unwrap()
            .contains("asks for 2 pods, not 3"));
        assert!(rollout_pending(&deployment(2, 4, done), 2)
            .unwrap()
            .contains("not seen the change"));
        let rolling = json!({ "observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2 });
        assert_eq!(
            rollout_pending(&deployment(2, 3, rolling), 2).as_deref(),
            Some("1/2 pods updated, 2 available, 2 old")
        );
        // Scaled to zero: done once the controller saw it.
        let none = json!({ "observedGeneration": 3 });
        assert_eq!(rollout_pending(&deployment(0, 3, none), 0), None);
    }

    #[test]
    fn the_rate_is_read_from_the_loadgen_container() {
        let d = deployment(2, 1, json!({}));
        assert_eq!(rate_of(&d).as_deref(), Some("150"));
        assert_eq!(replicas_of(&d), 2);
        let found = Found {
            replicas: 2,
            rate: "100.5".into(),
            managed_fields: Vec::new(),
            image: None,
        };
        assert_eq!(
            found.target(),
            Target {
                generators: 2,
                rate_per_generator: 101
            }
        );
    }
}
