//! `scale kafka` against the test bench: a real kube-apiserver + controller-manager (the
//! StatefulSet controller creates the pods; the kubelet stand-in makes them Ready) and
//! noida-db as the Kafka endpoint (one broker that holds every replica, so a scale-up plans
//! moves onto the new brokers).
mod support;

use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const STS: &str = "kapture-kafka-broker";

async fn create_broker_statefulset(client: &Client, ns: &str, replicas: i32) {
    let labels = json!({
        "app.kubernetes.io/part-of": "kapture",
        "app.kubernetes.io/managed-by": "kubectl-kapture",
        "app.kubernetes.io/component": "kafka-broker",
    });
    let sts: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": STS, "labels": labels },
        "spec": {
            "replicas": replicas,
            "serviceName": STS,
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": { "containers": [ { "name": "kafka", "image": "apache/kafka:4.0.0" } ] }
            }
        }
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sts)
        .await
        .unwrap();
}

async fn kapture(ns: &str, args: &[&str]) -> Output {
    let kubeconfig = support::kubeconfig_path();
    let bootstrap = support::kafka_bootstrap();
    // --bootstrap-server belongs to the subcommand, so it goes after it.
    let mut all = vec!["--kubeconfig", &kubeconfig, "-n", ns];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--bootstrap-server", &bootstrap]);
    support::run_plugin(&all).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn spec_replicas(client: &Client, ns: &str) -> i32 {
    let sts = Api::<StatefulSet>::namespaced(client.clone(), ns)
        .get(STS)
        .await
        .unwrap();
    sts.spec.unwrap().replicas.unwrap()
}

async fn pod_names(client: &Client, ns: &str) -> Vec<String> {
    let mut names: Vec<String> = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

async fn wait_ready_replicas(client: &Client, ns: &str, n: i32) {
    let api = Api::<StatefulSet>::namespaced(client.clone(), ns);
    support::wait_for(&format!("{n} ready replicas"), support::WAIT, || {
        let api = api.clone();
        async move {
            let ready = api
                .get(STS)
                .await
                .map_err(|e| e.to_string())?
                .status
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            if ready == n {
                Ok(())
            } else {
                Err(format!("{ready} ready"))
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_waits_for_ready_brokers_then_scale_down_removes_them() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-scale").await;
    let _kubelet = support::spawn_kubelet(client.clone(), &ns);
    create_broker_statefulset(&client, &ns, 1).await;
    wait_ready_replicas(&client, &ns, 1).await;

    // Dry run: the plan, and nothing changes.
    let out = kapture(
        &ns,
        &[
            "scale",
            "kafka",
            "--brokers",
            "3",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        plan["steps"][0]
            .as_str()
            .unwrap()
            .contains("from 1 to 3 replicas"),
        "{plan}"
    );
    // noida-db's one broker holds every replica; two more brokers take two thirds of them.
    assert!(plan["replica_moves"].as_u64().unwrap() > 0, "{plan}");
    assert_eq!(
        plan["plan"]["load_after"].as_array().unwrap().len(),
        3,
        "{plan}"
    );
    assert_eq!(spec_replicas(&client, &ns).await, 1);

    // Without --yes and without a terminal: refused, nothing changes.
    let out = kapture(&ns, &["scale", "kafka", "--brokers", "3", "--no-rebalance"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(spec_replicas(&client, &ns).await, 1);

    let started = std::time::Instant::now();
    let out = kapture(
        &ns,
        &[
            "scale",
            "kafka",
            "--brokers",
            "3",
            "--no-rebalance",
            "--yes",
            "--timeout",
            "60s",
        ],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("all 3 broker pods are Ready"), "{stderr}");
    eprintln!("scale 1 -> 3 with Ready pods took {:?}", started.elapsed());
    assert_eq!(spec_replicas(&client, &ns).await, 3);
    assert_eq!(
        pod_names(&client, &ns).await,
        vec![format!("{STS}-0"), format!("{STS}-1"), format!("{STS}-2")]
    );
    wait_ready_replicas(&client, &ns, 3).await;

    // Brokers 1 and 2 were never registered with the Kafka endpoint, so they host nothing
    // and may leave without --drain.
    let out = kapture(
        &ns,
        &[
            "scale",
            "kafka",
            "--brokers",
            "1",
            "--yes",
            "--timeout",
            "60s",
        ],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("removed broker pods are gone"), "{stderr}");
    assert_eq!(spec_replicas(&client, &ns).await, 1);
    assert_eq!(pod_names(&client, &ns).await, vec![format!("{STS}-0")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_that_never_become_ready_time_out_naming_the_pods() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-scale-stuck").await;
    // No kubelet: pod 0 stays Pending, so the StatefulSet controller never creates pod 1.
    create_broker_statefulset(&client, &ns, 1).await;
    let started = std::time::Instant::now();
    let out = kapture(
        &ns,
        &[
            "scale",
            "kafka",
            "--brokers",
            "2",
            "--no-rebalance",
            "--yes",
            "--timeout",
            "3s",
        ],
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("timed out after 3s waiting for brokers to become Ready"),
        "{stderr}"
    );
    assert!(
        last.contains(&format!("{STS}-0 (Pending, not Ready)")),
        "{stderr}"
    );
    assert!(last.contains(&format!("{STS}-1 (not created)")), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(30),
        "bounded by --timeout: {elapsed:?}"
    );
    assert_eq!(
        spec_replicas(&client, &ns).await,
        2,
        "the scale itself happened"
    );
}

// Multi-threaded: TestNamespace's drop blocks this thread while the client's connection
// still needs the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_statefulset_is_a_clear_error() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-scale-none").await;
    let out = kapture(&ns, &["scale", "kafka", "--brokers", "2", "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "StatefulSet {STS} not found in namespace {:?}",
            ns.name
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_the_brokers_cannot_run_fails_before_scaling() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-scale-noapi").await;
    create_broker_statefulset(&client, &ns, 1).await;
    let out = kapture(&ns, &["scale", "kafka", "--brokers", "2", "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("does not support partition reassignment (API key 45)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--no-rebalance"),
        "says how to proceed: {stderr}"
    );
    assert_eq!(spec_replicas(&client, &ns).await, 1, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bootstrap_server_it_port_forwards_and_says_when_there_is_nothing_to_reach() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-topics-pf").await;
    let kubeconfig = support::kubeconfig_path();
    let out = support::run_plugin(&["--kubeconfig", &kubeconfig, "-n", &ns, "topics"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("no pods of StatefulSet {STS} to port-forward to")),
        "{stderr}"
    );
    assert!(stderr.contains("--bootstrap-server"), "{stderr}");
}
