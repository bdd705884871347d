//! Listing what Kapture runs in a namespace, and the namespace itself.
use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::core::ObjectMeta;

use super::{errors, Cluster};
use crate::manifests::{FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_PART_OF, PART_OF, SELECTOR};
use crate::status::Observed;

async fn list<K>(cluster: &Cluster, what: &str) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let list = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .map_err(|e| errors::explain(cluster, "list", what, e))?;
    Ok(list.items)
}

/// Lists Kapture's workloads and pods in the namespace (four concurrent requests).
pub async fn observe(cluster: &Cluster) -> Result<Observed> {
    let (statefulsets, deployments, jobs, pods) = tokio::try_join!(
        list::<StatefulSet>(cluster, "statefulsets"),
        list::<Deployment>(cluster, "deployments"),
        list::<Job>(cluster, "jobs"),
        list::<Pod>(cluster, "pods"),
    )?;
    Ok(Observed {
        statefulsets,
        deployments,
        jobs,
        pods,
    })
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
        Some(ns)
            if ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_PART_OF))
                .map(String::as_str)
                == Some(PART_OF) =>
        {
            NamespaceState::Ours
        }
        Some(_) => NamespaceState::Foreign,
    })
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
pub async fn delete_namespace(cluster: &Cluster, wait: Option<std::time::Duration>) -> Result<()> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let what = format!("namespace {}", cluster.namespace);
    api.delete(&cluster.namespace, &Default::default())
        .await
        .map_err(|e| errors::explain_in(cluster, None, "delete", &what, e))?;
    let Some(timeout) = wait else { return Ok(()) };
    let deadline = std::time::Instant::now() + timeout;
    while api
        .get_opt(&cluster.namespace)
        .await
        .map_err(|e| errors::explain_in(cluster, None, "get", &what, e))?
        .is_some()
    {
        if std::time::Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {} waiting for {what} to be deleted",
                humantime::format_duration(timeout)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Ok(())
}
