//! Kapture for real on the bench's node: real pods from the manifests, under their security
//! context, probes, restarts, chaos, evictions, the pod proxy, port-forward and the integrity
//! verdict. Kafka is noida-db (a Kafka-protocol reimplementation) running in its own namespace
//! and given to deploy with `--kafka-bootstrap`; Redis, PostgreSQL and the workload run from
//! the bench's images (`--set-image`). Needs the bench with its node and the worker image
//! (`scripts/test.sh` builds it).

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

use support::node::{self, POD_WAIT};
use support::{assert_success, json_of, stderr, wait_for, TestNamespace};

/// Bound on one deploy --wait: image unpacking, Postgres initdb and the worker's start-up.
const DEPLOY_TIMEOUT: &str = "4m";

/// A Kapture namespace on the node and noida-db in a namespace of its own.
struct Flow {
    client: Client,
    ns: TestNamespace,
    /// Where the stand-ins for the stores Kapture does not deploy run (noida-db).
    stores_ns: TestNamespace,
    bootstrap: String,
}

impl Flow {
    async fn new(prefix: &str) -> Flow {
        let client = node::client().await;
        let kafka = node::namespace(&client, &format!("{prefix}-kafka")).await;
        let bootstrap = node::deploy_noida(&client, &kafka, node::Noida::Kafka).await;
        // Kapture creates it, so `delete --namespace-too` may delete it.
        let ns = TestNamespace::reserved(&node::kubeconfig_path(), prefix);
        Flow {
            client,
            ns,
            stores_ns: kafka,
            bootstrap,
        }
    }

    /// `kubectl kapture ARGS -n NS` against the node, bounded by `within`.
    async fn kapture(&self, args: &[&str], within: Duration) -> Output {
        let kubeconfig = node::kubeconfig_path();
        let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", &self.ns];
        all.extend_from_slice(args);
        support::run_plugin_within(&all, within).await
    }

    /// Deploys everything but Kafka with the bench's images and waits for readiness.
    async fn deploy(&self, extra: &[&str]) -> Output {
        let images = node::set_image_args();
        let mut args: Vec<&str> = vec![
            "deploy",
            "--kafka-bootstrap",
            &self.bootstrap,
            "--replication-factor",
            "1",
            "--partitions",
            "3",
            "--wait=true",
            "--timeout",
            DEPLOY_TIMEOUT,
        ];
        args.extend(images.iter().map(String::as_str));
        args.extend_from_slice(extra);
        let out = self.kapture(&args, Duration::from_secs(300)).await;
        assert_success(&out, "deploy");
        out
    }

    /// `chaos ARGS --yes -o json`, which must succeed within 5 minutes; its report.
    async fn chaos(&self, args: &[&str]) -> Value {
        let mut all = vec!["chaos"];
        all.extend_from_slice(args);
        all.extend(["--yes", "-o", "json"]);
        let out = self.kapture(&all, Duration::from_secs(300)).await;
        assert_success(&out, "chaos");
        json_of(&out)
    }

    async fn status(&self) -> Value {
        let out = self
            .kapture(&["status", "-o", "json"], Duration::from_secs(60))
            .await;
        assert_success(&out, "status");
        json_of(&out)
    }

    /// Waits until the sinks have written at least `rows` transactions (read from the verify
    /// report of a running flow: postgres_rows grows while the load runs).
    async fn wait_for_rows(&self, rows: u64) {
        let pods = Api::<Pod>::namespaced(self.client.clone(), &self.ns);
        wait_for(&format!("{rows} rows in Postgres"), POD_WAIT, || {
            let pods = pods.clone();
            async move {
                let count = postgres_rows(&pods).await?;
                if count >= rows {
                    Ok(())
                } else {
                    Err(format!("{count} rows"))
                }
            }
        })
        .await;
    }

    /// `verify --stop-load`: stops the load, lets the flow drain, runs the verdict in-cluster.
    async fn verify(&self) -> (Output, Value) {
        let out = self
            .kapture(
                &["verify", "--stop-load", "-o", "json"],
                Duration::from_secs(300),
            )
            .await;
        let report = json_of(&out);
        (out, report)
    }
}

/// `SELECT count(*)` through `psql` in the Postgres pod (the image's own client).
async fn postgres_rows(pods: &Api<Pod>) -> Result<u64, String> {
    use tokio::io::AsyncReadExt;
    let mut attached = pods
        .exec(
            "kapture-postgres-0",
            [
                "psql",
                "-U",
                "kapture",
                "-d",
                "kapture",
                "-tAc",
                "SELECT count(*) FROM transactions",
            ],
            &kube::api::AttachParams::default().stderr(false),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    attached
        .stdout()
        .ok_or("no stdout")?
        .read_to_string(&mut out)
        .await
        .map_err(|e| e.to_string())?;
    out.trim().parse().map_err(|_| format!("psql said {out:?}"))
}

/// The components a `status -o json` report has rows for.
fn component_names(status: &Value) -> Vec<&str> {
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["component"].as_str())
        .collect()
}

fn assert_intact(report: &Value) {
    assert_eq!(report["lost"], 0, "{report:#}");
    assert_eq!(report["duplicated"], 0, "{report:#}");
    assert!(report["acked"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["ok"], true, "{report:#}");
}

#[tokio::test]
async fn the_whole_flow_runs_on_real_pods_and_nothing_is_lost() {
    let flow = Flow::new("flow").await;
    let started = Instant::now();
    let out = flow.deploy(&["--rate", "100"]).await;
    eprintln!("deploy to all Ready: {:?}", started.elapsed());
    assert!(stderr(&out).contains("ready"), "{}", stderr(&out));

    let status = flow.status().await;
    for row in status["components"].as_array().unwrap() {
        assert!(
            matches!(row["state"].as_str(), Some("Ready" | "Complete")),
            "{row:#}"
        );
    }
    assert!(
        !component_names(&status).contains(&"kafka-broker"),
        "Kafka was given: none of Kapture's own"
    );
    flow.wait_for_rows(200).await;

    // The in-cluster Kafka through the kubelet's port-forward.
    let topics = flow
        .kapture(&["topics", "-o", "json"], Duration::from_secs(60))
        .await;
    assert_success(&topics, "topics");
    assert!(
        String::from_utf8_lossy(&topics.stdout).contains("\"transactions\""),
        "{}",
        String::from_utf8_lossy(&topics.stdout)
    );

    let (out, report) = flow.verify().await;
    assert_success(&out, "verify");
    assert_intact(&report);

    // Kafka is not Kapture's here: chaos and scale say so instead of acting.
    let chaos = flow
        .kapture(
            &["chaos", "--kill", "kafka", "--yes"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(chaos.status.code(), Some(2), "{}", stderr(&chaos));
    assert!(
        stderr(&chaos).contains("--kafka-bootstrap"),
        "{}",
        stderr(&chaos)
    );
    let scale = flow
        .kapture(
            &["scale", "kafka", "--brokers", "3", "--yes"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(scale.status.code(), Some(2), "{}", stderr(&scale));
    assert!(
        stderr(&scale).contains("--kafka-bootstrap"),
        "{}",
        stderr(&scale)
    );

    // delete --namespace-too leaves nothing: the namespace and its pods are gone.
    let out = flow
        .kapture(
            &["delete", "--yes", "--namespace-too"],
            Duration::from_secs(180),
        )
        .await;
    assert_success(&out, "delete");
    let namespaces = Api::<Namespace>::all(flow.client.clone());
    let pods = Api::<Pod>::namespaced(flow.client.clone(), &flow.ns);
    wait_for("the namespace and its pods to be gone", POD_WAIT, || {
        let (namespaces, pods, ns) = (namespaces.clone(), pods.clone(), flow.ns.name.clone());
        async move {
            let left = pods
                .list(&ListParams::default())
                .await
                .map(|l| l.items.len())
                .unwrap_or(0);
            match namespaces.get_opt(&ns).await.map_err(|e| e.to_string())? {
                None if left == 0 => Ok(()),
                _ => Err(format!("{left} pods left")),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn killing_every_stateless_role_under_load_loses_nothing() {
    let flow = Flow::new("chaos").await;
    flow.deploy(&["--rate", "200"]).await;
    flow.wait_for_rows(200).await;
    let report = flow
        .chaos(&[
            "--kill",
            "router,sink-postgres,sink-redis,order-service",
            "--impact",
            "on",
            "--baseline",
            "10s",
            "--settle",
            "20s",
        ])
        .await;
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 4, "{report:#}");
    for action in actions {
        assert!(
            action["recoverySeconds"].as_f64().is_some_and(|s| s > 0.0),
            "{action:#}"
        );
    }
    // Measured through the pod proxy on real pods: the flow moved before and after.
    let impact = &report["impact"];
    assert!(
        impact["windows"][0]["orderServiceProducedPerSecond"]["value"]
            .as_f64()
            .is_some_and(|v| v > 0.0),
        "{impact:#}"
    );
    let (out, verdict) = flow.verify().await;
    assert_success(&out, "verify");
    assert_intact(&verdict);
}

/// `--mongo-url`: the Mongo sink writes to a MongoDB Kapture does not deploy (noida-db's MongoDB
/// protocol in a pod of its own, no credentials), keeps every transaction once through two
/// kills of the sink, and `verify` reads that MongoDB through the sink's settings.
#[tokio::test]
async fn an_external_mongo_gets_every_transaction_once_through_kills_of_its_sink() {
    let flow = Flow::new("mongo").await;
    let mongo = node::deploy_noida(&flow.client, &flow.stores_ns, node::Noida::Mongo).await;
    flow.deploy(&[
        "--rate",
        "150",
        "--components",
        "default,sink-mongo",
        "--mongo-url",
        &mongo,
    ])
    .await;
    let status = flow.status().await;
    let components = component_names(&status);
    assert!(components.contains(&"sink-mongo"), "{status:#}");
    assert!(!components.contains(&"mongo"), "{status:#}");
    flow.wait_for_rows(300).await;
    let report = flow
        .chaos(&[
            "--kill",
            "sink-mongo",
            "--rounds",
            "2",
            "--interval",
            "15s",
            "--impact",
            "off",
        ])
        .await;
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{report:#}");
    let (out, verdict) = flow.verify().await;
    assert_success(&out, "verify");
    assert_intact(&verdict);
    let acked = verdict["acked"].as_u64().unwrap();
    assert!(
        verdict["mongo_documents"].as_u64().unwrap() >= acked,
        "{verdict:#}"
    );
    assert_eq!(verdict["mongo_lost"], 0, "{verdict:#}");
    assert_eq!(verdict["mongo_duplicates"], 0, "{verdict:#}");
    assert_eq!(verdict["mongo_states_match"], true, "{verdict:#}");
}

/// hostPath PersistentVolumes of `class` for a deploy's two claims (Redis, Postgres).
async fn persistent_volumes(client: &Client, class: &str, dir: &std::path::Path) {
    let api = Api::<PersistentVolume>::all(client.clone());
    for i in 0..2 {
        let path = dir.join(format!("pv{i}"));
        std::fs::create_dir_all(&path).unwrap();
        // The stateful images run as uid 999 (fsGroup is not applied to hostPath volumes).
        std::process::Command::new("chown")
            .args(["999:999", path.to_str().unwrap()])
            .status()
            .unwrap();
        let pv: PersistentVolume = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": { "name": format!("{class}-{i}") },
            "spec": {
                "capacity": { "storage": "1Gi" },
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": class,
                "hostPath": { "path": path.to_str().unwrap(), "type": "DirectoryOrCreate" }
            }
        }))
        .unwrap();
        api.create(&PostParams::default(), &pv).await.unwrap();
    }
}

#[tokio::test]
async fn with_persistent_storage_killing_postgres_and_redis_loses_nothing() {
    let flow = Flow::new("persist").await;
    let class = flow.ns.name.clone();
    let dir = tempfile::tempdir().unwrap();
    persistent_volumes(&flow.client, &class, dir.path()).await;
    flow.deploy(&[
        "--rate",
        "100",
        "--storage",
        "persistent",
        "--storage-class",
        &class,
        "--storage-size",
        "1Gi",
    ])
    .await;
    flow.wait_for_rows(200).await;
    let out = flow
        .kapture(
            &["chaos", "--kill", "postgres,redis", "--yes", "-o", "json"],
            Duration::from_secs(300),
        )
        .await;
    assert_success(&out, "chaos");
    assert!(
        !stderr(&out).contains("ephemeral"),
        "no data-loss warning with persistent storage: {}",
        stderr(&out)
    );
    let (out, verdict) = flow.verify().await;
    assert_success(&out, "verify");
    assert_intact(&verdict);
}

#[tokio::test]
async fn stateful_kills_warn_first_and_evictions_honour_the_budget() {
    let flow = Flow::new("evict").await;
    flow.deploy(&["--rate", "50", "--components", "redis,order-service"])
        .await;
    // Two order-service pods, a budget of one disruption: one eviction goes, one is refused.
    let out = flow
        .kapture(
            &[
                "chaos",
                "--kill",
                "order-service",
                "--evict",
                "--count",
                "2",
                "--yes",
                "-o",
                "json",
            ],
            Duration::from_secs(180),
        )
        .await;
    let report = json_of(&out);
    let outcomes: Vec<&str> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"evicted") && outcomes.contains(&"blocked-by-pdb"),
        "{report:#}"
    );

    // Redis on ephemeral storage: the plan says what a kill loses before anything happens.
    let out = flow
        .kapture(
            &["chaos", "--kill", "redis", "--dry-run"],
            Duration::from_secs(60),
        )
        .await;
    assert_success(&out, "chaos --dry-run");
    let err = stderr(&out);
    assert!(err.contains("ephemeral") && err.contains("redis"), "{err}");
}

#[tokio::test]
async fn a_missing_image_fails_the_wait_early_and_status_says_why() {
    let flow = Flow::new("missing").await;
    let started = Instant::now();
    let out = flow
        .kapture(
            &[
                "deploy",
                "--components",
                "redis",
                "--set-image",
                "redis=registry.example/kapture/none:1",
                "--wait=true",
                "--timeout",
                "3m",
            ],
            Duration::from_secs(240),
        )
        .await;
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("kapture-redis-0") && err.contains("ImagePull") && err.contains("--set-image"),
        "{err}"
    );
    assert!(waited < Duration::from_secs(90), "waited {waited:?}: {err}");

    let out = flow
        .kapture(&["status", "-o", "json"], Duration::from_secs(60))
        .await;
    let status = json_of(&out);
    let redis = &status["components"][0];
    assert_eq!(redis["state"], "Stuck", "{status:#}");
    assert!(
        redis["problems"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("ImagePull")),
        "{status:#}"
    );
}
