//! Scrapes the workload's Prometheus metrics through the API server's pod proxy, so a laptop
//! with nothing but kube access can read them, and reads pods' CPU and memory from the metrics
//! API (metrics.k8s.io) where the cluster serves it. Errors are recorded per pod, never fatal.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::future::join_all;
use http::Request;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::pods;
use super::Cluster;
use crate::bench::resources::PodUsage;
use crate::component::Component;
use crate::diagnose::is_ready;
use crate::impact::{self, PodSample, Sample};
use crate::manifests::{LABEL_COMPONENT, LABEL_PART_OF, PART_OF, SELECTOR};

/// Port the workload serves metrics on when its container declares no port named `metrics`.
const DEFAULT_PORT: i32 = 9090;

/// The worker roles, whose pods serve the workload's metrics.
fn roles() -> impl Iterator<Item = Component> {
    Component::ALL.into_iter().filter(|c| c.is_worker_role())
}

/// Selector of every workload pod.
pub fn selector() -> String {
    let roles: Vec<&str> = roles().map(Component::name).collect();
    format!(
        "{LABEL_PART_OF}={PART_OF},{LABEL_COMPONENT} in ({})",
        roles.join(",")
    )
}

/// Whether the namespace has workload pods.
pub async fn workload_present(cluster: &Cluster) -> Result<bool> {
    Ok(!pods::list(cluster, &selector()).await?.is_empty())
}

/// The port of the container port named `metrics`, else the default.
fn metrics_port(pod: &Pod) -> i32 {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some("metrics"))
        .map_or(DEFAULT_PORT, |p| p.container_port)
}

/// Scrapes every Ready workload pod at once, each bounded by `timeout`, and times the sample
/// in seconds on `clock` when the answers are in: a pod reads its counters as it answers, which
/// under load comes well after the sampling began (listing the pods, the API server's proxy),
/// and rates over a short window would count that delay as traffic.
pub async fn sample(cluster: &Cluster, clock: Instant, timeout: Duration) -> Sample {
    let (pods, missing) = scrape_all(cluster, timeout, &|text, _| impact::parse(text)).await;
    Sample {
        at: clock.elapsed().as_secs_f64(),
        pods,
        missing,
    }
}

/// Every Ready workload pod's scrape, read with `parse` as its answer arrives, given how long
/// the answer took (the bench keeps the latency histogram and times each answer); and the
/// roles that had none to scrape, with the reason. The caller times the sample.
pub async fn scrape_all<V>(
    cluster: &Cluster,
    timeout: Duration,
    parse: &(impl Fn(&str, Duration) -> V + Sync),
) -> (Vec<PodSample<V>>, BTreeMap<Component, String>) {
    let mut missing = BTreeMap::new();
    let listed = match pods::list(cluster, &selector()).await {
        Ok(p) => p,
        Err(e) => {
            for role in roles() {
                missing.insert(role, format!("listing pods failed: {e:#}"));
            }
            return (Vec::new(), missing);
        }
    };
    for role in roles() {
        let has_ready = listed
            .iter()
            .any(|p| role_of(p) == Some(role) && is_ready(p));
        if !has_ready {
            let any = listed.iter().any(|p| role_of(p) == Some(role));
            let why = if any { "no ready pods" } else { "no pods" };
            missing.insert(role, why.into());
        }
    }
    let scrapes = listed
        .iter()
        .filter(|p| is_ready(p))
        .filter_map(|p| Some((role_of(p)?, p)))
        .map(|(role, pod)| async move {
            let values = scrape(cluster, pod, timeout, parse).await;
            PodSample {
                role,
                pod: pod.name_any(),
                values,
            }
        });
    (join_all(scrapes).await, missing)
}

fn role_of(pod: &Pod) -> Option<Component> {
    let label = pod.labels().get(LABEL_COMPONENT)?;
    roles().find(|r| r.name() == label)
}

async fn scrape<V>(
    cluster: &Cluster,
    pod: &Pod,
    timeout: Duration,
    parse: &(impl Fn(&str, Duration) -> V + Sync),
) -> Result<V, String> {
    let url = format!(
        "/api/v1/namespaces/{}/pods/{}:{}/proxy/metrics",
        cluster.namespace,
        pod.name_any(),
        metrics_port(pod)
    );
    let request = Request::get(&url)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let sent = Instant::now();
    match tokio::time::timeout(timeout, cluster.client.request_text(request)).await {
        Ok(Ok(text)) => Ok(parse(&text, sent.elapsed())),
        Ok(Err(kube::Error::Api(s))) => Err(format!("{} {}", s.code, s.message)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// The API group of the resource metrics API (served by metrics-server).
const METRICS_API_GROUP: &str = "metrics.k8s.io";

/// Whether the cluster serves the resource metrics API; the error says why the group list
/// could not be read.
pub async fn usage_served(cluster: &Cluster) -> Result<bool, String> {
    match cluster.client.list_api_groups().await {
        Ok(groups) => Ok(groups.groups.iter().any(|g| g.name == METRICS_API_GROUP)),
        Err(e) => Err(super::errors::explain(cluster, "discover", "API groups", e).to_string()),
    }
}

/// Usage of every Kapture pod in the namespace, in one request bounded by `timeout`; the
/// error is the API server's answer (a metrics-server that is down answers 503).
pub async fn pod_usage(cluster: &Cluster, timeout: Duration) -> Result<Vec<PodUsage>, String> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        metadata: kube::core::ObjectMeta,
        #[serde(default)]
        containers: Vec<Container>,
    }
    #[derive(serde::Deserialize)]
    struct Container {
        #[serde(default)]
        usage: std::collections::BTreeMap<String, String>,
    }
    let url = format!(
        "/apis/{METRICS_API_GROUP}/v1beta1/namespaces/{}/pods?labelSelector={}",
        cluster.namespace,
        SELECTOR.replace('/', "%2F").replace('=', "%3D")
    );
    let request = Request::get(&url)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let list: List = match tokio::time::timeout(timeout, cluster.client.request(request)).await {
        Ok(Ok(list)) => list,
        Ok(Err(kube::Error::Api(s))) => return Err(format!("{} {}", s.code, s.message)),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no answer within {timeout:?}")),
    };
    Ok(list
        .items
        .into_iter()
        .map(|item| {
            let usage = |resource: &str| -> Vec<String> {
                item.containers
                    .iter()
                    .filter_map(|c| c.usage.get(resource).cloned())
                    .collect()
            };
            PodUsage::new(
                item.metadata.name.clone().unwrap_or_default(),
                item.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_COMPONENT).cloned()),
                &usage("cpu"),
                &usage("memory"),
            )
        })
        .collect())
}
