//! The bench's node tier: a real single-node Kubernetes v1.20.2 (kubelet, containerd, kube-proxy,
//! cluster DNS) started by `scripts/testbench/start.sh --only node`. Pods really run here, from
//! images the bench built and imported (`scripts/testbench/images.sh`): nothing can be pulled.
//!
//! * Pods get addresses in 198.18.0.0/24 and reach each other and their Services; the test
//!   process reaches pod addresses too (the node's bridge is on this machine), and the API
//!   server's pod proxy, exec, logs and port-forward work.
//! * Deleting a pod takes its grace period plus a few seconds (the kubelet reports it gone).
//! * A missing image fails at once with `ErrImagePull` (every registry is a closed local port).
//! * Kafka is noida-db, a Kafka-protocol reimplementation, run in the test's namespace by
//!   [`deploy_noida`]; Apache Kafka cannot be obtained on this machine. A second noida-db,
//!   speaking MongoDB's wire protocol, stands in for MongoDB the same way.
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};

use super::{client_from_kubeconfig, env, wait_for};

/// Bound for waits on real pods: image unpacking and probes take longer than the stand-in.
pub const POD_WAIT: Duration = Duration::from_secs(120);

/// Admin kubeconfig of the node's cluster (context `kapture-node`).
pub fn kubeconfig_path() -> String {
    env("NODE_KUBECONFIG")
}

/// Admin client of the node's cluster.
pub async fn client() -> Client {
    client_from_kubeconfig(&kubeconfig_path()).await
}

/// A fresh namespace on the node, returned once pods can be created in it: the node's API
/// server admits a pod only after the token controller gave the namespace's `default`
/// ServiceAccount its token ("No API token found for service account"). Controllers retry
/// that by themselves; a test that creates a pod directly must wait.
pub async fn namespace(client: &Client, prefix: &str) -> super::TestNamespace {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let ns = super::TestNamespace::in_cluster(client, &kubeconfig_path(), prefix).await;
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &ns);
    wait_for("the default ServiceAccount's token", POD_WAIT, || {
        let accounts = accounts.clone();
        async move {
            match accounts
                .get_opt("default")
                .await
                .map_err(|e| e.to_string())?
            {
                Some(sa) if sa.secrets.as_ref().is_some_and(|s| !s.is_empty()) => Ok(()),
                Some(_) => Err("no token yet".to_string()),
                None => Err("no ServiceAccount yet".to_string()),
            }
        }
    })
    .await;
    ns
}

/// An image on the node, by its bench name: `WORKER`, `REDIS`, `POSTGRES` or `NOIDA`.
pub fn image(name: &str) -> String {
    env(&format!("IMAGE_{name}"))
}

/// The `--set-image` flags that make a deploy use the bench's images for everything it deploys.
pub fn set_image_args() -> Vec<String> {
    [
        ("worker", "WORKER"),
        ("redis", "REDIS"),
        ("postgres", "POSTGRES"),
    ]
    .iter()
    .flat_map(|(flag, bench)| {
        [
            "--set-image".to_string(),
            format!("{flag}={}", image(bench)),
        ]
    })
    .collect()
}

/// Which of noida-db's protocols a [`deploy_noida`] pod serves.
#[derive(Debug, Clone, Copy)]
pub enum Noida {
    /// The Kafka of `deploy --kafka-bootstrap`: StatefulSet and Service `noida`, port 9092.
    Kafka,
    /// The MongoDB of `deploy --mongo-url` (no authentication): `noida-mongo`, port 27017.
    Mongo,
}

impl Noida {
    /// (object name, noida-db service, port)
    fn parts(self) -> (&'static str, &'static str, u16) {
        match self {
            Noida::Kafka => ("noida", "kafka", 9092),
            Noida::Mongo => ("noida-mongo", "mongodb", 27017),
        }
    }
}

/// Runs noida-db serving `protocol` in `ns` (`scripts/testbench/noida.yaml`), waits until it
/// accepts connections, and returns its in-cluster address: `HOST:PORT` for Kafka, a
/// `mongodb://` URL for Mongo.
pub async fn deploy_noida(client: &Client, ns: &str, protocol: Noida) -> String {
    let (name, service_name, port) = protocol.parts();
    let text = include_str!("../../scripts/testbench/noida.yaml")
        .replace("@IMAGE@", &image("NOIDA"))
        .replace("@NAME@", name)
        .replace("@SERVICE@", service_name)
        .replace("@PORT@", &port.to_string());
    let mut documents = serde_yaml::Deserializer::from_str(&text);
    let service: Service = serde::Deserialize::deserialize(documents.next().expect("a Service"))
        .expect("noida Service");
    let statefulset: StatefulSet =
        serde::Deserialize::deserialize(documents.next().expect("a StatefulSet"))
            .expect("noida StatefulSet");
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await
        .unwrap_or_else(|e| panic!("creating service {ns}/{name}: {e}"));
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &statefulset)
        .await
        .unwrap_or_else(|e| panic!("creating statefulset {ns}/{name}: {e}"));
    wait_pods_ready(client, ns, &format!("app={name}"), 1).await;
    let address = format!("{name}.{ns}.svc.cluster.local:{port}");
    match protocol {
        Noida::Kafka => address,
        Noida::Mongo => format!("mongodb://{address}"),
    }
}

/// Waits until `count` pods matching `selector` in `ns` are Ready; the failure names each
/// pod's phase and waiting reasons.
pub async fn wait_pods_ready(client: &Client, ns: &str, selector: &str, count: usize) -> Vec<Pod> {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    wait_for(
        &format!("{count} ready pods {selector} in {ns}"),
        POD_WAIT,
        || {
            let api = api.clone();
            async move {
                let pods = api
                    .list(&ListParams::default().labels(selector))
                    .await
                    .map_err(|e| e.to_string())?
                    .items;
                let ready: Vec<Pod> = pods.iter().filter(|p| is_ready(p)).cloned().collect();
                if ready.len() >= count {
                    Ok(ready)
                } else {
                    Err(pods.iter().map(describe).collect::<Vec<_>>().join("; "))
                }
            }
        },
    )
    .await
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `name phase [container: reason]...`, for failure messages.
pub fn describe(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let reasons: Vec<String> = status
        .container_statuses
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            Some(format!(
                "{}: {} {}",
                c.name,
                waiting.reason.clone().unwrap_or_default(),
                waiting.message.clone().unwrap_or_default()
            ))
        })
        .collect();
    format!(
        "{} {} [{}]",
        pod.metadata.name.clone().unwrap_or_default(),
        status.phase.unwrap_or_default(),
        reasons.join(", ")
    )
}

/// The pod's IP (the test process reaches it directly: the node's bridge is on this machine).
pub fn pod_ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .expect("a ready pod has an IP")
}
