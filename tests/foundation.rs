//! deploy / status / delete against the real kube-apiserver + controller-manager of the bench.
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};
use support::stderr;

const SELECTOR: &str = "app.kubernetes.io/part-of=kapture";
const BIN: &str = env!("CARGO_BIN_EXE_kubectl-kapture");

/// Runs the plugin with the bench's kubeconfig, no stdin (not a terminal).
fn kapture(kubeconfig: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running kubectl-kapture")
}

fn admin(args: &[&str]) -> Output {
    kapture(&support::kubeconfig_path(), args)
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `deploy -o json --components LIST --wait=false` into `ns`, which must succeed.
fn deploy_components(ns: &str, components: &str) -> Value {
    stdout_json(&admin(&[
        "-n",
        ns,
        "deploy",
        "-o",
        "json",
        "--components",
        components,
        "--wait=false",
    ]))
}

fn outcomes(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap().to_string())
        .collect()
}

/// A small but complete deployment: every component, one controller, three brokers.
const SMALL: &[&str] = &[
    "--controllers",
    "1",
    "--brokers",
    "3",
    "--replication-factor",
    "3",
    "--wait=false",
];

async fn labelled_objects(
    client: &kube::Client,
    ns: &str,
    api_version: &str,
    kind: &str,
    plural: &str,
) -> Vec<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn deploy_is_idempotent_status_follows_readiness_and_delete_cleans_up() {
    let client = support::admin_client().await;
    let ns = support::unique_name("kapture-foundation");
    let mut args = vec!["-n", ns.as_str(), "deploy", "-o", "json"];
    args.extend_from_slice(SMALL);

    // First deploy creates the namespace and every object.
    let first = stdout_json(&admin(&args));
    assert!(!outcomes(&first).is_empty());
    assert!(outcomes(&first).iter().all(|o| o == "created"), "{first:#}");

    // Every object exists server-side with the three Kapture labels.
    for (api_version, kind, plural) in [
        ("apps/v1", "StatefulSet", "statefulsets"),
        ("apps/v1", "Deployment", "deployments"),
        ("v1", "Service", "services"),
        ("v1", "Secret", "secrets"),
        (
            "policy/v1beta1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
        ),
    ] {
        let objects = labelled_objects(&client, &ns, api_version, kind, plural).await;
        assert!(!objects.is_empty(), "no labelled {kind} in {ns}");
        for o in objects {
            let labels = o.metadata.labels.unwrap();
            assert_eq!(labels["app.kubernetes.io/managed-by"], "kubectl-kapture");
            assert!(
                labels.contains_key("app.kubernetes.io/component"),
                "{kind} without component"
            );
        }
    }
    let brokers: StatefulSet = Api::namespaced(client.clone(), &ns)
        .get("kapture-kafka-broker")
        .await
        .unwrap();
    assert_eq!(brokers.spec.as_ref().unwrap().replicas, Some(3));
    // The PDB went in as the version this 1.20 cluster serves.
    let pdbs: Vec<&Value> = first["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "PodDisruptionBudget")
        .collect();
    assert!(
        !pdbs.is_empty() && pdbs.iter().all(|p| p["api_version"] == "policy/v1beta1"),
        "{pdbs:?}"
    );
    let password = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("kapture-postgres")
        .await
        .unwrap();

    // A second deploy with the same parameters changes nothing, and says so.
    let second = stdout_json(&admin(&args));
    assert!(
        outcomes(&second)
            .iter()
            .all(|o| o == "unchanged" || o == "kept"),
        "{second:#}"
    );
    let mut table_args = args.clone();
    table_args.retain(|a| *a != "-o" && *a != "json");
    let table = admin(&table_args);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("Nothing changed"),
        "{}",
        String::from_utf8_lossy(&table.stdout)
    );
    let again = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("kapture-postgres")
        .await
        .unwrap();
    assert_eq!(
        password.data, again.data,
        "the generated password must survive a re-deploy"
    );

    // Nothing is ready yet: no kubelet. The StatefulSet controller created broker pod 0 only.
    let status = stdout_json(&admin(&["-n", &ns, "status", "-o", "json"]));
    assert_eq!(status["summary"]["deployed"], true);
    let broker_row = |s: &Value| {
        s["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "kapture-kafka-broker")
            .cloned()
            .unwrap()
    };
    assert_eq!(broker_row(&status)["ready"], 0);
    assert_eq!(broker_row(&status)["state"], "Progressing");

    // The stand-in kubelet marks pods ready; the StatefulSet controller then creates the rest.
    let kubelet = support::spawn_kubelet(client.clone(), &ns);
    support::wait_for(
        "all three broker pods ready in status",
        support::WAIT,
        || async {
            let s = stdout_json(&admin(&["-n", &ns, "status", "-o", "json"]));
            let row = broker_row(&s);
            if row["ready"] == 3 && row["state"] == "Ready" {
                Ok(())
            } else {
                Err(row.to_string())
            }
        },
    )
    .await;
    assert!(kubelet.marked() >= 3);

    // --wait returns once every workload is ready (the Job never completes without a kubelet,
    // so wait only on the parts that have pods we mark ready).
    let waited = admin(&[
        "-n",
        &ns,
        "deploy",
        "--components",
        "kafka,redis,postgres",
        "--controllers",
        "1",
        "--brokers",
        "3",
        "--wait",
        "--timeout",
        "10s",
    ]);
    let waited_err = stderr(&waited);
    assert!(
        !waited.status.success() && waited_err.contains("kafka-topics"),
        "the topic Job cannot complete without a kubelet: {waited_err}"
    );

    // Delete refuses without a terminal and without --yes (exit 2), then deletes with it.
    let refused = admin(&["-n", &ns, "delete"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"));
    let deleted = stdout_json(&admin(&[
        "-n",
        &ns,
        "delete",
        "--yes",
        "--namespace-too",
        "-o",
        "json",
        "--timeout",
        "60s",
    ]));
    assert_eq!(deleted["namespace_deleted"], true);
    // Kubernetes' own objects (the default service account, its token Secret, kube-root-ca.crt)
    // and Kapture's pods are not reported as somebody else's.
    assert_eq!(deleted["foreign"], json!([]), "{deleted:#}");
    assert!(
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none()
    );
    let absent = admin(&["-n", &ns, "status"]);
    assert_eq!(absent.status.code(), Some(1));
    assert!(
        stderr(&absent).contains("not deployed"),
        "{}",
        stderr(&absent)
    );
}

#[tokio::test]
async fn delete_leaves_no_labelled_object_and_keeps_a_foreign_namespace() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-delete").await;
    deploy_components(&ns, "redis,postgres");
    let planned = stdout_json(&admin(&["-n", &ns, "delete", "--dry-run", "-o", "json"]));
    assert!(
        planned["objects"].as_array().unwrap().len() >= 4,
        "{planned:#}"
    );
    assert!(
        !labelled_objects(&client, &ns, "apps/v1", "StatefulSet", "statefulsets")
            .await
            .is_empty(),
        "dry run deleted"
    );
    let out = admin(&[
        "-n",
        &ns,
        "delete",
        "--yes",
        "--namespace-too",
        "-o",
        "json",
    ]);
    let report = stdout_json(&out);
    assert_eq!(
        report["namespace_deleted"], false,
        "the namespace was not Kapture's"
    );
    assert!(stderr(&out).contains("Keeping namespace"));
    for (api_version, kind, plural) in [
        ("apps/v1", "StatefulSet", "statefulsets"),
        ("v1", "Service", "services"),
        ("v1", "Secret", "secrets"),
        ("v1", "Pod", "pods"),
        (
            "policy/v1beta1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
        ),
    ] {
        assert!(
            labelled_objects(&client, &ns, api_version, kind, plural)
                .await
                .is_empty(),
            "{kind} left behind"
        );
    }
}

/// The YAML documents of a client dry run, and the Postgres password its Secret carries.
fn client_dry_run(out: &Output) -> (Vec<Value>, Option<String>) {
    assert!(out.status.success(), "{}", stderr(out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let password = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "kapture-postgres")
        .map(|d| d["data"]["password"].as_str().unwrap().to_string());
    (docs, password)
}

#[tokio::test]
async fn a_client_dry_run_piped_to_apply_keeps_the_postgres_password() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-pipe").await;
    let dry = ["-n", &*ns, "deploy", "--dry-run=client", "-o", "yaml"];

    // Nothing deployed yet: a new password, and one line on stderr saying so.
    let before = admin(&dry);
    let (_, fresh) = client_dry_run(&before);
    assert!(fresh.is_some());
    let warning = stderr(&before);
    assert_eq!(
        warning.trim_end(),
        format!(
            "warning: no Secret kapture-postgres in namespace \"{}\": the output carries a new password; \
             applying it over an initialised Postgres would break logins",
            &*ns
        )
    );

    deploy_components(&ns, "postgres");
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns);
    let stored = secrets.get("kapture-postgres").await.unwrap();
    let stored_b64 = serde_json::to_value(&stored).unwrap()["data"]["password"].clone();

    // Deployed: the output carries the stored password, quietly, every time.
    let mut applied_version = None;
    for _ in 0..2 {
        let out = admin(&dry);
        let (docs, password) = client_dry_run(&out);
        assert_eq!(password.as_deref(), stored_b64.as_str());
        assert_eq!(stderr(&out), "", "no warning when the password is reused");
        // Applying the output, as kubectl apply --server-side would, leaves the password as it
        // was (the first apply records kubectl as a co-owner in managedFields; later ones write
        // nothing at all).
        let secret = docs.into_iter().find(|d| d["kind"] == "Secret").unwrap();
        let applied = secrets
            .patch(
                "kapture-postgres",
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&secret),
            )
            .await
            .unwrap();
        assert_eq!(applied.data, stored.data);
        if let Some(version) = &applied_version {
            assert_eq!(&applied.metadata.resource_version, version);
        }
        applied_version = Some(applied.metadata.resource_version);
    }

    // The table asks nothing (it shows no password), nor does a render without Postgres.
    for args in [
        vec!["-n", &*ns, "deploy", "--dry-run=client"],
        vec![
            "-n",
            &*ns,
            "deploy",
            "--dry-run=client",
            "-o",
            "yaml",
            "--components",
            "redis",
        ],
    ] {
        let out = kapture("/nonexistent/kubeconfig", &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }

    // Without the right to read Secrets: still rendered, one line naming the refusal.
    let out = kapture(&support::nobody_kubeconfig_path(), &dry);
    let (_, password) = client_dry_run(&out);
    assert!(password.is_some());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "warning: cannot read Secret kapture-postgres in namespace \"{}\" (forbidden: user \"nobody\" cannot get secrets/kapture-postgres",
            &*ns
        )),
        "{err}"
    );
    assert!(err.trim_end().ends_with("would break logins"), "{err}");
}

#[tokio::test]
async fn delete_namespace_too_names_what_is_not_kaptures_first() {
    let client = support::admin_client().await;
    // A namespace Kapture creates (so --namespace-too may delete it), then somebody's own app.
    let ns = support::TestNamespace::reserved(&support::kubeconfig_path(), "kapture-census");
    deploy_components(&ns, "redis");
    let settings: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"a": "b"}}))
            .unwrap();
    Api::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &settings)
        .await
        .unwrap();
    let web: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}
            }
        }
    }))
    .unwrap();
    Api::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &web)
        .await
        .unwrap();
    // The Deployment's ReplicaSet and pods are reported as the Deployment, once they exist.
    support::wait_for("the web pods", support::WAIT, || async {
        let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns)
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap();
        if pods.items.len() == 2 {
            Ok(())
        } else {
            Err(format!("{} pods", pods.items.len()))
        }
    })
    .await;
    let expected = json!([
        {"kind": "Deployment", "name": "web"},
        {"kind": "ConfigMap", "name": "settings"},
    ]);

    let planned = stdout_json(&admin(&[
        "-n",
        &ns,
        "delete",
        "--namespace-too",
        "--dry-run",
        "-o",
        "json",
    ]));
    assert_eq!(planned["foreign"], expected, "{planned:#}");
    assert_eq!(planned["namespace_deleted"], true);
    let table = admin(&["-n", &ns, "delete", "--namespace-too", "--dry-run"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Not Kapture's, would go with namespace")
            && text.contains("  Deployment web"),
        "{text}"
    );
    // Without --yes and a terminal: refused, and the refusal names them.
    let refused = admin(&["-n", &ns, "delete", "--namespace-too"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("also holds 2 objects Kapture did not create, deleted with it: Deployment web, ConfigMap settings.")
            && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Plain delete keeps the namespace and does not look at what else is there.
    let plain = stdout_json(&admin(&["-n", &ns, "delete", "--dry-run", "-o", "json"]));
    assert_eq!(plain["foreign"], Value::Null);

    let deleted = admin(&[
        "-n",
        &ns,
        "delete",
        "--namespace-too",
        "--yes",
        "-o",
        "json",
        "--timeout",
        "60s",
    ]);
    let report = stdout_json(&deleted);
    assert_eq!(report["foreign"], expected);
    assert!(
        stderr(&deleted).contains("note: Namespace"),
        "{}",
        stderr(&deleted)
    );
    assert!(
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn dry_runs_store_nothing() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-dry").await;
    // Client: a multi-document YAML stream that parses, without contacting the cluster at all.
    let out = kapture(
        "/nonexistent/kubeconfig",
        &["-n", &ns, "deploy", "--dry-run=client", "-o", "yaml"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert!(docs.len() > 10, "{} documents", docs.len());
    assert!(docs
        .iter()
        .all(|d| d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kapture"));
    // Server: validated by the API server, nothing stored.
    let report = stdout_json(&admin(&[
        "-n",
        &ns,
        "deploy",
        "--dry-run=server",
        "-o",
        "json",
        "--components",
        "kafka,redis",
    ]));
    assert_eq!(report["dry_run"], "server");
    assert!(outcomes(&report).iter().all(|o| o == "created"));
    assert!(
        labelled_objects(&client, &ns, "apps/v1", "StatefulSet", "statefulsets")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn foreign_objects_and_field_conflicts_are_reported() {
    let client = support::admin_client().await;
    let ns = support::TestNamespace::new(&client, "kapture-foreign").await;
    // Somebody else's Service under Kapture's name: deploy refuses, naming it, and applies nothing.
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "kapture-redis"},
        "spec": {"ports": [{"port": 6379, "protocol": "TCP"}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let out = admin(&["-n", &ns, "deploy", "--components", "redis", "--wait=false"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Service kapture-redis"),
        "{}",
        stderr(&out)
    );
    assert!(
        labelled_objects(&client, &ns, "apps/v1", "StatefulSet", "statefulsets")
            .await
            .is_empty()
    );
    Api::<Service>::namespaced(client.clone(), &ns)
        .delete("kapture-redis", &Default::default())
        .await
        .unwrap();

    // Another field manager takes .spec.replicas of the broker StatefulSet: deploy reports the
    // conflict; --force-conflicts takes the field back.
    stdout_json(&admin(&[
        "-n",
        &ns,
        "deploy",
        "-o",
        "json",
        "--components",
        "kafka",
        "--controllers",
        "1",
        "--brokers",
        "3",
        "--wait=false",
    ]));
    let patch = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 5}});
    Api::<StatefulSet>::namespaced(client.clone(), &ns)
        .patch(
            "kapture-kafka-broker",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&patch),
        )
        .await
        .unwrap();
    let conflict = admin(&[
        "-n",
        &ns,
        "deploy",
        "--components",
        "kafka",
        "--controllers",
        "1",
        "--brokers",
        "3",
        "--wait=false",
    ]);
    assert!(!conflict.status.success());
    assert!(
        stderr(&conflict).contains("--force-conflicts"),
        "{}",
        stderr(&conflict)
    );
    let forced = stdout_json(&admin(&[
        "-n",
        &ns,
        "deploy",
        "-o",
        "json",
        "--components",
        "kafka",
        "--controllers",
        "1",
        "--brokers",
        "3",
        "--wait=false",
        "--force-conflicts",
    ]));
    assert!(outcomes(&forced).contains(&"configured".to_string()));
    let sts: StatefulSet = Api::namespaced(client.clone(), &ns)
        .get("kapture-kafka-broker")
        .await
        .unwrap();
    assert_eq!(sts.spec.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn bad_credentials_contexts_and_servers_get_one_clear_line() {
    // A token without rights: forbidden, naming user, verb and resource.
    let out = kapture(
        &support::nobody_kubeconfig_path(),
        &["-n", "kapture", "status"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: forbidden: user \"nobody\" cannot list"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = admin(&["--context", "no-such-context", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-context"), "{}", stderr(&out));

    let out = kapture("/nonexistent/kubeconfig", &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/kubeconfig"));

    // A server nobody listens on.
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("kubeconfig");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\n\
         contexts:\n- name: dead\n  context: {cluster: dead, user: u}\nusers:\n- name: u\n  user: {token: x}\n",
    )
    .unwrap();
    let out = kapture(dead.to_str().unwrap(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cluster unreachable at https://127.0.0.1:1"),
        "{}",
        stderr(&out)
    );

    // Flag values that make no sense: exit 2 before any request.
    let out = admin(&[
        "deploy",
        "--brokers",
        "1",
        "--replication-factor",
        "3",
        "--wait=false",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--replication-factor 3 is larger than --brokers 1"),
        "{}",
        stderr(&out)
    );
    let out = admin(&["deploy", "--controllers", "2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn works_as_a_kubectl_plugin() {
    let Ok(kubectl) = which("kubectl") else {
        panic!("kubectl not on PATH: scripts/testbench/install.sh installs it")
    };
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(kubectl)
        .args(["kapture", "--help"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Usage: kubectl kapture"), "{help}");
    for command in ["deploy", "status", "delete", "chaos", "scale", "topics"] {
        assert!(help.contains(command), "{command} missing from help");
    }
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
