//! What the bench ran against: the Kubernetes version and the nodes with what they can give
//! pods. Neither is needed to measure, so a failure is a note, not an error.
use k8s_openapi::api::core::v1::Node as KubeNode;
use kube::api::{Api, ListParams};
use kube::ResourceExt;

use crate::bench::resources::quantity;
use crate::bench::{ClusterInfo, Node};
use crate::error::OneLine;
use crate::k8s::errors::explain_in;
use crate::k8s::Cluster;

/// The cluster's version and nodes, and notes on what could not be read.
pub async fn info(cluster: &Cluster) -> (ClusterInfo, Vec<String>) {
    let mut notes = Vec::new();
    let api: Api<KubeNode> = Api::all(cluster.client.clone());
    let all = ListParams::default();
    let (version, nodes) = tokio::join!(cluster.client.apiserver_version(), api.list(&all));
    let version = match version {
        Ok(v) => Some(v.git_version),
        Err(e) => {
            let e = explain_in(cluster, None, "get", "the server version", e);
            notes.push(format!(
                "no Kubernetes version in the report: {}",
                OneLine(&e)
            ));
            None
        }
    };
    let nodes = match nodes {
        Ok(list) => Some(list.items.iter().map(node).collect()),
        Err(e) => {
            let e = explain_in(cluster, None, "list", "nodes", e);
            notes.push(format!("no nodes in the report: {}", OneLine(&e)));
            None
        }
    };
    (ClusterInfo::new(version, nodes), notes)
}

fn node(node: &KubeNode) -> Node {
    let status = node.status.clone().unwrap_or_default();
    let allocatable = |resource: &str| {
        status
            .allocatable
            .as_ref()
            .and_then(|a| a.get(resource))
            .and_then(|q| quantity(&q.0))
    };
    Node {
        name: node.name_any(),
        kubelet_version: status
            .node_info
            .as_ref()
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_default(),
        allocatable_cpu_cores: allocatable("cpu"),
        allocatable_memory_bytes: allocatable("memory"),
    }
}
