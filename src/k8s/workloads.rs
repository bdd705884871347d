//! Listing what Kapture runs in a namespace, and the namespace itself.
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::core::ObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;

use super::wait::{self, Wait};
use super::{errors, Cluster};
use crate::error::KaptureError;
use crate::kafka::bootstrap::{self, Bootstrap};
use crate::manifests::{
    is_kapture_labelled, FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_PART_OF, PART_OF, SELECTOR,
};
use crate::status::{self, Observed};

async fn list<K>(cluster: &Cluster, what: &str) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = cluster.api();
    let list = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .map_err(|e| errors::explain(cluster, "list", what, e))?;
    Ok(list.items)
}

/// Lists Kapture's workloads and pods in the namespace, and its failing probes (five
/// concurrent requests).
pub async fn observe(cluster: &Cluster) -> Result<Observed> {
    let (statefulsets, deployments, jobs, pods, events) = tokio::try_join!(
        list::<StatefulSet>(cluster, "statefulsets"),
        list::<Deployment>(cluster, "deployments"),
        list::<Job>(cluster, "jobs"),
        list::<Pod>(cluster, "pods"),
        probe_failures(cluster),
    )?;
    Ok(Observed {
        statefulsets,
        deployments,
        jobs,
        pods,
        events,
    })
}

/// The kubelet's `Unhealthy` events in the namespace: events carry no labels to select by.
async fn probe_failures(cluster: &Cluster) -> Result<Vec<Event>> {
    let api: Api<Event> = cluster.api();
    let list = api
        .list(&ListParams::default().fields("reason=Unhealthy"))
        .await
        .map_err(|e| errors::explain(cluster, "list", "events", e))?;
    Ok(list.items)
}

/// How often a wait looks again without a change: a pod refused by the scheduler counts as
/// stuck only after a while, and nothing changes meanwhile.
const RECHECK: Duration = Duration::from_secs(5);

/// Waits until `expected` workloads exist and each is ready (or complete), watching them and
/// their pods; returns how many there are. Stops early, naming pod, reason and remedy, when a
/// component cannot become ready by waiting (stuck pods, a failed Job).
pub async fn wait_ready(cluster: &Cluster, expected: usize, timeout: Duration) -> Result<usize> {
    let config = || watcher::Config::default().labels(SELECTOR);
    let (statefulsets, a) = wait::watch(cluster.api(), config(), ());
    let (deployments, b) = wait::watch(cluster.api(), config(), ());
    let (jobs, c) = wait::watch(cluster.api(), config(), ());
    let (pods, d) = wait::watch(cluster.api(), config(), ());
    let rechecks = wait::ticks(RECHECK).skip(1);
    let changes = futures::stream::select(wait::all_listed(vec![a, b, c, d]), rechecks);
    let mut wait = Wait::new("workloads to become ready", timeout, changes);
    loop {
        wait.changed().await?;
        let observed = Observed {
            statefulsets: owned(&statefulsets),
            deployments: owned(&deployments),
            jobs: owned(&jobs),
            pods: owned(&pods),
            events: Vec::new(),
        };
        let now = jiff::Timestamp::now();
        let report = status::report(&cluster.context, &cluster.namespace, &observed, now);
        let hopeless: Vec<String> = report
            .components
            .iter()
            .filter(|c| c.state.is_hopeless())
            .map(|c| match c.problems.first() {
                Some(d) => match &d.hint {
                    Some(hint) => format!(
                        "{} will not become ready: {}: {hint}",
                        c.component,
                        d.line()
                    ),
                    None => format!("{} will not become ready: {}", c.component, d.line()),
                },
                None => format!("{} {} {}: {:?}", c.component, c.kind, c.name, c.state),
            })
            .collect();
        if !hopeless.is_empty() {
            anyhow::bail!("{}", hopeless.join("; "));
        }
        let waiting: Vec<String> = report
            .components
            .iter()
            .filter(|c| !c.state.is_settled())
            .map(|c| match c.problems.first() {
                Some(d) => format!("{} {}/{} ({})", c.component, c.ready, c.desired, d.line()),
                None => format!("{} {}/{}", c.component, c.ready, c.desired),
            })
            .collect();
        let present = report.components.len();
        if waiting.is_empty() && present >= expected {
            return Ok(present);
        }
        wait.waiting(format!(
            "{}/{expected} ready; {}",
            present - waiting.len(),
            waiting.join(", ")
        ));
    }
}

fn owned<K: Clone + kube::Resource>(store: &Store<K>) -> Vec<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.state().iter().map(|o| (**o).clone()).collect()
}

/// Whether the namespace exists, and whether Kapture created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceState {
    Absent,
    Ours,
    Foreign,
}

pub async fn namespace_state(cluster: &Cluster) -> Result<NamespaceState> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let found = api.get_opt(&cluster.namespace).await.map_err(|e| {
        errors::explain(
            cluster,
            "get",
            &format!("namespace {}", cluster.namespace),
            e,
        )
    })?;
    Ok(match found {
        None => NamespaceState::Absent,
        Some(ns) if is_kapture_labelled(&ns.metadata) => NamespaceState::Ours,
        Some(_) => NamespaceState::Foreign,
    })
}

/// One GET of a Secret in the namespace; `None` when there is none of that name.
pub async fn secret(cluster: &Cluster, name: &str) -> Result<Option<Secret>> {
    cluster
        .api::<Secret>()
        .get_opt(name)
        .await
        .map_err(|e| errors::explain(cluster, "get", &format!("secrets/{name}"), e))
}

/// Creates the namespace, labelled as Kapture's, with server-side apply.
pub async fn create_namespace(cluster: &Cluster, dry_run: bool) -> Result<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(cluster.namespace.clone()),
            labels: Some(BTreeMap::from([
                (LABEL_PART_OF.to_string(), PART_OF.to_string()),
                (LABEL_MANAGED_BY.to_string(), FIELD_MANAGER.to_string()),
            ])),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.dry_run = dry_run;
    Api::<Namespace>::all(cluster.client.clone())
        .patch(&cluster.namespace, &params, &Patch::Apply(&namespace))
        .await
        .map_err(|e| {
            errors::explain(
                cluster,
                "create",
                &format!("namespace {}", cluster.namespace),
                e,
            )
        })?;
    Ok(())
}

/// Deletes the namespace; with a timeout, waits (bounded) until it is gone.
pub async fn delete_namespace(cluster: &Cluster, wait: Option<Duration>) -> Result<()> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let what = format!("namespace {}", cluster.namespace);
    api.delete(&cluster.namespace, &Default::default())
        .await
        .map_err(|e| errors::explain_in(cluster, None, "delete", &what, e))?;
    let Some(timeout) = wait else { return Ok(()) };
    let this_one =
        watcher::Config::default().fields(&format!("metadata.name={}", cluster.namespace));
    let (store, changes) = wait::watch(api, this_one, ());
    let mut wait = Wait::new(format!("{what} to be deleted"), timeout, changes);
    loop {
        wait.changed().await?;
        match store.state().first() {
            None => return Ok(()),
            Some(ns) => wait.waiting(
                ns.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "present".into()),
            ),
        }
    }
}

/// The Kafka that Kapture's workload in the namespace uses when it is not Kapture's own
/// (`deploy --kafka-bootstrap`); `None` with Kapture's Kafka or nothing deployed.
pub async fn external_kafka(cluster: &Cluster) -> Result<Option<Bootstrap>> {
    let (deployments, jobs) = tokio::try_join!(
        list::<Deployment>(cluster, "deployments"),
        list::<Job>(cluster, "jobs"),
    )?;
    let templates = deployments
        .iter()
        .filter_map(|d| d.spec.as_ref()?.template.spec.as_ref())
        .chain(
            jobs.iter()
                .filter_map(|j| j.spec.as_ref()?.template.spec.as_ref()),
        );
    Ok(bootstrap::external(
        templates.flat_map(|spec| &spec.containers),
    ))
}

/// Refuses `what` (an action on Kapture's own Kafka) when the deployment uses another Kafka.
pub async fn refuse_external_kafka(cluster: &Cluster, what: &str) -> Result<()> {
    match external_kafka(cluster).await? {
        None => Ok(()),
        Some(bootstrap) => Err(KaptureError::InvalidInput(format!(
            "{what} acts on Kapture's own brokers, but namespace {:?} was deployed with \
             --kafka-bootstrap {bootstrap}: that Kafka is not Kapture's to disrupt or scale",
            cluster.namespace
        ))
        .into()),
    }
}
