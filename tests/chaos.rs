//! `kubectl kapture chaos` against the bench's kube-apiserver + controller-manager (1.20.2,
//! policy/v1beta1 only). Each test builds its own StatefulSet `kapture-kafka-broker` (and PDB)
//! in a fresh namespace and runs the real binary.
mod support;

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use support::{
    admin_client, json_of, kubeconfig_path, mark_pod_not_ready, nobody_kubeconfig_path,
    spawn_kubelet, spawn_kubelet_with_delay, stderr, wait_for, TestNamespace, WAIT,
};
use tokio::process::Command;

const BROKERS: &str = "app.kubernetes.io/part-of=kapture,app.kubernetes.io/component=kafka-broker";

/// Runs the real binary with stdin closed (no terminal), the way CI does. Asynchronously, so
/// the kubelet stand-in keeps running on the test's runtime meanwhile; bounded in time.
async fn kapture(kubeconfig: &str, ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["--kubeconfig", kubeconfig, "-n", ns];
    all.extend_from_slice(args);
    support::run_plugin(&all).await
}

fn kapture_labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/part-of": "kapture",
        "app.kubernetes.io/managed-by": "kubectl-kapture",
        "app.kubernetes.io/component": component,
    })
}

/// A StatefulSet shaped like Kapture's brokers; Parallel so every pod exists without waiting
/// for its predecessor to be Ready.
async fn create_brokers(client: &Client, ns: &str, replicas: i32) {
    let sts: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": "kapture-kafka-broker", "labels": kapture_labels("kafka-broker") },
        "spec": {
            "replicas": replicas,
            "serviceName": "kapture-kafka-broker",
            "podManagementPolicy": "Parallel",
            "selector": { "matchLabels": {
                "app.kubernetes.io/part-of": "kapture",
                "app.kubernetes.io/component": "kafka-broker",
            } },
            "template": {
                "metadata": { "labels": kapture_labels("kafka-broker") },
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{ "name": "kafka", "image": "apache/kafka:4.1.0" }],
                },
            },
        },
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sts)
        .await
        .expect("creating the broker StatefulSet");
}

async fn broker_pods(client: &Client, ns: &str) -> Vec<Pod> {
    let mut pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(BROKERS))
        .await
        .expect("listing broker pods")
        .items;
    pods.sort_by_key(|p| p.name_any());
    pods
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until `n` broker pods exist (and are Ready when `ready`); returns name -> uid.
async fn wait_brokers(
    client: &Client,
    ns: &str,
    n: usize,
    ready: bool,
) -> BTreeMap<String, String> {
    wait_for(
        &format!("{n} broker pods (ready: {ready})"),
        WAIT,
        || async {
            let pods = broker_pods(client, ns).await;
            let live: Vec<&Pod> = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none() && (!ready || is_ready(p)))
                .collect();
            if live.len() == n {
                Ok(live
                    .iter()
                    .map(|p| (p.name_any(), p.uid().unwrap_or_default()))
                    .collect())
            } else {
                Err(format!("{} of {} pods match", live.len(), pods.len()))
            }
        },
    )
    .await
}

fn pdb_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("policy", "v1beta1", "PodDisruptionBudget"),
        "poddisruptionbudgets",
    )
}

/// A policy/v1beta1 PDB over the brokers; waits until the disruption controller has computed
/// `allowed` disruptions.
async fn create_pdb(client: &Client, ns: &str, name: &str, min_available: i32, allowed: i64) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &pdb_resource());
    let pdb: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy/v1beta1",
        "kind": "PodDisruptionBudget",
        "metadata": { "name": name, "labels": kapture_labels("kafka-broker") },
        "spec": {
            "minAvailable": min_available,
            "selector": { "matchLabels": { "app.kubernetes.io/component": "kafka-broker" } },
        },
    }))
    .unwrap();
    api.create(&PostParams::default(), &pdb)
        .await
        .expect("creating the PDB");
    wait_for(
        &format!("PDB {name} to allow {allowed} disruption(s)"),
        WAIT,
        || async {
            let pdb = api.get(name).await.map_err(|e| e.to_string())?;
            let status = pdb.data.get("status").cloned().unwrap_or(Value::Null);
            let observed = status["observedGeneration"].as_i64().unwrap_or(0);
            let generation = pdb.metadata.generation.unwrap_or(1);
            match status["disruptionsAllowed"].as_i64() {
                Some(a) if a == allowed && observed >= generation => Ok(()),
                _ => Err(format!("status {status}")),
            }
        },
    )
    .await;
}

fn actions(report: &Value) -> &Vec<Value> {
    report["actions"].as_array().expect("actions array")
}

#[tokio::test]
async fn delete_of_a_broker_is_replaced_and_the_recovery_is_timed() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-delete").await;
    // Containers take a second to start, so the measured recovery cannot be a fluke.
    let _kubelet = spawn_kubelet_with_delay(client.clone(), &ns, Duration::from_secs(1));
    create_brokers(&client, &ns, 2).await;
    let before = wait_brokers(&client, &ns, 2, true).await;

    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--count",
            "1",
            "--seed",
            "3",
            "--yes",
            "-o",
            "json",
            "--recovery-timeout",
            "60s",
        ],
    )
    .await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let acts = actions(&report);
    assert_eq!(acts.len(), 1, "{report:#}");
    let act = &acts[0];
    assert_eq!(act["method"], "delete");
    assert_eq!(act["outcome"], "deleted");
    assert_eq!(act["component"], "kafka-broker");
    assert_eq!(act["recovery"], "recovered", "{report:#}");
    let secs = act["recoverySeconds"].as_f64().expect("recoverySeconds");
    assert!((1.0..60.0).contains(&secs), "{secs}");
    assert_eq!(report["summary"]["recovered"], 1);
    assert_eq!(report["summary"]["notRecovered"], 0);
    assert_eq!(
        report["summary"]["worstRecoverySeconds"].as_f64(),
        Some(secs)
    );
    assert_eq!(report["seed"], 3);
    let round = &report["rounds"][0]["measurements"][0];
    assert_eq!(
        (
            round["metric"].as_str(),
            round["before"].as_f64(),
            round["after"].as_f64()
        ),
        (Some("ready"), Some(2.0), Some(2.0))
    );

    // The victim came back under its name with a new UID; the other pod was not touched.
    let victim = act["pod"].as_str().unwrap();
    let after = wait_brokers(&client, &ns, 2, true).await;
    assert_ne!(after[victim], before[victim]);
    for (name, uid) in &before {
        if name != victim {
            assert_eq!(&after[name], uid, "{name} should not have been touched");
        }
    }

    // The same seed chooses the same victim (checked without acting).
    let plan = json_of(
        &kapture(
            &kubeconfig_path(),
            &ns,
            &[
                "chaos",
                "--kill",
                "kafka",
                "--seed",
                "3",
                "--dry-run",
                "-o",
                "json",
            ],
        )
        .await,
    );
    assert_eq!(plan["victims"][0]["pod"], victim);
}

#[tokio::test]
async fn eviction_blocked_by_a_budget_with_no_allowance_deletes_nothing() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-pdb0").await;
    // Running but not Ready (failing readiness probes): the budget allows 0 disruptions. (Pending
    // pods would not do: the API server evicts those without consulting any budget.)
    create_brokers(&client, &ns, 2).await;
    let before = wait_brokers(&client, &ns, 2, false).await;
    for name in before.keys() {
        mark_pod_not_ready(&client, &ns, name).await;
    }
    create_pdb(&client, &ns, "kapture-kafka-broker", 2, 0).await;

    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos", "--kill", "kafka", "--evict", "--count", "2", "--yes", "-o", "json",
        ],
    )
    .await;
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a block is an outcome, not a failure; stderr: {}",
        stderr(&out)
    );
    let acts = actions(&report);
    assert_eq!(acts.len(), 2, "{report:#}");
    for act in acts {
        assert_eq!(act["method"], "evict");
        assert_eq!(act["outcome"], "blocked-by-pdb", "{report:#}");
        assert_eq!(act["pdb"], "kapture-kafka-broker");
        assert_eq!(act["recovery"], "not-waited");
    }
    assert_eq!(report["summary"]["blocked"], 2);
    assert_eq!(report["summary"]["removed"], 0);
    assert!(
        stderr(&out).contains("blocked by PDB kapture-kafka-broker"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        wait_brokers(&client, &ns, 2, false).await,
        before,
        "nothing may be deleted"
    );

    // --fail-on blocked turns the same outcome into a failing exit code; the table says why.
    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--evict",
            "--yes",
            "--fail-on",
            "blocked",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("blocked by PDB kapture-kafka-broker"));
    assert!(
        stderr(&out).contains("eviction(s) blocked"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn eviction_with_an_allowance_of_one_lets_one_pod_go() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-pdb1").await;
    // A replacement that is Ready within milliseconds would restore the allowance before the
    // second eviction; real containers take seconds to start.
    let _kubelet = spawn_kubelet_with_delay(client.clone(), &ns, Duration::from_secs(3));
    create_brokers(&client, &ns, 2).await;
    let before = wait_brokers(&client, &ns, 2, true).await;
    create_pdb(&client, &ns, "brokers-budget", 1, 1).await;

    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--evict",
            "--count",
            "2",
            "--yes",
            "-o",
            "json",
            "--recovery-timeout",
            "60s",
        ],
    )
    .await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let outcomes: Vec<&str> = actions(&report)
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["evicted", "blocked-by-pdb"], "{report:#}");
    let (evicted, blocked) = (&actions(&report)[0], &actions(&report)[1]);
    assert_eq!(blocked["pdb"], "brokers-budget");
    assert_eq!(evicted["recovery"], "recovered", "{report:#}");
    assert_eq!(report["summary"]["blocked"], 1);
    assert_eq!(report["summary"]["recovered"], 1);

    let after = wait_brokers(&client, &ns, 2, true).await;
    let (gone, kept) = (
        evicted["pod"].as_str().unwrap(),
        blocked["pod"].as_str().unwrap(),
    );
    assert_ne!(after[gone], before[gone], "the evicted pod was replaced");
    assert_eq!(after[kept], before[kept], "the blocked pod is untouched");
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-dry").await;
    let _kubelet = spawn_kubelet(client.clone(), &ns);
    create_brokers(&client, &ns, 2).await;
    wait_brokers(&client, &ns, 2, true).await;
    create_pdb(&client, &ns, "kapture-kafka-broker", 1, 1).await;
    let versions = |pods: Vec<Pod>| -> Vec<(String, String)> {
        pods.iter()
            .map(|p| (p.name_any(), p.resource_version().unwrap_or_default()))
            .collect()
    };
    let pdbs: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &pdb_resource());
    let pods_before = versions(broker_pods(&client, &ns).await);
    let pdb_before = pdbs
        .get("kapture-kafka-broker")
        .await
        .unwrap()
        .resource_version();

    // No --yes and no terminal: a dry run needs neither.
    for method in [&["--evict"][..], &[][..]] {
        let mut args = vec![
            "chaos",
            "--kill",
            "kafka",
            "--count",
            "2",
            "--dry-run",
            "-o",
            "json",
            "--seed",
            "5",
        ];
        args.extend_from_slice(method);
        let out = kapture(&kubeconfig_path(), &ns, &args).await;
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let plan = json_of(&out);
        let victims = plan["victims"].as_array().expect("victims");
        assert_eq!(victims.len(), 2, "{plan:#}");
        assert!(victims
            .iter()
            .all(|v| v["kapture"] == true && v["component"] == "kafka-broker"));
        assert_eq!(
            plan["method"],
            if method.is_empty() { "delete" } else { "evict" }
        );
        assert_eq!(plan["seed"], 5);
    }
    // Give a stray write time to land before comparing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(versions(broker_pods(&client, &ns).await), pods_before);
    assert_eq!(
        pdbs.get("kapture-kafka-broker")
            .await
            .unwrap()
            .resource_version(),
        pdb_before
    );
}

#[tokio::test]
async fn count_larger_than_the_pods_is_explained_and_capped() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-count").await;
    create_brokers(&client, &ns, 2).await;
    wait_brokers(&client, &ns, 2, false).await;

    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--count",
            "5",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let plan = json_of(&out);
    assert_eq!(plan["victims"].as_array().unwrap().len(), 2);
    let note = "kafka-broker: --count 5 asks for 5 pod(s) but only 2 can be disrupted (2 exist): disrupting 2";
    assert_eq!(plan["notes"][0], note, "{plan:#}");
    assert!(stderr(&out).contains(note), "{}", stderr(&out));

    // Pods younger than --minimum-age are passed over, and a run with nothing to do says so.
    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &["chaos", "--kill", "kafka", "--minimum-age", "1h", "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("younger than --minimum-age"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("error: nothing to disrupt"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn refuses_without_a_terminal_and_without_yes() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-refuse").await;
    create_brokers(&client, &ns, 1).await;
    let before = wait_brokers(&client, &ns, 1, false).await;

    let out = kapture(&kubeconfig_path(), &ns, &["chaos", "--kill", "kafka"]).await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pass --yes"), "{err}");
    assert!(
        err.contains("kapture-kafka-broker-0") && err.contains(&*ns.name),
        "names victims and namespace: {err}"
    );
    assert!(out.stdout.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(wait_brokers(&client, &ns, 1, false).await, before);
}

#[tokio::test]
async fn a_user_without_rights_gets_one_clear_line() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-nobody").await;
    let out = kapture(
        &nobody_kubeconfig_path(),
        &ns,
        &["chaos", "--kill", "kafka", "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        // The first reads (which Kafka the deployment uses, for --kill kafka) list Deployments
        // and Jobs at once: whichever is refused first is named.
        err.starts_with("error: forbidden: user \"nobody\" cannot list "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn rounds_repeat_with_fresh_victims() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-rounds").await;
    let _kubelet = spawn_kubelet(client.clone(), &ns);
    create_brokers(&client, &ns, 2).await;
    wait_brokers(&client, &ns, 2, true).await;

    let out = kapture(
        &kubeconfig_path(),
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--rounds",
            "2",
            "--interval",
            "1s",
            "--force",
            "--yes",
            "-o",
            "json",
            "--recovery-timeout",
            "60s",
        ],
    )
    .await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let acts = actions(&report);
    assert_eq!(
        acts.iter()
            .map(|a| a["round"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2],
        "{report:#}"
    );
    assert!(
        acts.iter().all(|a| a["recovery"] == "recovered"),
        "{report:#}"
    );
    assert_eq!(report["rounds"].as_array().unwrap().len(), 2);
    assert!(report["summary"]["medianRecoverySeconds"]
        .as_f64()
        .is_some());
}

#[tokio::test]
async fn ctrl_c_ends_the_wait_and_still_prints_the_report() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-ctrlc").await;
    // No kubelet stand-in: the replacement never becomes Ready, so the run waits for it.
    create_brokers(&client, &ns, 1).await;
    let before = wait_brokers(&client, &ns, 1, false).await;

    let kubeconfig = kubeconfig_path();
    let child = Command::new(env!("CARGO_BIN_EXE_kubectl-kapture"))
        .args(["--kubeconfig", &kubeconfig, "-n", &ns])
        .args([
            "chaos",
            "--kill",
            "kafka",
            "--yes",
            "-o",
            "json",
            "--recovery-timeout",
            "90s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting kubectl-kapture");
    let pid = child.id().expect("pid").to_string();
    // Once the pod was replaced, the run is waiting for recovery.
    wait_for("the broker pod to be replaced", WAIT, || async {
        let now = wait_brokers(&client, &ns, 1, false).await;
        if now != before {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the run should end soon after Ctrl-C")
        .expect("output");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(report["interrupted"], true);
    let acts = actions(&report);
    assert_eq!(acts.len(), 1, "{report:#}");
    assert_eq!(acts[0]["outcome"], "deleted");
    assert_eq!(acts[0]["recovery"], "not-waited");
    assert!(
        stderr(&out).contains("interrupted by Ctrl-C after 1 action(s)"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn grace_period_reaches_the_api_server_for_evict_and_delete() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-grace").await;
    // Pods bound to a node are deleted gracefully (the API server waits for a kubelet), so
    // their deletionGracePeriodSeconds shows what the request asked for.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for name in ["kapture-kafka-broker-0", "kapture-kafka-broker-1"] {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": name, "labels": kapture_labels("kafka-broker") },
            "spec": {
                "nodeName": "nowhere",
                "containers": [{ "name": "kafka", "image": "apache/kafka:4.1.0" }],
            },
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("creating a bound pod");
    }
    let mut graces = Vec::new();
    for (evict, grace) in [(true, "7"), (false, "9")] {
        let mut args = vec!["chaos", "--kill", "kafka", "--grace-period", grace];
        if evict {
            args.push("--evict");
        }
        args.extend(["--wait-recovery=false", "--yes", "-o", "json"]);
        let out = kapture(&kubeconfig_path(), &ns, &args).await;
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let report = json_of(&out);
        let victim = actions(&report)[0]["pod"].as_str().unwrap().to_string();
        let pod = pods
            .get(&victim)
            .await
            .expect("the victim is still terminating");
        graces.push((
            actions(&report)[0]["outcome"].as_str().unwrap().to_string(),
            pod.metadata.deletion_grace_period_seconds,
        ));
    }
    assert_eq!(
        graces,
        vec![
            ("evicted".to_string(), Some(7)),
            ("deleted".to_string(), Some(9))
        ]
    );
    // Nothing will confirm these deletions: force them so the namespace can go.
    for name in ["kapture-kafka-broker-0", "kapture-kafka-broker-1"] {
        let force = kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        pods.delete(name, &force).await.expect("force delete");
    }
}
