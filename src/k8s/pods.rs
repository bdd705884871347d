//! Pods: list by selector, delete, evict through the Eviction version the cluster serves,
//! follow readiness with a watch, and find the PodDisruptionBudget that blocked an eviction.
use std::time::Instant;

use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::errors::explain;
use super::Cluster;
use crate::chaos::{self, ApiFailure, Candidate};
use crate::diagnose::is_ready;
use crate::manifests::DATA_VOLUME;

/// The pods matching `selector` in the cluster's namespace.
pub async fn list(cluster: &Cluster, selector: &str) -> Result<Vec<Pod>> {
    let api: Api<Pod> = cluster.api();
    let pods = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| explain(cluster, "list", "pods", e))?;
    Ok(pods.items)
}

/// The pod as victim selection sees it.
pub fn candidate(pod: &Pod) -> Candidate {
    Candidate {
        name: pod.name_any(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        labels: pod.labels().clone(),
        created: pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
        ready: is_ready(pod),
        terminating: pod.metadata.deletion_timestamp.is_some(),
        owner_kind: pod
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
            .map(|o| o.kind.clone()),
        ephemeral_data: pod
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .any(|v| v.name == DATA_VOLUME && v.empty_dir.is_some()),
    }
}

/// An API answer other than success; anything else (transport, decoding) is an error.
fn api_outcome(
    cluster: &Cluster,
    verb: &str,
    name: &str,
    result: kube::Result<()>,
) -> Result<Result<(), ApiFailure>> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(kube::Error::Api(status)) => Ok(Err(ApiFailure {
            code: status.code,
            message: status.message.clone(),
            causes: status
                .details
                .as_ref()
                .map(|d| d.causes.iter().map(|c| c.message.clone()).collect())
                .unwrap_or_default(),
        })),
        Err(e) => Err(explain(cluster, verb, &format!("pod {name}"), e)),
    }
}

/// Deletes a pod; `grace` overrides its terminationGracePeriodSeconds.
pub async fn delete(
    cluster: &Cluster,
    name: &str,
    grace: Option<u32>,
) -> Result<Result<(), ApiFailure>> {
    let api: Api<Pod> = cluster.api();
    let params = DeleteParams {
        grace_period_seconds: grace,
        ..DeleteParams::default()
    };
    let result = api.delete(name, &params).await.map(|_| ());
    api_outcome(cluster, "delete", name, result)
}

/// The group/version of Eviction the cluster serves for pods/eviction (`policy/v1`, or
/// `policy/v1beta1` before Kubernetes 1.22), read from discovery as kubectl drain does.
pub async fn eviction_version(cluster: &Cluster) -> Result<String> {
    let resources = cluster
        .client
        .list_core_api_resources("v1")
        .await
        .map_err(|e| explain(cluster, "discover", "the core API", e))?;
    resources
        .resources
        .iter()
        .find(|r| r.name == "pods/eviction" && r.kind == "Eviction")
        .and_then(|r| match (r.group.as_deref(), r.version.as_deref()) {
            (Some(g), Some(v)) if !g.is_empty() && !v.is_empty() => Some(format!("{g}/{v}")),
            _ => None,
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the cluster does not serve pods/eviction: drop --evict to delete pods instead"
            )
        })
}

/// Asks the Eviction API to remove a pod. `api_version` is what [`eviction_version`] found;
/// kube's own `Api::evict` sends a body without apiVersion and ignores the delete options.
pub async fn evict(
    cluster: &Cluster,
    api_version: &str,
    name: &str,
    grace: Option<u32>,
) -> Result<Result<(), ApiFailure>> {
    let api: Api<Pod> = cluster.api();
    let mut body = json!({
        "apiVersion": api_version,
        "kind": "Eviction",
        "metadata": { "name": name, "namespace": cluster.namespace },
    });
    if let Some(seconds) = grace {
        body["deleteOptions"] = json!({ "gracePeriodSeconds": seconds });
    }
    let result = api
        .create_subresource::<_, serde_json::Value>("eviction", name, &PostParams::default(), &body)
        .await
        .map(|_| ());
    api_outcome(cluster, "evict", name, result)
}

/// The PodDisruptionBudget version the cluster serves (policy/v1 preferred), if any.
pub async fn pdb_version(cluster: &Cluster) -> Result<Option<String>> {
    let groups = cluster
        .client
        .list_api_groups()
        .await
        .map_err(|e| explain(cluster, "discover", "API groups", e))?;
    let served: Vec<String> = groups
        .groups
        .iter()
        .filter(|g| g.name == "policy")
        .flat_map(|g| g.versions.iter().map(|v| v.version.clone()))
        .collect();
    Ok(["v1", "v1beta1"]
        .into_iter()
        .find(|v| served.iter().any(|s| s == v))
        .map(str::to_string))
}

/// The budget that blocked evicting a pod with `labels`: the namespace's PDB whose selector
/// matches the pod (the one the API named, if several do). Falls back to `named`.
pub async fn blocking_pdb(
    cluster: &Cluster,
    version: Option<&str>,
    labels: &std::collections::BTreeMap<String, String>,
    named: Option<&str>,
) -> Result<Option<String>> {
    let Some(version) = version else {
        return Ok(named.map(str::to_string));
    };
    let gvk = GroupVersionKind::gvk("policy", version, "PodDisruptionBudget");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "poddisruptionbudgets");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource);
    let pdbs = api
        .list(&ListParams::default())
        .await
        .map_err(|e| explain(cluster, "list", "poddisruptionbudgets", e))?;
    let matching: Vec<String> = pdbs
        .items
        .iter()
        .filter(|pdb| {
            let selector: Option<LabelSelector> = pdb
                .data
                .pointer("/spec/selector")
                .and_then(|s| serde_json::from_value(s.clone()).ok());
            selector.is_some_and(|s| chaos::selector_matches(&s, labels, version == "v1"))
        })
        .map(|pdb| pdb.name_any())
        .collect();
    Ok(match (named, matching.as_slice()) {
        (Some(n), m) if m.iter().any(|x| x == n) => Some(n.to_string()),
        (_, [only]) => Some(only.clone()),
        (Some(n), _) => Some(n.to_string()),
        (None, []) => None,
        (None, several) => Some(several.join(",")),
    })
}

/// What a pod watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEvent {
    /// A pod was listed, added or changed; `ready` is false while it terminates.
    Seen {
        name: String,
        uid: String,
        ready: bool,
    },
    Gone {
        uid: String,
    },
    /// The initial list is complete.
    Listed,
}

/// A running watch; stops when dropped.
pub struct PodWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the pods matching `selector` and sends `(tag, when seen, event)` to `tx`.
pub fn watch(
    cluster: &Cluster,
    selector: &str,
    tag: usize,
    tx: mpsc::Sender<(usize, Instant, PodEvent)>,
) -> PodWatch {
    let api: Api<Pod> = cluster.api();
    let config = watcher::Config::default().labels(selector);
    let task = tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(api, config).default_backoff());
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(watcher::Event::Apply(pod)) | Ok(watcher::Event::InitApply(pod)) => {
                    PodEvent::Seen {
                        name: pod.name_any(),
                        uid: pod.metadata.uid.clone().unwrap_or_default(),
                        ready: is_ready(&pod),
                    }
                }
                Ok(watcher::Event::Delete(pod)) => PodEvent::Gone {
                    uid: pod.metadata.uid.clone().unwrap_or_default(),
                },
                Ok(watcher::Event::InitDone) => PodEvent::Listed,
                Ok(watcher::Event::Init) => continue,
                Err(e) => {
                    // The backoff retries; the caller's timeout bounds the wait.
                    tracing::debug!("pod watch ({tag}): {e}");
                    continue;
                }
            };
            if tx.send((tag, Instant::now(), event)).await.is_err() {
                break;
            }
        }
    });
    PodWatch { task }
}
