//! Server-side apply of rendered manifests: discover once, check ownership, apply concurrently.
use anyhow::{Context, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::TypeMeta;
use serde::Serialize;

use super::discovery::{Resolver, ServedKind};
use super::{errors, Cluster};
use crate::component::Component;
use crate::error::KaptureError;
use crate::manifests::{is_kapture_labelled, Manifest, FIELD_MANAGER};

/// How many requests are in flight at once: enough to hide latency, few enough to be polite.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    /// Left as it is on purpose (a generated Secret keeps its first value).
    Kept,
    /// Rendered by a client dry run; the cluster was not asked.
    Planned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub component: Component,
    pub kind: String,
    pub api_version: String,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    pub force_conflicts: bool,
}

/// What the cluster holds under a manifest's name before the apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing {
    Absent,
    /// Kapture's, with its [`content`] at the time it was read.
    Ours {
        content: serde_json::Value,
    },
    Foreign,
}

impl Existing {
    fn of(object: Option<&DynamicObject>) -> Existing {
        match object {
            None => Existing::Absent,
            Some(o) if is_kapture_labelled(&o.metadata) => Existing::Ours {
                content: content(o),
            },
            Some(_) => Existing::Foreign,
        }
    }
}

/// An object without what its controllers write on their own (status, and with it the
/// resourceVersion and managedFields bookkeeping), so an apply is judged by what it changed, not
/// by a status update that happened to land between the read and the apply.
pub fn content(object: &DynamicObject) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("resourceVersion");
        metadata.remove("managedFields");
    }
    value
}

/// Created, configured or unchanged, from the object's content before and after the apply.
pub fn outcome(before: &Existing, after: &DynamicObject) -> Outcome {
    match before {
        Existing::Absent | Existing::Foreign => Outcome::Created,
        Existing::Ours { content: old } if *old == content(after) => Outcome::Unchanged,
        Existing::Ours { .. } => Outcome::Configured,
    }
}

/// Objects whose first value must survive re-deploys (generated secrets).
fn keep_when_present(manifest: &Manifest) -> bool {
    manifest.kind() == "Secret"
}

fn api_for(cluster: &Cluster, served: &ServedKind) -> Api<DynamicObject> {
    if served.namespaced {
        Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &served.resource)
    } else {
        Api::all_with(cluster.client.clone(), &served.resource)
    }
}

fn describe(manifest: &Manifest) -> String {
    format!("{} {}", manifest.kind(), manifest.name())
}

/// Reads what exists under every manifest's name, concurrently. Refuses foreign objects.
pub async fn check_existing(
    cluster: &Cluster,
    resolver: &Resolver,
    manifests: &[Manifest],
) -> Result<Vec<Existing>> {
    let existing: Vec<Existing> = stream::iter(manifests.iter().map(|m| async move {
        let served = resolver.resolve(m.api_version(), m.kind())?;
        let found = api_for(cluster, served)
            .get_opt(m.name())
            .await
            .map_err(|e| errors::explain(cluster, "get", &describe(m), e))?;
        Ok::<_, anyhow::Error>(Existing::of(found.as_ref()))
    }))
    .buffered(CONCURRENCY)
    .try_collect()
    .await?;
    let foreign: Vec<String> = manifests
        .iter()
        .zip(&existing)
        .filter(|(_, e)| **e == Existing::Foreign)
        .map(|(m, _)| describe(m))
        .collect();
    if !foreign.is_empty() {
        return Err(KaptureError::InvalidInput(format!(
            "namespace {:?} already holds objects Kapture did not create: {} (delete them or deploy into another namespace with -n)",
            cluster.namespace,
            foreign.join(", ")
        ))
        .into());
    }
    Ok(existing)
}

/// Applies every manifest with server-side apply, concurrently; results in manifest order.
pub async fn apply_all(
    cluster: &Cluster,
    resolver: &Resolver,
    manifests: &[Manifest],
    existing: &[Existing],
    options: ApplyOptions,
) -> Result<Vec<Applied>> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = options.force_conflicts;
    params.dry_run = options.dry_run;
    let params = &params;
    stream::iter(manifests.iter().zip(existing).map(|(manifest, before)| async move {
        let served = resolver.resolve(manifest.api_version(), manifest.kind())?;
        let applied = |outcome| Applied {
            component: manifest.component,
            kind: manifest.kind().to_string(),
            api_version: served.resource.api_version.clone(),
            name: manifest.name().to_string(),
            outcome,
        };
        if keep_when_present(manifest) && *before != Existing::Absent {
            return Ok(applied(Outcome::Kept));
        }
        let mut object = manifest.object.clone();
        object.types = Some(TypeMeta {
            api_version: served.resource.api_version.clone(),
            kind: served.resource.kind.clone(),
        });
        let result = api_for(cluster, served)
            .patch(manifest.name(), params, &Patch::Apply(&object))
            .await;
        let after = match result {
            Ok(after) => after,
            Err(kube::Error::Api(status)) if status.code == 409 => {
                return Err(KaptureError::InvalidInput(format!(
                    "{} has fields owned by another field manager: {} (rerun with --force-conflicts to take them over)",
                    describe(manifest),
                    status.message
                ))
                .into())
            }
            Err(e) => return Err(errors::explain(cluster, "apply", &describe(manifest), e)),
        };
        Ok(applied(outcome(before, &after)))
    }))
    .buffered(CONCURRENCY)
    .try_collect()
    .await
    .context("server-side apply failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::{LABEL_PART_OF, PART_OF};
    use std::collections::BTreeMap;

    fn object(labels: &[(&str, &str)], rv: &str) -> DynamicObject {
        let mut o = DynamicObject::new(
            "x",
            &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&()),
        );
        o.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        o.metadata.resource_version = Some(rv.to_string());
        o
    }

    #[test]
    fn ownership_is_read_from_the_part_of_label() {
        assert_eq!(Existing::of(None), Existing::Absent);
        assert_eq!(
            Existing::of(Some(&object(&[(LABEL_PART_OF, PART_OF)], "7"))),
            Existing::Ours {
                content: content(&object(&[(LABEL_PART_OF, PART_OF)], "7"))
            }
        );
        assert_eq!(
            Existing::of(Some(&object(&[("app", "mine")], "7"))),
            Existing::Foreign
        );
        assert_eq!(
            Existing::of(Some(&object(&[(LABEL_PART_OF, "other")], "7"))),
            Existing::Foreign
        );
    }

    #[test]
    fn outcome_ignores_status_and_bookkeeping_but_not_content() {
        let before = object(&[(LABEL_PART_OF, PART_OF)], "7");
        let ours = Existing::Ours {
            content: content(&before),
        };
        assert_eq!(outcome(&Existing::Absent, &before), Outcome::Created);
        assert_eq!(outcome(&ours, &before), Outcome::Unchanged);
        // A controller wrote status in between: new resourceVersion, same content.
        let mut status_only = before.clone();
        status_only.metadata.resource_version = Some("8".into());
        status_only.data = serde_json::json!({"status": {"readyReplicas": 1}});
        assert_eq!(outcome(&ours, &status_only), Outcome::Unchanged);
        let mut changed = before.clone();
        changed.data = serde_json::json!({"spec": {"replicas": 5}});
        assert_eq!(outcome(&ours, &changed), Outcome::Configured);
    }
}
