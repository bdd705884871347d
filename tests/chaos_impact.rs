//! The workload impact of `kubectl kapture chaos`, measured through the API server's pod proxy
//! of the bench's kube-apiserver 1.20.2. Each workload pod is played by a small HTTP server in
//! the test serving Prometheus text whose counters advance with time.
//!
//! The API server refuses to proxy to loopback pod IPs ("address not allowed"). The failure-path
//! tests give their pods a loopback address (a failed scrape is reported as "no data" with the
//! API server's reason; no workload, no impact). The measuring tests serve their pods on the
//! bench node's bridge address (`KAPTURE_TEST_NODE_IP`, 198.18.0.1: an address of this machine,
//! not loopback), or on `KAPTURE_TEST_POD_IP` when given. The same impact on real pods is
//! measured in `tests/node_flow.rs`.
mod support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use support::{admin_client, kubeconfig_path, wait_for, TestNamespace, WAIT};
use tokio::process::Command;

/// An address of this machine the API server will proxy to (not loopback): the bench node's
/// bridge address, unless `KAPTURE_TEST_POD_IP` names another.
fn proxyable_pod_ip() -> IpAddr {
    std::env::var("KAPTURE_TEST_POD_IP")
        .ok()
        .filter(|ip| !ip.trim().is_empty())
        .unwrap_or_else(|| support::env("NODE_IP"))
        .parse()
        .expect("the pod address is an IP address")
}

/// The pod address of the tests that run in CI: loopback, which the API server will not proxy to.
const LOOPBACK_POD_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

/// What a fake workload pod serves: counters `base + rate * seconds since start`.
#[derive(Clone)]
struct Counters {
    role: &'static str,
    produced: f64,
    consumed: f64,
    failed: f64,
    lag: Option<f64>,
}

struct Served {
    counters: Counters,
    start: Instant,
    base: f64,
}

type Shared = Arc<Mutex<Served>>;

async fn metrics(State(state): State<Shared>) -> String {
    let s = state.lock().unwrap();
    let t = s.start.elapsed().as_secs_f64();
    let c = &s.counters;
    let role = c.role;
    let mut text = format!(
        "# TYPE kapture_messages_produced_total counter\n\
         kapture_messages_produced_total{{role=\"{role}\"}} {}\n\
         kapture_messages_consumed_total{{role=\"{role}\"}} {}\n\
         kapture_messages_failed_total{{role=\"{role}\",reason=\"kafka\"}} {}\n\
         kapture_requests_rejected_total{{role=\"{role}\",reason=\"invalid\"}} 0\n",
        (s.base + c.produced * t).floor(),
        (s.base + c.consumed * t).floor(),
        (c.failed * t).floor(),
    );
    if let Some(lag) = c.lag {
        text.push_str(&format!("kapture_consumer_lag{{role=\"{role}\"}} {lag}\n"));
    }
    text
}

/// Starts a metrics server on `ip` and a random port; returns the port and its state.
async fn serve(ip: IpAddr, counters: Counters, base: f64) -> (u16, Shared) {
    let state = Arc::new(Mutex::new(Served {
        counters,
        start: Instant::now(),
        base,
    }));
    let listener = tokio::net::TcpListener::bind((ip, 0))
        .await
        .unwrap_or_else(|e| panic!("binding a metrics server on {ip}: {e}"));
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, state)
}

fn labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/part-of": "kapture",
        "app.kubernetes.io/managed-by": "kubectl-kapture",
        "app.kubernetes.io/component": component,
    })
}

fn pod_spec(port: u16) -> Value {
    json!({
        "terminationGracePeriodSeconds": 0,
        "containers": [{
            "name": "worker",
            "image": "kapture-worker:test",
            "ports": [{ "name": "metrics", "containerPort": port }],
        }],
    })
}

async fn create_statefulset(client: &Client, ns: &str, component: &str, port: u16) {
    let sts: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": format!("kapture-{component}"), "labels": labels(component) },
        "spec": {
            "replicas": 1,
            "serviceName": format!("kapture-{component}"),
            "selector": { "matchLabels": {
                "app.kubernetes.io/part-of": "kapture",
                "app.kubernetes.io/component": component,
            } },
            "template": { "metadata": { "labels": labels(component) }, "spec": pod_spec(port) },
        },
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sts)
        .await
        .unwrap_or_else(|e| panic!("creating StatefulSet {component}: {e}"));
}

async fn create_pod(client: &Client, ns: &str, component: &str, port: u16) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": format!("kapture-{component}-x"), "labels": labels(component) },
        "spec": pod_spec(port),
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("creating pod {component}: {e}"));
}

/// Plays the kubelet: marks each new pod Running and Ready with address `ip`, and restarts the
/// counters of the server named for its pod (a fresh process counts from zero).
fn spawn_kubelet(
    client: Client,
    ns: String,
    ip: IpAddr,
    servers: HashMap<String, Shared>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api = Api::<Pod>::namespaced(client, &ns);
        let mut marked = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        // Bounded: the test ends long before.
        for _ in 0..3000 {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for pod in list.items {
                    let uid = pod.uid().unwrap_or_default();
                    if pod.metadata.deletion_timestamp.is_some() || marked.contains(&uid) {
                        continue;
                    }
                    let name = pod.name_any();
                    let patch = json!({ "status": {
                        "phase": "Running",
                        "podIP": ip.to_string(),
                        "podIPs": [{ "ip": ip.to_string() }],
                        "conditions": [
                            { "type": "ContainersReady", "status": "True" },
                            { "type": "Ready", "status": "True" },
                        ],
                    }});
                    // Restart the counters before the pod can be seen Ready.
                    if !names.insert(name.clone()) {
                        if let Some(server) = servers.get(&name) {
                            let mut s = server.lock().unwrap();
                            s.start = Instant::now();
                            s.base = 0.0;
                        }
                    }
                    let patched = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await;
                    if patched.is_ok() {
                        marked.insert(uid);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

async fn wait_ready(client: &Client, ns: &str, n: usize) {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    wait_for("workload pods Ready", WAIT, || {
        let api = api.clone();
        async move {
            let pods = api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let ready = pods
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
                .count();
            if ready >= n {
                Ok(())
            } else {
                Err(format!("{ready} of {n} pods have an IP"))
            }
        }
    })
    .await;
}

async fn kapture(ns: &str, args: &[&str]) -> Output {
    let kubeconfig = kubeconfig_path();
    let mut all = vec!["--kubeconfig", &kubeconfig, "-n", ns];
    all.extend_from_slice(args);
    support::run_plugin(&all).await
}

fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status.code()
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\nstdout: {stdout}\nstderr: {stderr}"))
}

fn window<'a>(impact: &'a Value, name: &str) -> &'a Value {
    impact["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["window"] == name)
        .unwrap_or_else(|| panic!("no window {name} in {impact}"))
}

fn value(figure: &Value) -> f64 {
    figure["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no value in {figure}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impact_of_killing_the_order_service_is_measured_through_the_pod_proxy() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-impact").await;
    let ip = proxyable_pod_ip();
    // The first order-service process has been up a while (counters at 1000); its replacement
    // starts from zero, which the report must read as a restart, not a negative rate.
    let order = Counters {
        role: "order-service",
        produced: 20.0,
        consumed: 22.0,
        failed: 2.0,
        lag: None,
    };
    let router = Counters {
        role: "router",
        produced: 20.0,
        consumed: 20.0,
        failed: 0.0,
        lag: Some(42.0),
    };
    let sink = Counters {
        role: "sink-postgres",
        produced: 19.0,
        consumed: 20.0,
        failed: 0.0,
        lag: Some(7.0),
    };
    let (order_port, order_state) = serve(ip, order, 1000.0).await;
    let (router_port, _router) = serve(ip, router, 0.0).await;
    let (sink_port, _sink) = serve(ip, sink, 0.0).await;
    create_statefulset(&client, &ns, "order-service", order_port).await;
    create_pod(&client, &ns, "router", router_port).await;
    create_pod(&client, &ns, "sink-postgres", sink_port).await;
    let servers = HashMap::from([("kapture-order-service-0".to_string(), order_state)]);
    let kubelet = spawn_kubelet(client.clone(), ns.name.clone(), ip, servers);
    wait_ready(&client, &ns, 3).await;

    let out = kapture(
        &ns,
        &[
            "chaos",
            "--kill",
            "order-service",
            "--yes",
            "-o",
            "json",
            "--baseline",
            "2s",
            "--settle",
            "2s",
            "--sample-interval",
            "500ms",
        ],
    )
    .await;
    kubelet.abort();
    let report = report(&out);
    assert_eq!(report["actions"][0]["recovery"], "recovered", "{report}");
    let impact = &report["impact"];
    eprintln!("impact: {impact:#}");
    assert!(impact["samples"].as_u64().unwrap() >= 6, "{impact}");

    let before = window(impact, "before");
    // About 20/s for 2 s from counters that move in whole steps: the edges get a margin (a run
    // in CI measured 14.998/s).
    let rate = value(&before["orderServiceProducedPerSecond"]);
    assert!((13.0..=27.0).contains(&rate), "before: {rate}/s; {impact}");
    let errors = value(&before["orderServiceErrorRate"]);
    assert!((0.05..=0.13).contains(&errors), "error rate {errors}");
    let routed = value(&before["routerProducedPerSecond"]);
    assert!((13.0..=27.0).contains(&routed), "router {routed}/s");
    let sunk = value(&before["sinkPostgresConsumedPerSecond"]);
    assert!((13.0..=27.0).contains(&sunk), "sink {sunk}/s");
    assert!(
        before["sinkRedisConsumedPerSecond"]["noData"]
            .as_str()
            .unwrap()
            .contains("sink-redis: no pods"),
        "{before}"
    );

    for name in ["during", "after"] {
        let w = window(impact, name);
        if let Some(rate) = w["orderServiceProducedPerSecond"]["value"].as_f64() {
            // A counter read naively across the restart would fall by about 1000.
            assert!((0.0..=30.0).contains(&rate), "{name}: {rate}/s; {impact}");
        }
    }
    let after = value(&window(impact, "after")["orderServiceProducedPerSecond"]);
    assert!((13.0..=27.0).contains(&after), "after: {after}/s; {impact}");

    let peaks = impact["lagPeaks"].as_array().unwrap();
    let peak = |role: &str| {
        peaks
            .iter()
            .find(|p| p["role"] == role)
            .unwrap_or_else(|| panic!("no lag peak of {role}"))["peak"]["value"]
            .as_f64()
    };
    assert_eq!(peak("router"), Some(42.0));
    assert_eq!(peak("sink-postgres"), Some(7.0));
    let integrity = &impact["integrity"];
    let acknowledged = integrity["acknowledged"].as_f64().unwrap();
    let written = integrity["written"].as_f64().unwrap();
    assert!(acknowledged > 0.0 && written > 0.0, "{integrity}");
    assert!(integrity["verdict"].as_str().unwrap().len() > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scrape_is_reported_as_no_data_with_its_reason() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-impact-fail").await;
    let ip = LOOPBACK_POD_IP;
    // A port nobody listens on: bind one, then let it go.
    let closed = std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    create_pod(&client, &ns, "order-service", closed).await;
    create_pod(&client, &ns, "router", closed).await;
    let kubelet = spawn_kubelet(client.clone(), ns.name.clone(), ip, HashMap::new());
    wait_ready(&client, &ns, 2).await;

    let out = kapture(
        &ns,
        &[
            "chaos",
            "--kill",
            "router",
            "--yes",
            "-o",
            "json",
            "--wait-recovery=false",
            "--impact",
            "on",
            "--baseline",
            "1s",
            "--settle",
            "1s",
            "--sample-interval",
            "400ms",
        ],
    )
    .await;
    kubelet.abort();
    let report = report(&out);
    assert_eq!(report["actions"][0]["outcome"], "deleted", "{report}");
    let impact = &report["impact"];
    let before = window(impact, "before");
    assert!(before["orderServiceProducedPerSecond"]["value"].is_null());
    let why = before["orderServiceProducedPerSecond"]["noData"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason in {before}"));
    assert!(
        why.starts_with("order-service: scrape of kapture-order-service-x failed:"),
        "{why}"
    );
    assert!(
        impact["integrity"]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("unknown"),
        "{impact}"
    );
    // After the router was deleted (no controller), its role has no pods left.
    let after = window(impact, "after");
    let router = after["routerProducedPerSecond"]["noData"].as_str().unwrap();
    assert_eq!(router, "router: no pods", "{impact}");
}

#[tokio::test]
async fn impact_is_skipped_without_workload_pods() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-impact-none").await;
    let ip = LOOPBACK_POD_IP;
    // A Kafka broker pod only: auto finds no workload, so no baseline is waited for either.
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "kapture-kafka-broker-0", "labels": labels("kafka-broker") },
        "spec": pod_spec(9090),
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let kubelet = spawn_kubelet(client.clone(), ns.name.clone(), ip, HashMap::new());
    wait_ready(&client, &ns, 1).await;
    let started = Instant::now();
    let out = kapture(
        &ns,
        &[
            "chaos",
            "--kill",
            "kafka",
            "--yes",
            "-o",
            "json",
            "--wait-recovery=false",
            "--baseline",
            "30s",
        ],
    )
    .await;
    kubelet.abort();
    let report = report(&out);
    assert!(report["impact"].is_null(), "{report}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_baseline_prints_the_report_with_its_impact() {
    let client = admin_client().await;
    let ns = TestNamespace::new(&client, "chaos-impact-ctrlc").await;
    let ip = proxyable_pod_ip();
    let order = Counters {
        role: "order-service",
        produced: 10.0,
        consumed: 10.0,
        failed: 0.0,
        lag: None,
    };
    let (port, _order) = serve(ip, order, 0.0).await;
    create_pod(&client, &ns, "order-service", port).await;
    let kubelet = spawn_kubelet(client.clone(), ns.name.clone(), ip, HashMap::new());
    wait_ready(&client, &ns, 1).await;

    let child = Command::new(env!("CARGO_BIN_EXE_kubectl-kapture"))
        .args(["--kubeconfig", &kubeconfig_path(), "-n", &ns])
        .args([
            "chaos",
            "--kill",
            "order-service",
            "--yes",
            "-o",
            "json",
            "--baseline",
            "60s",
            "--sample-interval",
            "300ms",
        ])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting kubectl-kapture");
    let pid = child.id().expect("pid").to_string();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the run should end soon after Ctrl-C")
        .expect("output");
    kubelet.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["actions"].as_array().unwrap().len(), 0, "{report}");
    let before = window(&report["impact"], "before");
    let rate = value(&before["orderServiceProducedPerSecond"]);
    assert!((4.0..=16.0).contains(&rate), "{before}");
    // The pod was never touched.
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 1);
}
