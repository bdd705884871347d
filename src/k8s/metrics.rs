//! Scrapes the workload's Prometheus metrics through the API server's pod proxy, so a laptop
//! with nothing but kube access can read them. Errors are recorded per pod, never fatal.
use std::time::Duration;

use anyhow::Result;
use futures::future::join_all;
use http::Request;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::pods;
use super::Cluster;
use crate::component::Component;
use crate::diagnose::is_ready;
use crate::impact::{self, PodSample, Sample};
use crate::manifests::{LABEL_COMPONENT, LABEL_PART_OF, PART_OF};

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

/// Scrapes every Ready workload pod at once, each bounded by `timeout`. `at` is the sample's
/// time in seconds since the sampler started.
pub async fn sample(cluster: &Cluster, at: f64, timeout: Duration) -> Sample {
    let mut sample = Sample {
        at,
        ..Sample::default()
    };
    let listed = match pods::list(cluster, &selector()).await {
        Ok(p) => p,
        Err(e) => {
            for role in roles() {
                sample
                    .missing
                    .insert(role, format!("listing pods failed: {e:#}"));
            }
            return sample;
        }
    };
    for role in roles() {
        let has_ready = listed
            .iter()
            .any(|p| role_of(p) == Some(role) && is_ready(p));
        if !has_ready {
            let any = listed.iter().any(|p| role_of(p) == Some(role));
            let why = if any { "no ready pods" } else { "no pods" };
            sample.missing.insert(role, why.into());
        }
    }
    let scrapes = listed
        .iter()
        .filter(|p| is_ready(p))
        .filter_map(|p| Some((role_of(p)?, p)))
        .map(|(role, pod)| async move {
            let values = scrape(cluster, pod, timeout).await;
            PodSample {
                role,
                pod: pod.name_any(),
                values,
            }
        });
    sample.pods = join_all(scrapes).await;
    sample
}

fn role_of(pod: &Pod) -> Option<Component> {
    let label = pod.labels().get(LABEL_COMPONENT)?;
    roles().find(|r| r.name() == label)
}

async fn scrape(cluster: &Cluster, pod: &Pod, timeout: Duration) -> Result<impact::Values, String> {
    let url = format!(
        "/api/v1/namespaces/{}/pods/{}:{}/proxy/metrics",
        cluster.namespace,
        pod.name_any(),
        metrics_port(pod)
    );
    let request = Request::get(&url)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, cluster.client.request_text(request)).await {
        Ok(Ok(text)) => Ok(impact::parse(&text)),
        Ok(Err(kube::Error::Api(s))) => Err(format!("{} {}", s.code, s.message)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}
