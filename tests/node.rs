//! Self-test of the bench's node tier (`scripts/testbench/start.sh --only node`): real pods from
//! the bench's own images, under the security context Kapture's manifests use; what the other
//! node tests rely on. Needs the bench and the worker image (`scripts/test.sh` builds it).

mod support;

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, ListParams, LogParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use support::node::{self, POD_WAIT};
use support::{wait_for, TestNamespace};

/// The container security context every Kapture workload gets.
fn locked_down(uid: u32) -> Value {
    json!({
        "runAsNonRoot": true, "runAsUser": uid, "runAsGroup": uid,
        "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] }, "seccompProfile": { "type": "RuntimeDefault" }
    })
}

async fn namespace(prefix: &str) -> (kube::Client, TestNamespace) {
    let client = node::client().await;
    let ns = node::namespace(&client, prefix).await;
    (client, ns)
}

#[tokio::test]
async fn the_worker_image_runs_as_nonroot_with_a_read_only_root() {
    let (client, ns) = namespace("node-worker").await;
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "version" },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "containers": [{
                    "name": "worker", "image": node::image("WORKER"), "imagePullPolicy": "Never",
                    "args": ["--version"], "securityContext": locked_down(65532)
                }]
            }}
        }
    }))
    .unwrap();
    Api::<Job>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &job)
        .await
        .unwrap();
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let pod = wait_for("the version job's pod to succeed", POD_WAIT, || {
        let pods = pods.clone();
        async move {
            let listed = pods
                .list(&ListParams::default().labels("job-name=version"))
                .await
                .map_err(|e| e.to_string())?
                .items;
            match listed.first() {
                Some(p)
                    if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded") =>
                {
                    Ok(p.clone())
                }
                Some(p) => Err(node::describe(p)),
                None => Err("no pod yet".into()),
            }
        }
    })
    .await;
    let logs = pods
        .logs(pod.metadata.name.as_deref().unwrap(), &LogParams::default())
        .await
        .unwrap();
    assert!(
        logs.starts_with("kapture-worker ") && logs.contains(env!("CARGO_PKG_VERSION")),
        "{logs}"
    );
}

#[tokio::test]
async fn a_missing_image_fails_at_once_without_leaving_the_machine() {
    let (client, ns) = namespace("node-pull").await;
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "missing" },
        "spec": { "containers": [{ "name": "main", "image": "registry.example/none:1" }] }
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let reason = wait_for("an image pull error", Duration::from_secs(30), || {
        let pods = pods.clone();
        async move {
            let pod = pods.get("missing").await.map_err(|e| e.to_string())?;
            let waiting = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.first())
                .and_then(|c| c.state.as_ref()?.waiting.clone());
            match waiting.and_then(|w| w.reason) {
                Some(r) if r == "ErrImagePull" || r == "ImagePullBackOff" => Ok(r),
                other => Err(format!("waiting reason {other:?}")),
            }
        }
    })
    .await;
    assert!(reason.contains("ImagePull"), "{reason}");
}

#[tokio::test]
async fn cluster_dns_answers_cluster_names_and_nothing_else() {
    let (client, ns) = namespace("node-dns").await;
    let bootstrap = node::deploy_noida(&client, &ns, node::Noida::Kafka).await;
    let host = bootstrap.split(':').next().unwrap().to_string();
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let lookup = |name: String| {
        let pods = pods.clone();
        async move {
            let mut attached = pods
                .exec(
                    "noida-0",
                    ["getent", "hosts", name.as_str()],
                    &AttachParams::default().container("noida-db").stderr(false),
                )
                .await
                .unwrap();
            let mut out = String::new();
            attached
                .stdout()
                .unwrap()
                .read_to_string(&mut out)
                .await
                .unwrap();
            let status = attached.take_status().unwrap().await.unwrap();
            (status.status, out)
        }
    };
    let (status, out) = lookup(host.clone()).await;
    assert_eq!(status.as_deref(), Some("Success"), "{host}: {out}");
    assert!(out.contains("198.19."), "a ClusterIP for {host}: {out}");
    let (status, out) = lookup("example.com".to_string()).await;
    assert_eq!(
        status.as_deref(),
        Some("Failure"),
        "example.com resolved: {out}"
    );
}
