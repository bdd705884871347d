//! Finding and deleting everything labelled part-of=kapture, kind by kind.
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::future::try_join_all;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};

use super::discovery::{Resolver, ServedKind};
use super::{errors, Cluster};
use crate::manifests::SELECTOR;

/// The objects of one kind that Kapture owns in the namespace.
#[derive(Debug, Clone)]
pub struct Owned {
    pub kind: ServedKind,
    pub names: Vec<String>,
}

fn api(cluster: &Cluster, kind: &ServedKind) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &kind.resource)
}

/// Lists Kapture's objects of each kind (concurrently), keeping the order of `kinds`.
pub async fn list_owned(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
) -> Result<Vec<Owned>> {
    try_join_all(kinds.iter().map(|(api_version, kind)| async move {
        let served = resolver.resolve(api_version, kind)?.clone();
        let list = api(cluster, &served)
            .list_metadata(&ListParams::default().labels(SELECTOR))
            .await
            .map_err(|e| errors::explain(cluster, "list", &served.resource.plural, e))?;
        let names = list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        Ok(Owned {
            kind: served,
            names,
        })
    }))
    .await
}

/// Deletes each kind's labelled objects with one collection delete, in the order given.
/// Dependents (pods, controller revisions) go with their owners in the background.
pub async fn delete_owned(cluster: &Cluster, owned: &[Owned]) -> Result<()> {
    let params = &DeleteParams::background();
    for entry in owned.iter().filter(|o| !o.names.is_empty()) {
        let api = &api(cluster, &entry.kind);
        let what = &entry.kind.resource.plural;
        match api
            .delete_collection(params, &ListParams::default().labels(SELECTOR))
            .await
        {
            Ok(_) => {}
            // Some kinds (Services before Kubernetes 1.23) have no collection delete: one by one.
            Err(kube::Error::Api(status)) if status.code == 405 => {
                try_join_all(entry.names.iter().map(|name| async move {
                    match api.delete(name, params).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => Err(errors::explain(
                            cluster,
                            "delete",
                            &format!("{what}/{name}"),
                            e,
                        )),
                    }
                }))
                .await?;
            }
            Err(e) => return Err(errors::explain(cluster, "delete", what, e)),
        }
    }
    Ok(())
}

/// Waits (bounded) until none of the kinds lists a labelled object; returns what remains on timeout.
pub async fn wait_gone(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
    timeout: Duration,
    mut progress: impl FnMut(usize),
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let owned = list_owned(cluster, resolver, kinds).await?;
        let remaining: Vec<String> = owned
            .iter()
            .flat_map(|o| {
                o.names
                    .iter()
                    .map(move |n| format!("{} {n}", o.kind.resource.kind))
            })
            .collect();
        if remaining.is_empty() {
            return Ok(());
        }
        progress(remaining.len());
        if Instant::now() >= deadline {
            bail!(
                "timed out after {} waiting for deletion; still present: {}",
                humantime::format_duration(timeout),
                remaining.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
