//! Resolves the kinds a deployment uses to the versions the cluster serves, with one discovery
//! round trip per group version. A kind asked for at a version the cluster lacks (policy/v1
//! PodDisruptionBudget on Kubernetes < 1.21) resolves to the group's preferred served version,
//! as Helm charts do with `.Capabilities`.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Context, Result};
use futures::future::try_join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList};
use kube::core::{ApiResource, GroupVersionKind};

use super::Cluster;

/// A kind as the cluster serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Kinds resolved against one cluster: key (group, kind).
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    kinds: BTreeMap<(String, String), ServedKind>,
}

impl Resolver {
    /// The served form of `api_version`/`kind`; the served version may differ from the asked one.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Result<&ServedKind> {
        let (group, _) = split_api_version(api_version);
        self.kinds
            .get(&(group.to_string(), kind.to_string()))
            .ok_or_else(|| anyhow!("the cluster serves no {kind} in API group {api_version}"))
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The version to use for a group: the one asked for when served, else the preferred one.
pub fn choose_version<'a>(
    asked: &'a str,
    served: &'a [String],
    preferred: Option<&'a str>,
) -> Option<&'a str> {
    if served.iter().any(|v| v == asked) {
        Some(asked)
    } else {
        preferred.or_else(|| served.first().map(String::as_str))
    }
}

/// Group versions to query for `wanted` (apiVersion, kind) pairs, given the served groups.
pub fn plan_group_versions(
    wanted: &[(String, String)],
    groups: &APIGroupList,
) -> Result<BTreeSet<String>> {
    let mut gvs = BTreeSet::new();
    for (api_version, kind) in wanted {
        let (group, version) = split_api_version(api_version);
        if group.is_empty() {
            gvs.insert(version.to_string());
            continue;
        }
        let served = groups
            .groups
            .iter()
            .find(|g| g.name == group)
            .ok_or_else(|| {
                anyhow!("the cluster does not serve API group {group:?} (needed for {kind})")
            })?;
        let versions: Vec<String> = served.versions.iter().map(|v| v.version.clone()).collect();
        let preferred = served
            .preferred_version
            .as_ref()
            .map(|p| p.version.as_str());
        let version = choose_version(version, &versions, preferred)
            .ok_or_else(|| anyhow!("API group {group:?} serves no version"))?;
        gvs.insert(format!("{group}/{version}"));
    }
    Ok(gvs)
}

/// Builds the resolver from resource lists (pure).
pub fn resolver_from_lists(lists: &[APIResourceList]) -> Resolver {
    let mut kinds = BTreeMap::new();
    for list in lists {
        let gvk_base = GroupVersionKind::gvk(
            split_api_version(&list.group_version).0,
            split_api_version(&list.group_version).1,
            "",
        );
        for r in &list.resources {
            if r.name.contains('/') {
                continue; // subresources
            }
            let gvk = GroupVersionKind {
                kind: r.kind.clone(),
                ..gvk_base.clone()
            };
            kinds.insert(
                (gvk.group.clone(), r.kind.clone()),
                ServedKind {
                    resource: ApiResource::from_gvk_with_plural(&gvk, &r.name),
                    namespaced: r.namespaced,
                },
            );
        }
    }
    Resolver { kinds }
}

/// Discovers how the cluster serves the given (apiVersion, kind) pairs.
pub async fn discover(cluster: &Cluster, wanted: &[(String, String)]) -> Result<Resolver> {
    let client = &cluster.client;
    let groups = client
        .list_api_groups()
        .await
        .map_err(|e| super::errors::explain(cluster, "discover", "API groups", e))?;
    let gvs = plan_group_versions(wanted, &groups)?;
    let lists = try_join_all(gvs.iter().map(|gv| async move {
        let list = if gv.contains('/') {
            client.list_api_group_resources(gv).await
        } else {
            client.list_core_api_resources(gv).await
        };
        list.map_err(|e| super::errors::explain(cluster, "discover", gv, e))
            .with_context(|| format!("discovering {gv}"))
    }))
    .await?;
    Ok(resolver_from_lists(&lists))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        APIGroup, APIResource, GroupVersionForDiscovery,
    };

    fn group(name: &str, versions: &[&str], preferred: &str) -> APIGroup {
        let gv = |v: &str| GroupVersionForDiscovery {
            group_version: format!("{name}/{v}"),
            version: v.to_string(),
        };
        APIGroup {
            name: name.to_string(),
            versions: versions.iter().map(|v| gv(v)).collect(),
            preferred_version: Some(gv(preferred)),
            ..Default::default()
        }
    }

    #[test]
    fn pdb_falls_back_to_the_served_version_on_old_clusters() {
        let groups = APIGroupList {
            groups: vec![
                group("policy", &["v1beta1"], "v1beta1"),
                group("apps", &["v1"], "v1"),
            ],
        };
        let wanted = vec![
            ("policy/v1".to_string(), "PodDisruptionBudget".to_string()),
            ("apps/v1".to_string(), "StatefulSet".to_string()),
            ("v1".to_string(), "Service".to_string()),
        ];
        let gvs = plan_group_versions(&wanted, &groups).unwrap();
        assert_eq!(
            gvs.into_iter().collect::<Vec<_>>(),
            ["apps/v1", "policy/v1beta1", "v1"]
        );
    }

    #[test]
    fn asked_version_wins_when_served() {
        let served = vec!["v1".to_string(), "v1beta1".to_string()];
        assert_eq!(choose_version("v1", &served, Some("v1beta1")), Some("v1"));
        assert_eq!(
            choose_version("v2", &served, Some("v1beta1")),
            Some("v1beta1")
        );
        assert_eq!(choose_version("v2", &[], None), None);
    }

    #[test]
    fn missing_group_is_an_error_naming_the_kind() {
        let err = plan_group_versions(
            &[("example.com/v1".into(), "Widget".into())],
            &APIGroupList::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("Widget"), "{err}");
    }

    #[test]
    fn resolver_maps_kinds_to_plural_resources_and_skips_subresources() {
        let list = APIResourceList {
            group_version: "policy/v1beta1".to_string(),
            resources: vec![
                APIResource {
                    name: "poddisruptionbudgets".into(),
                    kind: "PodDisruptionBudget".into(),
                    namespaced: true,
                    ..Default::default()
                },
                APIResource {
                    name: "poddisruptionbudgets/status".into(),
                    kind: "PodDisruptionBudget".into(),
                    namespaced: true,
                    ..Default::default()
                },
            ],
        };
        let resolver = resolver_from_lists(&[list]);
        let served = resolver
            .resolve("policy/v1", "PodDisruptionBudget")
            .unwrap();
        assert_eq!(served.resource.api_version, "policy/v1beta1");
        assert_eq!(served.resource.plural, "poddisruptionbudgets");
        assert!(served.namespaced);
        assert!(resolver.resolve("v1", "Pod").is_err());
    }
}
