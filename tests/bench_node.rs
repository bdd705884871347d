//! `kubectl kapture bench` on the bench's real node (Kubernetes 1.20, no metrics-server): a
//! short ramp against a deployed workload writes its report (JSON, SVG charts, HTML), and
//! leaves the load generator as it found it, so the next deploy with the same flags changes
//! nothing and one with other flags meets no conflict. Kafka is noida-db, as in
//! tests/node_flow.rs.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::Value;

use support::node;
use support::{assert_success, json_of, stderr, TestNamespace};

/// Replicas, KAPTURE_RATE and field managers of Deployment kapture-loadgen.
async fn loadgen(api: &Api<Deployment>) -> (i32, String, Vec<String>) {
    let d = api
        .get("kapture-loadgen")
        .await
        .expect("Deployment kapture-loadgen");
    let spec = d.spec.expect("a spec");
    let rate = spec.template.spec.expect("a pod spec").containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == "KAPTURE_RATE")
        .and_then(|e| e.value)
        .expect("KAPTURE_RATE");
    let managers = d
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            format!(
                "{} {}",
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default()
            )
        })
        .collect();
    (spec.replicas.unwrap_or(1), rate, managers)
}

/// The data series of an SVG chart (polylines in a colour; axes and dashes are black) with
/// their number of points.
fn series(svg_file: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(svg_file).expect("the chart");
    let doc = roxmltree::Document::parse(&text).expect("the chart is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") != Some("#000000"))
        .map(|n| {
            n.attribute("points")
                .unwrap_or_default()
                .split_whitespace()
                .count()
        })
        .collect()
}

/// How many steps have a value at `pointer` (what a chart can plot).
fn with_figure(steps: &[Value], pointer: &str) -> usize {
    steps
        .iter()
        .filter(|s| s.pointer(pointer).is_some_and(Value::is_number))
        .count()
}

#[tokio::test]
async fn a_short_bench_reports_and_leaves_the_load_generator_as_it_was() {
    let client = node::client().await;
    let kafka = node::namespace(&client, "bench-kafka").await;
    let bootstrap = node::deploy_noida(&client, &kafka, node::Noida::Kafka).await;
    let ns = TestNamespace::reserved(&node::kubeconfig_path(), "bench");
    let kubeconfig = node::kubeconfig_path();
    let kapture = |args: Vec<String>, within: u64| {
        let mut all = vec![
            "--kubeconfig".to_string(),
            kubeconfig.clone(),
            "-n".into(),
            ns.name.clone(),
        ];
        all.extend(args);
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            support::run_plugin_within(&all, Duration::from_secs(within)).await
        }
    };
    let deploy = |rate: &str, extra: &[&str]| {
        let mut args: Vec<String> = [
            "deploy",
            "--kafka-bootstrap",
            &bootstrap,
            "--replication-factor",
            "1",
            "--partitions",
            "3",
            "--rate",
            rate,
            "--wait=true",
            "--timeout",
            "4m",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(node::set_image_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        kapture(args, 300)
    };
    let out: Output = deploy("40", &[]).await;
    assert_success(&out, "deploy");
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns.name);
    let before = loadgen(&deployments).await;
    assert_eq!((before.0, before.1.as_str()), (1, "40"));

    // Both knobs: the generators (scale subresource) and their rate (a rollout).
    let report_dir = tempfile::tempdir().unwrap();
    let dir = report_dir.path().join("monday");
    let started = Instant::now();
    let args = [
        "bench",
        "--rate",
        "30",
        "--rate-step",
        "10",
        "--load-generators",
        "1",
        "--generators-step",
        "1",
        "--steps",
        "3",
        "--step-duration",
        "5s",
        "--warm-up",
        "2s",
        "--sample-interval",
        "1s",
        "--rollout-timeout",
        "2m",
        "--label",
        "monday",
        "--report",
        dir.to_str().unwrap(),
        "-o",
        "json",
    ];
    let out = kapture(args.iter().map(|s| s.to_string()).collect(), 600).await;
    eprintln!("bench of 3 steps: {:?}", started.elapsed());
    assert_success(&out, "bench");
    let report = json_of(&out);
    let steps = report["steps"].as_array().expect("steps").clone();
    assert_eq!(steps.len(), 3, "{report:#}");
    let loads: Vec<(u64, u64)> = steps
        .iter()
        .map(|s| {
            (
                s["generators"].as_u64().unwrap(),
                s["ratePerGenerator"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(loads, [(1, 30), (2, 40), (3, 50)]);
    for step in &steps {
        assert!(step["samples"].as_array().unwrap().len() >= 5, "{step:#}");
        assert!(
            step["acknowledgedPerSecond"]
                .as_f64()
                .is_some_and(|a| a > 0.0),
            "{step:#}"
        );
        assert!(step["latency"]["p99Seconds"].as_f64().is_some(), "{step:#}");
        assert!(step["resources"].as_array().unwrap().is_empty());
    }
    assert_eq!(report["cluster"]["version"], "v1.20.2");
    assert_eq!(report["cluster"]["nodeCount"], 1);
    assert!(report["cluster"]["allocatableCpuCores"]
        .as_f64()
        .is_some_and(|c| c > 0.0));
    assert!(report["kaptureVersion"].is_string());
    assert_eq!(report["restored"], true);
    assert_eq!(report["interrupted"], false);
    let notes = report["notes"].to_string();
    assert!(notes.contains("does not serve metrics.k8s.io"), "{notes}");
    assert!(stderr(&out).contains("note: CPU/memory: the cluster does not serve metrics.k8s.io"));
    assert!(
        stderr(&out).contains("step 3/3"),
        "one line per step: {}",
        stderr(&out)
    );

    // The report directory: the same report, three charts with a point per step, the page.
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    assert_eq!(saved, report);
    let acknowledged = with_figure(&steps, "/acknowledgedPerSecond");
    assert_eq!(series(&dir.join("throughput.svg")), [3, acknowledged]);
    let p99 = with_figure(&steps, "/latency/p99Seconds");
    assert_eq!(
        series(&dir.join("latency.svg")),
        [with_figure(&steps, "/latency/p50Seconds"), p99]
    );
    let lag = series(&dir.join("lag.svg"));
    assert_eq!(lag.len(), 3, "router, sink-postgres, sink-redis: {lag:?}");
    assert!(lag.iter().all(|points| *points == 3), "{lag:?}");
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for chart in ["throughput.svg", "latency.svg", "lag.svg"] {
        assert!(page.contains(&format!("<img src=\"{chart}\"")), "{page}");
    }
    assert!(!page.contains("<script"));
    assert!(
        page.matches("<tr>").count() >= 4,
        "a header and three steps: {page}"
    );

    // As it was: replicas, rate, and no field manager of the bench's left behind.
    let after = loadgen(&deployments).await;
    assert_eq!((after.0, &after.1), (before.0, &before.1));
    assert!(
        after
            .2
            .iter()
            .all(|m| !m.starts_with("kubectl-kapture-bench")),
        "{:?}",
        after.2
    );
    let again = deploy("40", &[]).await;
    assert_success(&again, "deploy after the bench");
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("Nothing changed"), "{text}");
    // Deploy still owns the two fields: other values apply without a conflict.
    let other = deploy("45", &["--load-generators", "2"]).await;
    assert_success(&other, "deploy with other values after the bench");
    assert_eq!(
        loadgen(&deployments).await.1,
        "45",
        "{}",
        String::from_utf8_lossy(&other.stdout)
    );

    // A run compared with itself changes nothing.
    let compared = report_dir.path().join("compared");
    let plot = report_dir.path().join("overlay.svg");
    let out = kapture(
        [
            "bench",
            "compare",
            dir.to_str().unwrap(),
            dir.join("bench.json").to_str().unwrap(),
            "--report",
            compared.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
            "--fail-on-regression",
            "0",
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        60,
    )
    .await;
    assert_success(&out, "bench compare");
    let comparison = json_of(&out);
    assert_eq!(comparison["runs"][0]["label"], "monday");
    if comparison["runs"][0]["sustainablePerSecond"].is_number() {
        assert_eq!(comparison["runs"][1]["sustainableChangePercent"], 0.0);
    }
    assert_eq!(series(&plot), [acknowledged, acknowledged]);
    assert!(compared.join("index.html").exists() && compared.join("latency.svg").exists());
}
