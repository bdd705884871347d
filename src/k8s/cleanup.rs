//! Finding and deleting everything labelled part-of=kapture, kind by kind.
use std::time::Duration;

use anyhow::Result;
use futures::future::try_join_all;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::core::ObjectMeta;
use kube::runtime::watcher;
use kube::ResourceExt;

use super::discovery::{Resolver, ServedKind};
use super::wait::{self, Wait};
use super::{errors, Cluster};
use crate::foreign::Listed;
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

/// Lists the metadata of the objects of each kind matching `params` (concurrently), keeping
/// the order of `kinds`.
async fn list_each(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
    params: &ListParams,
) -> Result<Vec<(ServedKind, Vec<ObjectMeta>)>> {
    try_join_all(kinds.iter().map(|(api_version, kind)| async move {
        let served = resolver.resolve(api_version, kind)?.clone();
        let list = api(cluster, &served)
            .list_metadata(params)
            .await
            .map_err(|e| errors::explain(cluster, "list", &served.resource.plural, e))?;
        let objects = list.items.into_iter().map(|o| o.metadata).collect();
        Ok((served, objects))
    }))
    .await
}

/// Lists Kapture's objects of each kind (concurrently), keeping the order of `kinds`.
pub async fn list_owned(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
) -> Result<Vec<Owned>> {
    let lists = list_each(
        cluster,
        resolver,
        kinds,
        &ListParams::default().labels(SELECTOR),
    )
    .await?;
    Ok(lists
        .into_iter()
        .map(|(kind, objects)| Owned {
            kind,
            names: objects.into_iter().filter_map(|o| o.name).collect(),
        })
        .collect())
}

/// Lists every object of each kind, Kapture's or not (metadata only, concurrently).
pub async fn list_all(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
) -> Result<Vec<Listed>> {
    let lists = list_each(cluster, resolver, kinds, &ListParams::default()).await?;
    Ok(lists
        .into_iter()
        .map(|(kind, objects)| Listed {
            kind: kind.resource.kind,
            objects,
        })
        .collect())
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

/// Waits (bounded) until no kind holds a labelled object, watching each kind.
pub async fn wait_gone(
    cluster: &Cluster,
    resolver: &Resolver,
    kinds: &[(String, String)],
    timeout: Duration,
) -> Result<()> {
    let mut stores = Vec::new();
    let mut watches = Vec::new();
    for (api_version, kind) in kinds {
        let served = resolver.resolve(api_version, kind)?;
        let config = watcher::Config::default().labels(SELECTOR);
        let (store, changes) = wait::watch(api(cluster, served), config, served.resource.clone());
        stores.push((&served.resource.kind, store));
        watches.push(changes);
    }
    let mut wait = Wait::new(
        "Kapture's objects to go",
        timeout,
        wait::all_listed(watches),
    );
    loop {
        wait.changed().await?;
        let remaining: Vec<String> = stores
            .iter()
            .flat_map(|(kind, store)| store.state().into_iter().map(move |o| (kind, o)))
            .map(|(kind, object)| format!("{kind} {}", object.name_any()))
            .collect();
        if remaining.is_empty() {
            return Ok(());
        }
        wait.waiting(format!(
            "{} left: {}",
            remaining.len(),
            remaining.join(", ")
        ));
    }
}
