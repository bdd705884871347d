//! StatefulSet scaling through the scale subresource, and waits on its pods.
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::errors::explain;
use super::wait::{self, Wait};
use super::Cluster;
use crate::error::KaptureError;
use crate::manifests::FIELD_MANAGER;

/// The pod facts a wait decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    pub phase: String,
    pub ready: bool,
    pub deleting: bool,
}

impl PodSummary {
    pub fn of(pod: &Pod) -> Self {
        let status = pod.status.as_ref();
        PodSummary {
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into()),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            deleting: pod.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// Pods `<statefulset>-0 .. <statefulset>-(replicas-1)` that are not Ready yet, each with why
/// (e.g. `kapture-kafka-broker-3 (Pending)`, `kapture-kafka-broker-4 (not created)`).
pub fn not_ready(
    statefulset: &str,
    replicas: i32,
    pods: &BTreeMap<String, PodSummary>,
) -> Vec<String> {
    (0..replicas)
        .map(|i| format!("{statefulset}-{i}"))
        .filter_map(|name| match pods.get(&name) {
            None => Some(format!("{name} (not created)")),
            Some(p) if p.deleting => Some(format!("{name} (terminating)")),
            Some(p) if !p.ready => Some(format!("{name} ({}, not Ready)", p.phase)),
            Some(_) => None,
        })
        .collect()
}

/// Pods with an ordinal at or above `replicas` that still exist.
pub fn lingering(
    statefulset: &str,
    replicas: i32,
    pods: &BTreeMap<String, PodSummary>,
) -> Vec<String> {
    let prefix = format!("{statefulset}-");
    pods.keys()
        .filter(|name| {
            name.strip_prefix(&prefix)
                .and_then(|o| o.parse::<i32>().ok())
                .is_some_and(|o| o >= replicas)
        })
        .cloned()
        .collect()
}

pub struct StatefulSets {
    cluster: Cluster,
    api: Api<StatefulSet>,
}

impl StatefulSets {
    pub fn new(cluster: &Cluster) -> Self {
        StatefulSets {
            cluster: cluster.clone(),
            api: cluster.api(),
        }
    }

    /// Desired replicas of `name`; a clear "not found" when Kapture's Kafka is not deployed.
    pub async fn replicas(&self, name: &str) -> Result<i32> {
        match self.api.get_scale(name).await {
            Ok(scale) => Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(0)),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(KaptureError::NotFound(format!(
                "StatefulSet {name} not found in namespace {:?} (is Kafka deployed? kubectl kapture deploy)",
                self.cluster.namespace
            ))
            .into()),
            Err(e) => Err(explain(&self.cluster, "get", &format!("statefulsets/{name}/scale"), e)),
        }
    }

    /// Sets `spec.replicas` through the scale subresource (what `kubectl scale` does).
    pub async fn scale(&self, name: &str, replicas: i32) -> Result<()> {
        let patch = json!({ "spec": { "replicas": replicas } });
        self.api
            .patch_scale(
                name,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| {
                explain(
                    &self.cluster,
                    "patch",
                    &format!("statefulsets/{name}/scale"),
                    e,
                )
            })?;
        Ok(())
    }

    /// Watches the StatefulSet's pods until `blocking` finds none in the way, or `timeout`
    /// passes; `blocking` names the pods still in the way.
    async fn watch_pods<F>(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        blocking: F,
    ) -> Result<()>
    where
        F: Fn(&BTreeMap<String, PodSummary>) -> Vec<String>,
    {
        let sts = self
            .api
            .get(name)
            .await
            .map_err(|e| explain(&self.cluster, "get", &format!("statefulsets/{name}"), e))?;
        let selector = sts
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .with_context(|| format!("StatefulSet {name} has no matchLabels selector"))?;
        let pods: Api<Pod> = self.cluster.api();
        let (store, changes) = wait::watch(pods, watcher::Config::default().labels(&selector), ());
        let mut wait = Wait::new(what, timeout, changes);
        loop {
            wait.changed().await?;
            let pods: BTreeMap<String, PodSummary> = store
                .state()
                .iter()
                .map(|pod| (pod.name_any(), PodSummary::of(pod)))
                .collect();
            let in_the_way = blocking(&pods);
            if in_the_way.is_empty() {
                return Ok(());
            }
            wait.waiting(in_the_way.join(", "));
        }
    }

    /// Waits until pods 0..replicas exist and are Ready.
    pub async fn wait_ready(&self, name: &str, replicas: i32, timeout: Duration) -> Result<()> {
        self.watch_pods(name, timeout, "brokers to become Ready", |pods| {
            not_ready(name, replicas, pods)
        })
        .await
    }

    /// Waits until the pods at or above ordinal `replicas` are gone.
    pub async fn wait_removed(&self, name: &str, replicas: i32, timeout: Duration) -> Result<()> {
        self.watch_pods(name, timeout, "removed brokers to terminate", |pods| {
            lingering(name, replicas, pods)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, ready: bool) -> PodSummary {
        PodSummary {
            phase: phase.into(),
            ready,
            deleting: false,
        }
    }

    #[test]
    fn not_ready_names_each_missing_or_unready_pod() {
        let pods = BTreeMap::from([
            ("b-0".to_string(), pod("Running", true)),
            ("b-1".to_string(), pod("Pending", false)),
            (
                "b-2".to_string(),
                PodSummary {
                    deleting: true,
                    ..pod("Running", true)
                },
            ),
        ]);
        assert_eq!(
            not_ready("b", 4, &pods),
            vec![
                "b-1 (Pending, not Ready)",
                "b-2 (terminating)",
                "b-3 (not created)"
            ]
        );
        assert!(not_ready("b", 1, &pods).is_empty());
    }

    #[test]
    fn lingering_pods_are_those_at_or_above_the_new_count() {
        let pods = BTreeMap::from([
            ("b-0".to_string(), pod("Running", true)),
            ("b-3".to_string(), pod("Running", true)),
            ("b-10".to_string(), pod("Running", true)),
            ("other-5".to_string(), pod("Running", true)),
        ]);
        assert_eq!(lingering("b", 3, &pods), vec!["b-10", "b-3"]);
        assert!(lingering("b", 11, &pods).is_empty());
    }

    #[test]
    fn readiness_comes_from_the_ready_condition() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "b-0" },
            "status": { "phase": "Running", "conditions": [ { "type": "Ready", "status": "True" } ] }
        }))
        .unwrap();
        assert_eq!(PodSummary::of(&pod), super::tests::pod("Running", true));
        assert_eq!(
            PodSummary::of(&Pod::default()),
            super::tests::pod("Pending", false)
        );
    }
}
